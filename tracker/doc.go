// Package tracker keeps one record per call (numbers, labels, state, timestamps, last SIP
// response, and who ended it), answers lookups and filtered listings over them, and keeps
// the hourly aggregates the SIP-response report is built from. It does not place or end
// calls, and knows nothing of SIP or gRPC; the records it gets are final only once they say
// the call ended.
//
// A Store holds the records: Memory for a single instance, Redis to share them between
// instances and keep them across restarts, and Buffered in front of either to keep the
// updates of live calls while the store is unreachable. Each call is counted into its
// (gateway, hour) bucket once, the first time its record says it ended.
//
// Keys in Redis. A call's record is under the call's own hash tag, everything of a gateway
// under the gateway's, so that each script touches one Cluster slot:
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
//
// and two keys that span every slot, each a single key in one slot of a Cluster:
//
//	calls:all                  sorted set like calls:{g:GATEWAY}, over every gateway
//	report:gateways            set: every gateway with buckets
//
// The indexes have no TTL: entries of calls created more than the retention ago are
// trimmed from calls:* as calls are created, and hours from report:{g:GATEWAY}:hours as
// calls are counted.
//
// No Redis command spans two slots, so a call's end is written in two steps: its record
// (one script, which also fixes its bucket the first time it ends) and then its count (one
// script on the gateway's slot, which adds the counters only if the call's ID is new to the
// bucket's set of counted IDs). Each step is atomic and idempotent, so retrying an Update
// after any failure, or writing the ended record again, counts the call exactly once.
package tracker
