package sipengine

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/ccplane/telephony"
)

func TestPacerReserve(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	type step struct {
		now, deadline time.Time
		want          time.Time // zero: refused
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "first send goes at once", steps: []step{{now: ms(0), deadline: ms(0), want: ms(0)}}},
		{name: "a burst is spread evenly", steps: []step{
			{now: ms(0), deadline: ms(1000), want: ms(0)},
			{now: ms(0), deadline: ms(1000), want: ms(200)},
			{now: ms(1), deadline: ms(1000), want: ms(400)},
		}},
		{name: "without a queue only a send due now passes", steps: []step{
			{now: ms(0), deadline: ms(0), want: ms(0)},
			{now: ms(50), deadline: ms(50)},
			{now: ms(200), deadline: ms(200), want: ms(200)},
		}},
		{name: "a send due exactly at the deadline passes", steps: []step{
			{now: ms(0), deadline: ms(0), want: ms(0)},
			{now: ms(100), deadline: ms(200), want: ms(200)},
		}},
		{name: "a refusal books nothing", steps: []step{
			{now: ms(0), deadline: ms(100), want: ms(0)},
			{now: ms(0), deadline: ms(100)},
			{now: ms(0), deadline: ms(1000), want: ms(200)},
		}},
		{name: "idle time is not saved up for a burst", steps: []step{
			{now: ms(0), deadline: ms(0), want: ms(0)},
			{now: ms(5000), deadline: ms(6000), want: ms(5000)},
			{now: ms(5000), deadline: ms(6000), want: ms(5200)},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPacer(5)
			for i, s := range tc.steps {
				at, ok := p.reserve(s.now, s.deadline)
				if ok != !s.want.IsZero() || !at.Equal(s.want) {
					t.Errorf("step %d: reserve(%v, %v) = %v, %v; want %v", i,
						s.now.Sub(t0), s.deadline.Sub(t0), at.Sub(t0), ok, s.want.Sub(t0))
				}
			}
		})
	}
}

// TestSlotsQueue checks the order in which waiting Dials get slots, and that a waiter that
// gives up leaves the queue.
func TestSlotsQueue(t *testing.T) {
	s := &slots{max: 1}
	far := time.Now().Add(time.Minute)
	if !s.acquire(context.Background(), time.Now()) {
		t.Fatal("first acquire refused")
	}
	if s.acquire(context.Background(), time.Now()) {
		t.Fatal("acquire beyond the limit with no queue time succeeded")
	}
	got := make(chan string, 3) // one per waiter
	wait := func(name string, ctx context.Context, queued int) {
		go func() {
			if s.acquire(ctx, far) {
				got <- name
			} else {
				got <- name + " gave up"
			}
		}()
		for _, q := s.counts(); q != queued; _, q = s.counts() {
			time.Sleep(time.Millisecond)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	wait("first", context.Background(), 1)
	wait("quitter", ctx, 2)
	wait("last", context.Background(), 3)
	cancel()
	if g := <-got; g != "quitter gave up" {
		t.Fatalf("got %q, want the quitter to give up first", g)
	}
	for _, want := range []string{"first", "last"} {
		s.release()
		if g := <-got; g != want {
			t.Errorf("slot went to %q, want %q", g, want)
		}
	}
	if active, queued := s.counts(); active != 1 || queued != 0 {
		t.Errorf("%d active, %d queued; want 1 and 0", active, queued)
	}
}

// TestSlotsUnderContention has many goroutines take and give back slots, with queue times
// short enough that waiters give up while slots are being handed to them: the limit is never
// exceeded and no slot is lost.
func TestSlotsUnderContention(t *testing.T) {
	const limit = 3
	s := &slots{max: limit}
	var mu sync.Mutex
	holding, most := 0, 0
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			for j := range 20 {
				if !s.acquire(context.Background(), time.Now().Add(time.Duration(i+j)%3*time.Millisecond)) {
					continue
				}
				mu.Lock()
				holding++
				most = max(most, holding)
				mu.Unlock()
				time.Sleep(100 * time.Microsecond)
				mu.Lock()
				holding--
				mu.Unlock()
				s.release()
			}
		})
	}
	wg.Wait()
	if most > limit {
		t.Errorf("%d slots held at once, want at most %d", most, limit)
	}
	if active, queued := s.counts(); active != 0 || queued != 0 {
		t.Errorf("after all released: %d active, %d queued; want none", active, queued)
	}
}

func TestRefusal(t *testing.T) {
	limit, down := telephony.CauseGatewayLimit, telephony.CauseGatewayDown
	tests := []struct {
		name      string
		err       error
		wantCause telephony.Cause
		want      telephony.Status
		wantOK    bool
	}{
		{name: "concurrency", err: &LimitError{Gateway: "gw", Limit: LimitConcurrency}, wantCause: limit, want: telephony.StatusConcurrencyLimit, wantOK: true},
		{name: "rate", err: &LimitError{Gateway: "gw", Limit: LimitRate}, wantCause: limit, want: telephony.StatusRateLimit, wantOK: true},
		{name: "wrapped limit", err: fmt.Errorf("place: %w", &LimitError{Limit: LimitRate}), wantCause: limit, want: telephony.StatusRateLimit, wantOK: true},
		{name: "down", err: ErrGatewayDown, wantCause: down, want: telephony.StatusGatewayDown, wantOK: true},
		{name: "wrapped down", err: fmt.Errorf("gateway %q: %w", "gw", ErrGatewayDown), wantCause: down, want: telephony.StatusGatewayDown, wantOK: true},
		{name: "other", err: ErrInvalid},
		{name: "nil"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cause, got, ok := Refusal(tc.err)
			if cause != tc.wantCause || got != tc.want || ok != tc.wantOK {
				t.Errorf("Refusal(%v) = %v, %v, %v; want %v, %v, %v", tc.err, cause, got, ok, tc.wantCause, tc.want, tc.wantOK)
			}
		})
	}
}

func TestGatewayValidateLimits(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Gateway)
		ok   bool
	}{
		{name: "unlimited", edit: func(*Gateway) {}, ok: true},
		{name: "all set", edit: func(g *Gateway) {
			g.MaxConcurrentCalls, g.MaxCPS, g.QueueTimeout, g.KeepAlive = 30, 2.5, time.Second, 10*time.Second
		}, ok: true},
		{name: "one call an hour", edit: func(g *Gateway) { g.MaxCPS = 1.0 / 3600 }, ok: true},
		{name: "negative concurrency", edit: func(g *Gateway) { g.MaxConcurrentCalls = -1 }},
		{name: "negative cps", edit: func(g *Gateway) { g.MaxCPS = -1 }},
		{name: "cps too small to pace", edit: func(g *Gateway) { g.MaxCPS = 1e-12 }},
		{name: "cps not a number", edit: func(g *Gateway) { g.MaxCPS = math.NaN() }},
		{name: "infinite cps", edit: func(g *Gateway) { g.MaxCPS = math.Inf(1) }},
		{name: "negative queue timeout", edit: func(g *Gateway) { g.QueueTimeout = -time.Second }},
		{name: "negative keep-alive", edit: func(g *Gateway) { g.KeepAlive = -time.Second }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := Gateway{Name: "gw", Address: "127.0.0.1:5060"}
			tc.edit(&g)
			if err := g.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestReleasingObserver checks that the slot comes back once, on the end of the call, after
// the event was passed on.
func TestReleasingObserver(t *testing.T) {
	var seen []EventKind
	released := 0
	o := &releasing{next: observerFunc(func(ev Event) { seen = append(seen, ev.Kind) }), release: func() {
		released++
		if len(seen) == 0 || seen[len(seen)-1] != EventEnded {
			t.Error("slot released before the end was passed on")
		}
	}}
	for _, k := range []EventKind{EventRequest, EventResponse, EventState} {
		o.Observe(Event{Kind: k})
	}
	if released != 0 {
		t.Fatalf("released before the call ended")
	}
	o.Observe(Event{Kind: EventEnded})
	o.done()
	if released != 1 || len(seen) != 4 {
		t.Errorf("released %d times after %d events, want once after 4", released, len(seen))
	}
}

type observerFunc func(Event)

func (f observerFunc) Observe(ev Event) { f(ev) }
