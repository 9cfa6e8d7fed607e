package tracker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony/internal/testenv"
)

// onBackends runs test on a standalone redis-server and on a 3-node Redis Cluster, in
// parallel, each of its own.
func onBackends(t *testing.T, test func(t *testing.T, c redis.UniversalClient)) {
	t.Run("standalone", func(t *testing.T) {
		t.Parallel()
		test(t, newClient(t, testenv.StartRedis(t)))
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: testenv.StartRedisCluster(t, 3), DisableIdentity: true,
			DialTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
		t.Cleanup(func() { _ = c.Close() })
		test(t, c)
	})
}

// forEachNode runs f on each master: c itself, or each master of a Cluster.
func forEachNode(ctx context.Context, c redis.UniversalClient, f func(*redis.Client) error) error {
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(_ context.Context, n *redis.Client) error { return f(n) })
	}
	return f(c.(*redis.Client))
}

// newEventStreams returns event streams on c, with their Run going until the test ends.
func newEventStreams(t *testing.T, c redis.UniversalClient, cfg EventsConfig) *EventStreams {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	s, err := NewEventStreams(cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return s
}

// event is event seq of the tests' calls; its payload holds the separators of the
// notifications and a zero byte, which must come through as they are.
func event(seq, last int) StreamEvent {
	return StreamEvent{Seq: uint64(seq), Payload: fmt.Appendf(nil, "ev:%d\x00:x", seq), Last: seq == last}
}

// events are the events from..to of a call whose last event is last.
func events(from, to, last int) []StreamEvent {
	var evs []StreamEvent
	for seq := from; seq <= to; seq++ {
		evs = append(evs, event(seq, last))
	}
	return evs
}

func mustAppend(t *testing.T, s *EventStreams, id string, evs ...StreamEvent) {
	t.Helper()
	if err := s.Append(t.Context(), id, "A", evs...); err != nil {
		t.Fatalf("Append(%s, %d events): %v", id, len(evs), err)
	}
}

func mustWatch(t *testing.T, s *EventStreams, id string, after uint64) *StreamWatch {
	t.Helper()
	w, err := s.Watch(t.Context(), id, after)
	if err != nil {
		t.Fatalf("Watch(%s, %d): %v", id, after, err)
	}
	t.Cleanup(w.Close)
	return w
}

// collect returns what w delivers until io.EOF, failing the test on any other error or
// after testenv.WaitFor.
func collect(t *testing.T, w *StreamWatch) []StreamEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testenv.WaitFor)
	defer cancel()
	var got []StreamEvent
	for {
		ev, err := w.Next(ctx)
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("Next after %d events: %v", len(got), err)
		}
		got = append(got, ev)
	}
}

// appendEach appends evs one Append at a time on a goroutine, as an owner does while its
// call goes on, and returns a wait for it to end with its error; the test waits for it
// too, whatever happens.
func appendEach(t *testing.T, s *EventStreams, id string, evs []StreamEvent) (wait func() error) {
	var wg sync.WaitGroup
	var err error
	wg.Go(func() {
		for _, ev := range evs {
			if err = s.Append(context.Background(), id, "A", ev); err != nil {
				return
			}
		}
	})
	t.Cleanup(wg.Wait)
	return func() error { wg.Wait(); return err }
}

func checkEvents(t *testing.T, what string, got, want []StreamEvent) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

func TestEventStreams(t *testing.T) {
	onBackends(t, func(t *testing.T, c redis.UniversalClient) {
		t.Run("append, range, owner and expiry", func(t *testing.T) { t.Parallel(); testEventsAppend(t, c) })
		t.Run("appends out of order", func(t *testing.T) { t.Parallel(); testEventsOrder(t, c) })
		t.Run("watch from the start", func(t *testing.T) { t.Parallel(); testWatchLive(t, c, 0) })
		t.Run("watch from mid-call", func(t *testing.T) { t.Parallel(); testWatchLive(t, c, 5) })
		t.Run("watchers come and go", func(t *testing.T) { t.Parallel(); testWatchersComeAndGo(t, c) })
		t.Run("missed notifications", func(t *testing.T) { t.Parallel(); testWatchMissed(t, c) })
		t.Run("subscription killed", func(t *testing.T) { t.Parallel(); testWatchResubscribes(t, c) })
		t.Run("watch at or past the end", func(t *testing.T) { t.Parallel(); testWatchEnds(t, c) })
	})
}

func testEventsAppend(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	const maxAge, retention = time.Hour, 2 * time.Minute
	s := newEventStreams(t, c, EventsConfig{MaxAge: maxAge, Retention: retention})
	checkTTL := func(id string, want time.Duration) {
		t.Helper()
		if got := c.PTTL(ctx, eventsKey(id)).Val(); got <= want-time.Minute || got > want {
			t.Errorf("TTL of %s: got %v, want %v", eventsKey(id), got, want)
		}
	}

	mustAppend(t, s, "a1", events(1, 3, 4)...)
	checkTTL("a1", maxAge)
	// Another instance's append keeps the owner; a retry of what is in adds nothing.
	if err := s.Append(ctx, "a1", "B", events(2, 4, 4)...); err != nil {
		t.Fatal(err)
	}
	checkTTL("a1", retention)
	mustAppend(t, s, "a1", events(1, 4, 4)...)
	got, err := s.Range(ctx, "a1", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkEvents(t, "Range(a1, 0, all)", got, events(1, 4, 4))
	got, err = s.Range(ctx, "a1", 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	checkEvents(t, "Range(a1, 1, 2)", got, events(2, 3, 4))
	if owner, err := s.Owner(ctx, "a1"); owner != "A" || err != nil {
		t.Errorf("Owner(a1): got %q, %v, want A", owner, err)
	}
	checkTTL("a1", retention)

	// Several calls at once.
	errs := s.AppendMany(ctx, []CallEvents{
		{CallID: "m1", Owner: "A", Events: events(1, 2, 0)},
		{CallID: "m2", Owner: "B", Events: events(1, 1, 1)},
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string][]StreamEvent{"m1": events(1, 2, 0), "m2": events(1, 1, 1)} {
		got, err := s.Range(ctx, id, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		checkEvents(t, "Range("+id+")", got, want)
	}
	if owner, _ := s.Owner(ctx, "m2"); owner != "B" {
		t.Errorf("Owner(m2): got %q, want B", owner)
	}

	if _, err := s.Owner(ctx, "unknown"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Owner(unknown): got %v, want %v", err, ErrNotFound)
	}
	if got, err := s.Range(ctx, "unknown", 0, 0); len(got) != 0 || err != nil {
		t.Errorf("Range(unknown): got %v, %v, want none", got, err)
	}
}

func testEventsOrder(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	s := newEventStreams(t, c, EventsConfig{})
	mustAppend(t, s, "o1", events(1, 2, 2)...)
	mustAppend(t, s, "o2", event(1, 0))
	tests := []struct {
		name string
		id   string
		evs  []StreamEvent
		want []StreamEvent // the stream after
	}{
		{name: "after the last event", id: "o1", evs: events(2, 3, 0), want: events(1, 2, 2)},
		{name: "leaving a gap", id: "o2", evs: []StreamEvent{event(3, 0)}, want: events(1, 1, 0)},
		{name: "a gap after events that go in", id: "o2", evs: []StreamEvent{event(2, 0), event(4, 0)}, want: events(1, 2, 0)},
		{name: "not in order", id: "o3", evs: []StreamEvent{event(2, 0), event(1, 0)}},
		{name: "after the last in the batch", id: "o3", evs: []StreamEvent{event(1, 1), event(2, 0)}},
		{name: "sequence 0", id: "o3", evs: []StreamEvent{event(0, 0)}},
	}
	for _, tc := range tests {
		if err := s.Append(ctx, tc.id, "A", tc.evs...); !errors.Is(err, ErrEventOrder) {
			t.Errorf("%s: got %v, want %v", tc.name, err, ErrEventOrder)
		}
		got, err := s.Range(ctx, tc.id, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		checkEvents(t, tc.name, got, tc.want)
	}
	errs := s.AppendMany(ctx, []CallEvents{
		{CallID: "o4", Owner: "A", Events: []StreamEvent{event(2, 0)}},
		{CallID: "o5", Owner: "A", Events: events(1, 1, 0)},
		{CallID: "o6", Events: events(1, 1, 0)},
	})
	if !errors.Is(errs[0], ErrEventOrder) || errs[1] != nil || errs[2] == nil {
		t.Errorf("AppendMany of a gap, a good one and one without owner: got %v, want ErrEventOrder, nil, an error", errs)
	}
}

// History, then live events appended meanwhile, each once and in order, until the last.
func testWatchLive(t *testing.T, c redis.UniversalClient, after int) {
	const n = 40
	id := "live-" + strconv.Itoa(after)
	writer := newEventStreams(t, c, EventsConfig{})
	reader := newEventStreams(t, c, EventsConfig{Resync: time.Hour}) // live events come by notification
	mustAppend(t, writer, id, events(1, 10, n)...)
	w := mustWatch(t, reader, id, uint64(after))
	wait := appendEach(t, writer, id, events(11, n, n))
	got := collect(t, w)
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	checkEvents(t, "watched", got, events(after+1, n, n))
}

// Watches of one call share its channel: one that leaves does not stop the others, and a
// new one subscribes again.
func testWatchersComeAndGo(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	writer := newEventStreams(t, c, EventsConfig{})
	reader := newEventStreams(t, c, EventsConfig{Resync: time.Hour})
	mustAppend(t, writer, "cg", event(1, 0))
	w1 := mustWatch(t, reader, "cg", 0)
	w2 := mustWatch(t, reader, "cg", 0)
	for _, w := range []*StreamWatch{w1, w2} {
		if ev, err := w.Next(ctx); err != nil || ev.Seq != 1 {
			t.Fatalf("Next: got %v, %v, want event 1", ev, err)
		}
	}
	w1.Close()
	w1.Close() // a second Close does nothing
	mustAppend(t, writer, "cg", event(2, 0))
	if ev, err := w2.Next(ctx); err != nil || ev.Seq != 2 {
		t.Fatalf("Next of the watch left: got %v, %v, want event 2", ev, err)
	}
	w2.Close()
	w3 := mustWatch(t, reader, "cg", 2)
	wait := appendEach(t, writer, "cg", events(3, 5, 5))
	got := collect(t, w3)
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	checkEvents(t, "watched again", got, events(3, 5, 5))
}

// Events whose notification never came are read from the stream: on a gap before the next
// one notified, and after Resync when none follows.
func testWatchMissed(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	writer := newEventStreams(t, c, EventsConfig{})
	reader := newEventStreams(t, c, EventsConfig{Resync: 50 * time.Millisecond})
	mustAppend(t, writer, "mi", event(1, 4))
	w := mustWatch(t, reader, "mi", 0)
	if ev, err := w.Next(ctx); err != nil || ev.Seq != 1 {
		t.Fatalf("Next: got %v, %v, want event 1", ev, err)
	}
	// Written as the script does, but not published.
	unnotified := func(ev StreamEvent) {
		values := []any{"p", ev.Payload}
		if ev.Last {
			values = append(values, "l", "1")
		}
		if err := c.XAdd(ctx, &redis.XAddArgs{Stream: eventsKey("mi"), ID: "0-" + strconv.FormatUint(ev.Seq, 10), Values: values}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	unnotified(event(2, 4))
	mustAppend(t, writer, "mi", event(3, 4))
	unnotified(event(4, 4))
	checkEvents(t, "watched", collect(t, w), events(2, 4, 4))
}

// When the subscription's connection is killed, what was published meanwhile is read from
// the stream once subscribed again; the Resync is too long to do it.
func testWatchResubscribes(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	writer := newEventStreams(t, c, EventsConfig{})
	reader := newEventStreams(t, c, EventsConfig{Resync: time.Hour})
	mustAppend(t, writer, "rs", event(1, 0))
	w := mustWatch(t, reader, "rs", 0)
	waitSubscribed(t, c, "rs")
	// Event 2 is notified after the subscription's confirmation, which has made the watch
	// read the stream: nothing is left to make it read again but a new subscription.
	mustAppend(t, writer, "rs", event(2, 0))
	for seq := range uint64(2) {
		if ev, err := w.Next(ctx); err != nil || ev.Seq != seq+1 {
			t.Fatalf("Next: got %v, %v, want event %d", ev, err, seq+1)
		}
	}
	err := forEachNode(ctx, c, func(n *redis.Client) error {
		return n.ClientKillByFilter(ctx, "TYPE", "pubsub").Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, writer, "rs", events(3, 6, 6)...)
	checkEvents(t, "watched", collect(t, w), events(3, 6, 6))
}

// waitSubscribed waits until a client is subscribed to the events of call id.
func waitSubscribed(t *testing.T, c redis.UniversalClient, id string) {
	t.Helper()
	testenv.Eventually(t, "a subscriber of "+id, func() bool {
		var n atomic.Int64 // a Cluster's masters are asked at once
		_ = forEachNode(t.Context(), c, func(node *redis.Client) error {
			n.Add(node.PubSubNumSub(t.Context(), eventsChannel(id)).Val()[eventsChannel(id)])
			return nil
		})
		return n.Load() > 0
	})
}

func testWatchEnds(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	s := newEventStreams(t, c, EventsConfig{})
	mustAppend(t, s, "end", events(1, 3, 3)...)
	if _, err := s.Watch(ctx, "end", 4); !errors.Is(err, ErrSequenceAhead) {
		t.Errorf("Watch past the last event: got %v, want %v", err, ErrSequenceAhead)
	}
	if _, err := s.Watch(ctx, "unknown", 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("Watch of an unknown call: got %v, want %v", err, ErrNotFound)
	}
	w := mustWatch(t, s, "end", 3)
	if _, err := w.Next(ctx); !errors.Is(err, io.EOF) {
		t.Errorf("Next after the last event: got %v, want io.EOF", err)
	}
	// Live, the call ends before the watch's start.
	mustAppend(t, s, "short", event(1, 0))
	w = mustWatch(t, s, "short", 5)
	mustAppend(t, s, "short", event(2, 2))
	nctx, cancel := context.WithTimeout(ctx, testenv.WaitFor)
	defer cancel()
	if _, err := w.Next(nctx); !errors.Is(err, ErrSequenceAhead) {
		t.Errorf("Next of a watch past a call that ended: got %v, want %v", err, ErrSequenceAhead)
	}
}

func TestEventStreamsRunOnce(t *testing.T) {
	s := newEventStreams(t, newClient(t, testenv.StartRedis(t)), EventsConfig{})
	testenv.Eventually(t, "Run to start", s.running.Load)
	if err := s.Run(t.Context()); err == nil {
		t.Error("a second Run: got nil, want an error")
	}
}

func TestEventsConfigValidate(t *testing.T) {
	for _, cfg := range []EventsConfig{{MaxAge: -1}, {Retention: -1}, {Resync: -1}} {
		if _, err := NewEventStreams(cfg, nil); err == nil {
			t.Errorf("NewEventStreams(%+v): got nil, want an error", cfg)
		}
	}
}

// On one node, AppendMany runs one script for every call of the batch (a Cluster, where
// a script must keep to one slot, runs one per call: the tests on it would fail with
// CROSSSLOT otherwise).
func TestAppendManyOneScriptOnOneNode(t *testing.T) {
	c := newClient(t, testenv.StartRedis(t))
	scripts := &testenv.ScriptCounter{}
	c.AddHook(scripts)
	s := newEventStreams(t, c, EventsConfig{})
	errs := s.AppendMany(t.Context(), []CallEvents{
		{CallID: "s1", Owner: "A", Events: events(1, 3, 0)},
		{CallID: "s2", Owner: "A", Events: []StreamEvent{event(2, 0)}}, // a gap: refused
		{CallID: "s3", Owner: "A", Events: events(1, 2, 2)},
	})
	if errs[0] != nil || !errors.Is(errs[1], ErrEventOrder) || errs[2] != nil {
		t.Errorf("AppendMany: got %v, want nil, ErrEventOrder, nil", errs)
	}
	if n := scripts.Scripts.Load(); n != 1 {
		t.Errorf("AppendMany of three calls ran %d scripts, want 1", n)
	}
	for id, want := range map[string][]StreamEvent{"s1": events(1, 3, 0), "s3": events(1, 2, 2)} {
		got, err := s.Range(t.Context(), id, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		checkEvents(t, "Range("+id+")", got, want)
	}
}
