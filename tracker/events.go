package tracker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// The events of a call are in one stream under the call's hash tag, like its record, so
// that the append script touches one Cluster slot:
//
//	events:{ID}   entry 0-SEQ is event SEQ (from 1, no gap), fields p = payload,
//	                l = "1" on the last event, o = the owner on the first (the instance
//	                that appended it); TTL EventsConfig.MaxAge after each append, then
//	                EventsConfig.Retention once the last event is in
//
// and every event appended is published on the channel events:{ID} as "SEQ:L:PAYLOAD", L =
// 1 for the last event.
func eventsKey(id string) string { return "events:{" + id + "}" }

// eventsChannel is named like the stream, to be read the same in redis-cli.
func eventsChannel(id string) string { return eventsKey(id) }

// callOfChannel is the call ID of an events channel.
func callOfChannel(ch string) (string, bool) {
	id, ok := strings.CutPrefix(ch, "events:{")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(id, "}")
}

// appendScript appends the events of one or more calls. KEYS = {stream of each call};
// ARGV = {live TTL ms, ended TTL ms, then for each call: its channel, its owner, its number
// of events, then seq, last 0|1, payload of each}. For each call it adds and publishes, in
// order, the events after the stream's last, skipping those already in (a retry), and
// answers {0, last seq}, or {1, last seq} at an event that would leave a gap, {2, last seq}
// at one after the last event (having added those before it): the answer is these pairs, a
// call after the other. Adding and publishing in one script makes each message leave the
// stream's node after its entry is written, in the stream's order. The entries are 0-1 …
// 0-n without a gap, so XLEN is the last sequence; once the last event is in, XSETID moves
// the stream's top ID past every 0-SEQ, so that Redis itself refuses any later XADD. One
// script serves every call of a batch where the keys allow (one node). What Redis spends is
// mostly per command, a few microseconds each: hence the owner in the first entry rather
// than a key of its own, and no command per event beyond its XADD and PUBLISH.
const appendScript = `
local out, a = {}, 3
for k = 1, #KEYS do
  local key, channel, owner = KEYS[k], ARGV[a], ARGV[a+1]
  local first, stop = a + 3, a + 3 + 3 * tonumber(ARGV[a+2])
  a = stop
  local seq = redis.call('XLEN', key)
  local refused, added, ended = 0, false, false
  for i = first, stop - 1, 3 do
    local s = tonumber(ARGV[i])
    if s > seq then
      if s ~= seq + 1 then refused = 1 break end
      local fields = {'p', ARGV[i+2]}
      if ARGV[i+1] == '1' then table.insert(fields, 'l') table.insert(fields, '1') end
      if s == 1 then table.insert(fields, 'o') table.insert(fields, owner) end
      local r = redis.pcall('XADD', key, '0-' .. ARGV[i], unpack(fields))
      if type(r) == 'table' and r.err then
        if string.find(r.err, 'smaller') then refused = 2 break end
        return redis.error_reply(r.err)
      end
      redis.call('PUBLISH', channel, ARGV[i] .. ':' .. ARGV[i+1] .. ':' .. ARGV[i+2])
      seq, ended, added = s, ARGV[i+1] == '1', true
      if ended then redis.call('XSETID', key, '1-0') end
    end
  end
  if added then
    local ttl = ARGV[1]
    if ended then ttl = ARGV[2] end
    redis.call('PEXPIRE', key, ttl)
  end
  table.insert(out, refused)
  table.insert(out, seq)
end
return out
`

var (
	// ErrEventOrder is returned by Append for an event that would leave a gap in its call's
	// stream or follow the call's last event, and for events not given in order.
	ErrEventOrder = errors.New("tracker: event out of order")
	// ErrSequenceAhead is returned by a StreamWatch whose start is beyond the last event of
	// a call that has ended: no event will ever come after it.
	ErrSequenceAhead = errors.New("tracker: sequence beyond the call's last event")
)

// Defaults of EventsConfig.
const (
	DefaultEventMaxAge    = 24 * time.Hour
	DefaultEventRetention = 10 * time.Minute
	DefaultEventResync    = 5 * time.Second
)

// EventsConfig configures EventStreams. The zero value of every field is its default.
type EventsConfig struct {
	// MaxAge is how long a call's events are kept after its latest append until its last
	// event is in: it bounds the stream of a call whose owner died mid-call. Default 24 h.
	MaxAge time.Duration
	// Retention is how long a call's events stay watchable after its last event was
	// appended. Default 10 minutes.
	Retention time.Duration
	// Resync is how often a watch that waits reads its stream even without a notification,
	// for one lost where nothing tells (Run not running, a broken link between Cluster
	// nodes). Default 5 s.
	Resync time.Duration
	// Logger receives the failures of the subscription (Warn) and its return (Info).
	// Default: discard.
	Logger *slog.Logger
}

// Validate reports a negative duration.
func (c EventsConfig) Validate() error {
	if c.MaxAge < 0 || c.Retention < 0 || c.Resync < 0 {
		return fmt.Errorf("tracker: event max age %v, retention %v, resync %v: none may be negative",
			c.MaxAge, c.Retention, c.Resync)
	}
	return nil
}

// StreamEvent is one event of a call's stream.
type StreamEvent struct {
	// Seq numbers the call's events from 1, without gaps.
	Seq uint64
	// Payload is the event, opaque to the tracker. Events handed out share it: it must not
	// be modified.
	Payload []byte
	// Last marks the call's last event: none follows it.
	Last bool
}

// CallEvents are events of one call to append, in order.
type CallEvents struct {
	CallID string
	// Owner is the instance that owns the call, recorded with its first event.
	Owner  string
	Events []StreamEvent
}

// EventStreams keeps each call's events in Redis, for any instance to replay and follow
// (Watch). One instance, the call's owner, appends them. Live events reach the watches of
// an instance through one subscription, which Run holds: classic PUBLISH and SUBSCRIBE,
// which a Cluster delivers from any node to any node, so one connection serves every call
// whatever its slot, and survives resharding. Sharded pub/sub (SPUBLISH) would keep each
// message on its shard but need a connection to every shard, following slot moves; call
// events are few (tens per call) and small, so the broadcast costs less than that. It is
// safe for concurrent use.
type EventStreams struct {
	c         redis.UniversalClient
	log       *slog.Logger
	maxAge    string // ms, the script's argument
	retention string // ms, the script's argument
	resync    time.Duration
	append    *redis.Script
	oneNode   bool // see onOneNode
	running   atomic.Bool

	// subMu orders the subscription's changes: a channel's SUBSCRIBE and UNSUBSCRIBE are
	// sent in the order its watches come and go.
	subMu sync.Mutex
	ps    *redis.PubSub // guarded by subMu; nil while Run holds no subscription

	mu      sync.Mutex
	watches map[string]map[*StreamWatch]struct{} // by call ID; guarded by mu
}

// NewEventStreams returns the event streams on c. The caller keeps ownership of c.
func NewEventStreams(cfg EventsConfig, c redis.UniversalClient) (*EventStreams, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &EventStreams{
		c:         c,
		log:       log.With("component", "tracker"),
		maxAge:    strconv.FormatInt(cmp.Or(cfg.MaxAge, DefaultEventMaxAge).Milliseconds(), 10),
		retention: strconv.FormatInt(cmp.Or(cfg.Retention, DefaultEventRetention).Milliseconds(), 10),
		resync:    cmp.Or(cfg.Resync, DefaultEventResync),
		append:    redis.NewScript(appendScript),
		oneNode:   onOneNode(c),
		watches:   make(map[string]map[*StreamWatch]struct{}),
	}, nil
}

// Append appends evs to the stream of call id, owned by instance owner. See AppendMany.
func (s *EventStreams) Append(ctx context.Context, id, owner string, evs ...StreamEvent) error {
	return s.AppendMany(ctx, []CallEvents{{CallID: id, Owner: owner, Events: evs}})[0]
}

// AppendMany appends the events of several calls in one round trip per node; errs[i] is
// calls[i]'s. Each call's events go after the last in its stream, in order, and are
// published to its watchers; an event whose sequence is already in the stream is taken as
// a retry and skipped (its payload unchecked), so appending again after an error is safe.
// An event that would leave a gap or follow the last event is refused with ErrEventOrder,
// as are events not in increasing order; those before it are appended. The first append of
// a call records its owner. The stream expires EventsConfig.MaxAge after its latest append,
// or Retention after its last event. On one node, one script appends every call's events;
// in a Cluster, whose scripts must keep to one slot, one script per call.
func (s *EventStreams) AppendMany(ctx context.Context, calls []CallEvents) []error {
	errs := make([]error, len(calls))
	var runs []scriptRun
	var of [][]int // indexes in calls of each run's calls
	for i, ce := range calls {
		args, err := appendArgs(ce)
		if err != nil {
			errs[i] = err
			continue
		}
		if len(runs) == 0 || !s.oneNode {
			runs = append(runs, scriptRun{args: []any{s.maxAge, s.retention}})
			of = append(of, nil)
		}
		r := &runs[len(runs)-1]
		r.keys = append(r.keys, eventsKey(ce.CallID))
		r.args = append(r.args, args...)
		of[len(of)-1] = append(of[len(of)-1], i)
	}
	for k, cmd := range runScripts(ctx, s.c, s.append, runs, nil, nil) {
		res, err := cmd.Int64Slice()
		if err == nil && len(res) != 2*len(of[k]) {
			err = fmt.Errorf("script answered %v", res)
		}
		for j, i := range of[k] {
			if err != nil {
				errs[i] = fmt.Errorf("tracker: append events of call %s: %w", calls[i].CallID, err)
				continue
			}
			errs[i] = appendResult(calls[i].CallID, res[2*j], res[2*j+1])
		}
	}
	return errs
}

// appendArgs are the append script's arguments for ce's call, which it checks.
func appendArgs(ce CallEvents) ([]any, error) {
	if ce.CallID == "" || ce.Owner == "" {
		return nil, fmt.Errorf("tracker: append events of call %q: no call ID or owner (%q)", ce.CallID, ce.Owner)
	}
	args := make([]any, 0, 3+3*len(ce.Events))
	args = append(args, eventsChannel(ce.CallID), ce.Owner, len(ce.Events))
	prev := StreamEvent{}
	for _, ev := range ce.Events {
		if ev.Seq <= prev.Seq || prev.Last {
			return nil, fmt.Errorf("tracker: append events of call %s: %w: %d after %d (last %v)",
				ce.CallID, ErrEventOrder, ev.Seq, prev.Seq, prev.Last)
		}
		last := 0 // sent as "0" or "1"
		if ev.Last {
			last = 1
		}
		// Integers below 256 go into an interface without an allocation.
		args = append(args, ev.Seq, last, ev.Payload)
		prev = ev
	}
	return args, nil
}

// appendResult reads the append script's answer for call id: refused and its last seq.
func appendResult(id string, refused, seq int64) error {
	switch refused {
	case 1:
		return fmt.Errorf("tracker: append events of call %s: %w: a gap after event %d", id, ErrEventOrder, seq)
	case 2:
		return fmt.Errorf("tracker: append events of call %s: %w: event %d was the last", id, ErrEventOrder, seq)
	}
	return nil
}

// Range returns the events of call id after sequence after, at most count of them (all
// for count <= 0); none for an unknown call.
func (s *EventStreams) Range(ctx context.Context, id string, after uint64, count int64) ([]StreamEvent, error) {
	var msgs []redis.XMessage
	var err error
	if count > 0 {
		msgs, err = s.c.XRangeN(ctx, eventsKey(id), afterID(after), "+", count).Result()
	} else {
		msgs, err = s.c.XRange(ctx, eventsKey(id), afterID(after), "+").Result()
	}
	if err != nil {
		return nil, fmt.Errorf("tracker: events of call %s: %w", id, err)
	}
	return decodeEvents(id, msgs)
}

// Owner returns the instance that owns call id, as its first event recorded it, or
// ErrNotFound if the call has no events (yet, or any more).
func (s *EventStreams) Owner(ctx context.Context, id string) (string, error) {
	first, err := s.c.XRangeN(ctx, eventsKey(id), "0-1", "0-1", 1).Result()
	if err != nil {
		return "", fmt.Errorf("tracker: owner of call %s: %w", id, err)
	}
	if len(first) == 0 {
		return "", fmt.Errorf("tracker: owner of call %s: %w", id, ErrNotFound)
	}
	owner, ok := first[0].Values["o"].(string)
	if !ok {
		return "", fmt.Errorf("tracker: owner of call %s: its first event names none", id)
	}
	return owner, nil
}

// read returns up to count events of call id after sequence after, and the stream's
// last event (nil if there is no stream), in one round trip.
func (s *EventStreams) read(ctx context.Context, id string, after uint64, count int64) ([]StreamEvent, *StreamEvent, error) {
	var from, top *redis.XMessageSliceCmd
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		from = p.XRangeN(ctx, eventsKey(id), afterID(after), "+", count)
		top = p.XRevRangeN(ctx, eventsKey(id), "+", "-", 1)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("tracker: events of call %s: %w", id, err)
	}
	evs, err := decodeEvents(id, from.Val())
	if err != nil || len(top.Val()) == 0 {
		return evs, nil, err
	}
	last, err := decodeEvents(id, top.Val())
	if err != nil {
		return nil, nil, err
	}
	return evs, &last[0], nil
}

// afterID is the XRANGE start of the entries after sequence seq.
func afterID(seq uint64) string { return "(0-" + strconv.FormatUint(seq, 10) }

func decodeEvents(id string, msgs []redis.XMessage) ([]StreamEvent, error) {
	evs := make([]StreamEvent, len(msgs))
	for i, m := range msgs {
		seq, ok := strings.CutPrefix(m.ID, "0-")
		n, err := strconv.ParseUint(seq, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("tracker: events of call %s: entry %s is not 0-SEQ", id, m.ID)
		}
		p, _ := m.Values["p"].(string)
		_, last := m.Values["l"]
		evs[i] = StreamEvent{Seq: n, Payload: []byte(p), Last: last}
	}
	return evs, nil
}

// decodeMessage reads a published "SEQ:L:PAYLOAD".
func decodeMessage(msg string) (StreamEvent, bool) {
	seq, rest, ok := strings.Cut(msg, ":")
	last, p, ok2 := strings.Cut(rest, ":")
	n, err := strconv.ParseUint(seq, 10, 64)
	if !ok || !ok2 || err != nil || n == 0 {
		return StreamEvent{}, false
	}
	return StreamEvent{Seq: n, Payload: []byte(p), Last: last == "1"}, true
}
