// Package tracker keeps one record per call (numbers, labels, state, timestamps, last SIP
// response, and who ended it), answers lookups and filtered listings over them, and keeps
// the hourly aggregates the SIP-response report is built from. It does not place or end
// calls, and knows nothing of SIP or gRPC; the records it gets are final only once they say
// the call ended.
//
// A Store holds the records: Memory for a single instance, Redis to share them between
// instances and keep them across restarts, and Buffered in front of either to keep the
// updates of live calls while the store is unreachable. Each call is counted into its
// (gateway, hour) bucket once, the first time its record says it ended, and into a
// (gateway, hour, "k=v") bucket for each configured report label key k it carries.
//
// Keys in Redis. A call's record is under the call's own hash tag, everything of a gateway
// under the gateway's and of an instance under the instance's, so that each script touches
// one Cluster slot:
//
//	call:{ID}                  hash, TTL = retention after the last write:
//	                             r  = the record (JSON, see storedCall)
//	                             e  = "1" once the record says the call ended
//	                             bg, bh = the bucket (gateway, hour) it was counted in
//	callreq:{REQUEST_ID}       string: the call ID that claimed the request id; TTL = retention
//	calls:{g:GATEWAY}          sorted set, all scores 0, members "<created Unix ns, 19 digits>:<ID>":
//	                             the gateway's calls in creation order, read by ZREVRANGEBYLEX
//	report:{g:GATEWAY}:HOUR    hash: counter → sum, for the hour starting at Unix second HOUR;
//	                             TTL = retention after the last increment
//	report:{g:GATEWAY}:HOUR:ids  set: the call IDs counted in that hour (the exactly-once check)
//	report:{g:GATEWAY}:hours   sorted set: the HOURs of the gateway's buckets, score = HOUR
//	report:{g:GATEWAY}:HOUR:L:K=V  hash like report:{g:GATEWAY}:HOUR, of the calls with label
//	                             K = V (K a RedisConfig.ReportLabels key); same TTL; guarded by
//	                             the plain bucket's :ids set
//	report:{g:GATEWAY}:hours:L:K=V  sorted set like report:{g:GATEWAY}:hours, of the K=V
//	                             buckets; TTL = retention after the last count
//	instance:{i:INSTANCE}      string: the instance's heartbeat, TTL = 3 × RunOwnership's interval
//	calls:live:{i:INSTANCE}    set: the IDs of the calls the instance created and has not ended
//	events:{ID}                stream: the call's events for every instance (EventStreams),
//	                             entry 0-SEQ = event SEQ, the first naming the instance
//	                             that appended it (the owner); published on the channel
//	                             events:{ID}
//	cmd:{i:INSTANCE}           stream: commands to the instance (Commands), MAXLEN ~
//
// and three keys that span every slot, each a single key in one slot of a Cluster:
//
//	calls:all                  sorted set like calls:{g:GATEWAY}, over every gateway
//	report:gateways            set: every gateway with buckets
//	instances                  set: the instances that may own calls (RedisConfig.Instance)
//
// The indexes but :hours:L:K=V have no TTL: entries of calls created more than the retention ago are
// trimmed from calls:* as calls are created, and hours from report:{g:GATEWAY}:hours (and
// :hours:L:K=V) as calls are counted. The label is the last part of its keys, after ":L:",
// and K holds no '=' (label keys are letters, digits, '_', '-', '.'), so a V holding ':' or
// '=' (up to 256 bytes, no control characters) is stored as is and the keys stay
// unambiguous; Bucket.Label is the same "K=V".
//
// No Redis command spans two slots, so a call's end is written in two steps: its record
// (one script, which also fixes its bucket the first time it ends) and then its count (one
// script on the gateway's slot, which adds the counters to the bucket and its label
// buckets only if the call's ID is new to the bucket's set of counted IDs). Each step is
// atomic and idempotent, so retrying an Update after any failure, or writing the ended
// record again, counts the call exactly once.
//
// Ownership. With RedisConfig.Instance, the calls a process creates are its own until they
// end, so that those a crash leaves unfinished are ended by another instance (RecoverLost)
// rather than left live. The steps are ordered so that a crash between any two can leave an
// ID in a live set whose record is ended or missing, which recovery settles, but never a
// record not ended whose ID is in no live set:
//
//   - Create: the instance is registered (its heartbeat and its entry in instances) before
//     the first call's ID is added to its live set, and an ID is added before the call's
//     record is written (on one node, in the same pipeline, which the node runs in order;
//     in a Cluster, in a round trip before). Every heartbeat adds the entry again, in case a survivor removed it
//     while the instance was only slow.
//   - Update: an ended record is written, then counted, then its ID leaves the live set.
//   - RecoverLost, on an instance in instances whose heartbeat is gone: a call whose record is
//     not ended is ended (KILL / LOST) through Update's path; one already ended is counted
//     again (idempotent, for an owner that stopped before counting); either then, or a
//     missing record, leaves the set. The set is deleted only in a script that finds it empty
//     and the heartbeat still gone, and only then is the instance removed from instances.
//
// Recovery writes its end only over a record not ended yet, so it never replaces an end
// written by the owner (alive after all) or by another survivor; the call is counted once,
// by whichever end was written first. An instance is taken for dead when its heartbeat
// lapses, so one cut off from Redis for longer than the heartbeat's TTL loses its calls.
package tracker
