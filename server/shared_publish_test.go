package server

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/internal/testenv"
	"github.com/ccplane/telephony/sipengine"
	"github.com/ccplane/telephony/tracker"
)

// The first event of a quiet publisher goes at once; the events of many calls queued within
// the publish interval after it reach Redis in one round trip, each in its call's stream.
func TestPublisherInterval(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: testenv.StartRedis(t)})
	t.Cleanup(func() { c.Close() })
	trips := &testenv.ScriptCounter{}
	c.AddHook(trips)
	es, err := tracker.NewEventStreams(tracker.EventsConfig{}, c)
	if err != nil {
		t.Fatal(err)
	}
	p := &publisher{events: es, owner: "A", s: &CallService{log: slog.New(slog.DiscardHandler)}, max: 100,
		every: 300 * time.Millisecond, wake: make(chan struct{}, 1)}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); p.run(ctx) }()
	t.Cleanup(func() { stop(); <-done })

	const calls, perCall = 5, 3
	for seq := uint64(1); seq <= perCall; seq++ {
		for i := range calls {
			ev := newLogEvent(sipengine.Event{Kind: sipengine.EventState, From: telephony.StateDialing, To: telephony.StateRinging, At: time.Now()}, nil)
			p.enqueue(fmt.Sprintf("c%d", i), seq, ev)
			// Without the interval, each event would be appended in this pause.
			time.Sleep(5 * time.Millisecond)
		}
	}
	testenv.Eventually(t, "every event in Redis", func() bool {
		for i := range calls {
			evs, err := es.Range(t.Context(), fmt.Sprintf("c%d", i), 0, 0)
			if err != nil || len(evs) != perCall {
				return false
			}
		}
		return true
	})
	if n := trips.Pipelines.Load(); n != 2 {
		t.Errorf("%d calls' events took %d round trips, want 2: the first event, then the others queued within the interval", calls, n)
	}
}
