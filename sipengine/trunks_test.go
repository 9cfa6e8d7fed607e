package sipengine_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/internal/testenv"
	"github.com/ccplane/telephony/sipengine"
)

// startTrunks runs trunks over e for gws until the test ends.
func startTrunks(t *testing.T, e *sipengine.Engine, cfg sipengine.TrunksConfig, gws ...sipengine.Gateway) *sipengine.Trunks {
	t.Helper()
	tr, err := sipengine.NewTrunks(e, gws, cfg)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Run(t, "trunks", tr.Run)
	return tr
}

// trunkDial dials number through the trunks' gateway called gw.
func trunkDial(ctx context.Context, tr *sipengine.Trunks, gw, number string, rec *recorder) (*sipengine.Call, error) {
	return tr.Dial(ctx, sipengine.DialRequest{Gateway: sipengine.Gateway{Name: gw}, To: number,
		RingTimeout: 30 * time.Second, MaxDuration: time.Minute, Observer: rec})
}

// dialed is what one Dial of a burst returned.
type dialed struct {
	call *sipengine.Call
	err  error
	rec  *recorder
	took time.Duration
}

// dialBurst starts n Dials through gw at once and returns their results once all returned.
func dialBurst(tr *sipengine.Trunks, gw string, n int) []dialed {
	out := make([]dialed, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range out {
		wg.Go(func() {
			<-start
			rec := newRecorder()
			began := time.Now()
			c, err := trunkDial(context.Background(), tr, gw, "15550100200", rec)
			out[i] = dialed{call: c, err: err, rec: rec, took: time.Since(began)}
		})
	}
	close(start)
	wg.Wait()
	return out
}

// placed splits a burst into the calls placed and the limits that refused the others; it
// fails the test on any other error.
func placed(t *testing.T, burst []dialed) ([]dialed, []sipengine.Limit) {
	t.Helper()
	var calls []dialed
	var refused []sipengine.Limit
	for _, d := range burst {
		le, ok := errors.AsType[*sipengine.LimitError](d.err)
		switch {
		case d.err == nil:
			calls = append(calls, d)
		case ok:
			refused = append(refused, le.Limit)
		default:
			t.Fatalf("Dial: %v, want a call or a *LimitError", d.err)
		}
	}
	return calls, refused
}

func waitEnded(t *testing.T, calls ...*sipengine.Call) {
	t.Helper()
	for _, c := range calls {
		select {
		case <-c.Done():
		case <-time.After(testenv.WaitFor):
			t.Fatalf("call %s did not end", c.SIPCallID)
		}
	}
}

// traceSeparator starts every message in SIPp's -trace_msg file, followed by its time.
const traceSeparator = "----------------------------------------------- "

// arrivals returns when SIPp received each request of method, in order, from its message
// trace; retransmissions (same Call-ID) are left out.
func arrivals(t *testing.T, trace, method string) []time.Time {
	t.Helper()
	var out []time.Time
	seen := make(map[string]bool)
	for _, msg := range strings.Split(trace, traceSeparator)[1:] {
		lines := strings.Split(msg, "\n")
		if len(lines) < 4 || !strings.Contains(lines[1], "message received") || !strings.HasPrefix(lines[3], method+" ") {
			continue
		}
		var callID string
		for _, l := range lines[4:] {
			if v, ok := strings.CutPrefix(l, "Call-ID:"); ok {
				callID = strings.TrimSpace(v)
				break
			}
		}
		if seen[callID] {
			continue
		}
		seen[callID] = true
		at, err := time.ParseInLocation("2006-01-02 15:04:05.000000", strings.TrimSpace(lines[0]), time.Local)
		if err != nil {
			t.Fatalf("SIPp trace time %q: %v", lines[0], err)
		}
		out = append(out, at)
	}
	return out
}

var busy = map[string]string{"code": "486", "reason": "Busy Here", "q850": "17"}

// TestTrunksPaceABurst fires Dials at a gateway with a MaxCPS all at once, and reads from
// SIPp's own trace when each INVITE arrived: they must come one every 1/MaxCPS, never two
// together, and so never more than MaxCPS in a second.
func TestTrunksPaceABurst(t *testing.T) {
	t.Parallel()
	const (
		cps      = 5
		n        = 7
		interval = time.Second / cps
		// Each INVITE leaves on its booked time, and reaches SIPp a little later by however
		// long the scheduler kept a timer, our goroutine or SIPp waiting. That delay differs
		// from one INVITE to the next by up to this much on a busy test machine.
		jitter = 60 * time.Millisecond
	)
	uas := testenv.StartSIPp(t, "reject", testenv.SIPpOptions{Calls: n, Keys: busy})
	e, _ := startEngine(t, testEngine)
	tr := startTrunks(t, e, sipengine.TrunksConfig{},
		sipengine.Gateway{Name: "paced", Address: uas.Addr(), MaxCPS: cps, QueueTimeout: testenv.WaitFor})

	calls, refused := placed(t, dialBurst(tr, "paced", n))
	if len(calls) != n {
		t.Fatalf("%d calls placed, %d refused (%v), want all %d placed", len(calls), len(refused), refused, n)
	}
	for _, d := range calls {
		waitEnded(t, d.call)
	}
	uas.Wait(t)

	at := arrivals(t, uas.Messages(), "INVITE")
	if len(at) != n {
		t.Fatalf("SIPp received %d INVITEs, want %d", len(at), n)
	}
	for i := 1; i < n; i++ {
		if gap := at[i].Sub(at[i-1]); gap < interval-jitter {
			t.Errorf("INVITE %d came %v after the one before, want at least %v - %v", i, gap, interval, jitter)
		}
	}
	if span, want := at[n-1].Sub(at[0]), (n-1)*interval-jitter; span < want {
		t.Errorf("the burst reached SIPp within %v, want at least %v", span, want)
	}
	// Any window a jitter shorter than a second holds at most MaxCPS INVITEs.
	for i := range at {
		in := 0
		for j := i; j < n && at[j].Sub(at[i]) < time.Second-jitter; j++ {
			in++
		}
		if in > cps {
			t.Errorf("%d INVITEs within %v of INVITE %d, want at most %d", in, time.Second-jitter, i, cps)
		}
	}
}

// TestTrunksRateWithoutQueue checks that a gateway with no QueueTimeout sends what its
// MaxCPS allows now and refuses the rest of a burst at once, without a wait.
func TestTrunksRateWithoutQueue(t *testing.T) {
	t.Parallel()
	uas := testenv.StartSIPp(t, "reject", testenv.SIPpOptions{Keys: busy})
	e, _ := startEngine(t, testEngine)
	tr := startTrunks(t, e, sipengine.TrunksConfig{},
		sipengine.Gateway{Name: "strict", Address: uas.Addr(), MaxCPS: 1})

	burst := dialBurst(tr, "strict", 5)
	calls, refused := placed(t, burst)
	if len(calls) != 1 || len(refused) != 4 {
		t.Fatalf("%d placed and %d refused, want 1 and 4", len(calls), len(refused))
	}
	for i, d := range burst {
		if le, ok := errors.AsType[*sipengine.LimitError](d.err); ok {
			if le.Limit != sipengine.LimitRate || le.Gateway != "strict" {
				t.Errorf("refusal %d: got %+v, want the rate limit of strict", i, *le)
			}
			// A wait for the next send time would take a second.
			if d.took > 500*time.Millisecond {
				t.Errorf("refusal %d took %v, want it at once", i, d.took)
			}
		}
	}
	waitEnded(t, calls[0].call)
	uas.Wait(t)
	if got := len(arrivals(t, uas.Messages(), "INVITE")); got != 1 {
		t.Errorf("SIPp received %d INVITEs, want 1", got)
	}
	if s := tr.Status()[0]; s.Active != 0 || s.Queued != 0 {
		t.Errorf("after the calls: %d active and %d queued, want none: a refused call kept its slot", s.Active, s.Queued)
	}
}

// TestTrunksConcurrencyLimit holds calls up on a gateway with MaxConcurrentCalls: a burst
// beyond it is refused at once without a queue, a call ending frees a slot, and with a queue a
// waiting Dial goes ahead as soon as one does.
func TestTrunksConcurrencyLimit(t *testing.T) {
	t.Parallel()
	uas := testenv.StartSIPp(t, "answer_wait_bye", testenv.SIPpOptions{Calls: 7})
	e, _ := startEngine(t, testEngine)
	tr := startTrunks(t, e, sipengine.TrunksConfig{},
		sipengine.Gateway{Name: "brief", Address: uas.Addr(), MaxConcurrentCalls: 1, QueueTimeout: 100 * time.Millisecond},
		sipengine.Gateway{Name: "queued", Address: uas.Addr(), MaxConcurrentCalls: 1, QueueTimeout: testenv.WaitFor},
		sipengine.Gateway{Name: "strict", Address: uas.Addr(), MaxConcurrentCalls: 3},
	)
	status := func(gw string) sipengine.GatewayStatus {
		for _, s := range tr.Status() {
			if s.Gateway.Name == gw {
				return s
			}
		}
		t.Fatalf("no status for %s", gw)
		return sipengine.GatewayStatus{}
	}
	answered := func(gw string) *sipengine.Call {
		t.Helper()
		rec := newRecorder()
		c, err := trunkDial(context.Background(), tr, gw, "15550100200", rec)
		if err != nil {
			t.Fatalf("Dial %s: %v", gw, err)
		}
		rec.waitState(t, telephony.StateAnswered)
		return c
	}
	var live []*sipengine.Call

	// Without a queue: three of six placed, three refused.
	calls, refused := placed(t, dialBurst(tr, "strict", 6))
	if len(calls) != 3 || len(refused) != 3 {
		t.Fatalf("%d placed and %d refused, want 3 and 3", len(calls), len(refused))
	}
	for _, l := range refused {
		if l != sipengine.LimitConcurrency {
			t.Errorf("refused by %v, want the concurrent call limit", l)
		}
	}
	for _, d := range calls {
		d.rec.waitState(t, telephony.StateAnswered)
		live = append(live, d.call)
	}
	if s := status("strict"); s.Active != 3 || s.Queued != 0 {
		t.Errorf("strict: %d active, %d queued; want 3 and 0", s.Active, s.Queued)
	}
	live[0].Hangup()
	waitEnded(t, live[0])
	if s := status("strict"); s.Active != 2 {
		t.Errorf("strict after a hang-up: %d active, want 2", s.Active)
	}
	live = append(live[1:], answered("strict"))

	// A short queue gives up.
	live = append(live, answered("brief"))
	began := time.Now()
	_, err := trunkDial(context.Background(), tr, "brief", "15550100200", newRecorder())
	if le, ok := errors.AsType[*sipengine.LimitError](err); !ok || le.Limit != sipengine.LimitConcurrency {
		t.Errorf("Dial on a full gateway: %v, want the concurrent call limit", err)
	}
	if took := time.Since(began); took < 100*time.Millisecond {
		t.Errorf("refused after %v, want it to wait the queue timeout (100ms)", took)
	}

	// A long queue: one waiter gives up (its ctx ends), the other gets the freed slot.
	first := answered("queued")
	type result struct {
		call *sipengine.Call
		err  error
	}
	next := make(chan result, 1) // buffered: the Dial returns whether or not the test reads it
	nextRec := newRecorder()
	go func() {
		c, err := trunkDial(context.Background(), tr, "queued", "15550100200", nextRec)
		next <- result{c, err}
	}()
	testenv.Eventually(t, "a Dial queued", func() bool { return status("queued").Queued == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	quitter := make(chan error, 1) // buffered, as next
	go func() {
		_, err := trunkDial(ctx, tr, "queued", "15550100200", newRecorder())
		quitter <- err
	}()
	testenv.Eventually(t, "two Dials queued", func() bool { return status("queued").Queued == 2 })
	cancel()
	err = <-quitter
	if le, ok := errors.AsType[*sipengine.LimitError](err); !ok || le.Limit != sipengine.LimitConcurrency {
		t.Errorf("queued Dial whose ctx ended: %v, want the concurrent call limit", err)
	}
	if s := status("queued"); s.Active != 1 || s.Queued != 1 {
		t.Errorf("queued: %d active, %d queued; want 1 and 1", s.Active, s.Queued)
	}
	first.Hangup()
	var r result
	select {
	case r = <-next:
	case <-time.After(testenv.WaitFor):
		t.Fatal("the queued Dial did not go ahead when the call before it ended")
	}
	if r.err != nil {
		t.Fatalf("queued Dial: %v", r.err)
	}
	nextRec.waitState(t, telephony.StateAnswered)
	if s := status("queued"); s.Active != 1 || s.Queued != 0 {
		t.Errorf("queued: %d active, %d queued; want 1 and 0", s.Active, s.Queued)
	}
	live = append(live, first, r.call)

	for _, c := range live {
		c.Hangup()
	}
	waitEnded(t, live...)
	uas.Wait(t)
	// 3 + 1 on strict, 1 on brief, 2 on queued: no refused Dial sent anything.
	if got := len(arrivals(t, uas.Messages(), "INVITE")); got != 7 {
		t.Errorf("SIPp received %d INVITEs, want 7", got)
	}
	for _, s := range tr.Status() {
		if s.Active != 0 || s.Queued != 0 {
			t.Errorf("%s after every call ended: %d active, %d queued; want none", s.Gateway.Name, s.Active, s.Queued)
		}
	}
}

// TestTrunksDialRefusesBadRequests checks that what Trunks cannot place fails at once with
// ErrInvalid, and uses up no slot.
func TestTrunksDialRefusesBadRequests(t *testing.T) {
	e, _ := startEngine(t, testEngine)
	tr := startTrunks(t, e, sipengine.TrunksConfig{},
		sipengine.Gateway{Name: "gw", Address: "127.0.0.1:9", MaxConcurrentCalls: 1, MaxCPS: 1})
	for _, tc := range []struct{ name, gw, to string }{
		{name: "unknown gateway", gw: "nope", to: "15550100200"},
		{name: "bad number", gw: "gw", to: "555-0100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := trunkDial(context.Background(), tr, tc.gw, tc.to, newRecorder()); !errors.Is(err, sipengine.ErrInvalid) {
				t.Errorf("Dial: %v, want ErrInvalid", err)
			}
		})
	}
	if s := tr.Status()[0]; s.Active != 0 {
		t.Errorf("%d active after refused requests, want 0", s.Active)
	}
}

func TestNewTrunks(t *testing.T) {
	e, _ := startEngine(t, testEngine)
	gw := sipengine.Gateway{Name: "gw", Address: "127.0.0.1:5060", MaxConcurrentCalls: 2}
	tests := []struct {
		name string
		gws  []sipengine.Gateway
		cfg  sipengine.TrunksConfig
		ok   bool
	}{
		{name: "valid", gws: []sipengine.Gateway{gw, {Name: "other", Address: "127.0.0.1:5070"}}, ok: true},
		{name: "none", ok: true},
		{name: "defined twice", gws: []sipengine.Gateway{gw, gw}},
		{name: "invalid gateway", gws: []sipengine.Gateway{{Name: "gw", Address: "127.0.0.1:5060", MaxCPS: -1}}},
		{name: "negative down after", gws: []sipengine.Gateway{gw}, cfg: sipengine.TrunksConfig{DownAfter: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := sipengine.NewTrunks(e, tc.gws, tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("NewTrunks: %v, want ok=%v", err, tc.ok)
			}
			if err != nil {
				return
			}
			for _, want := range tc.gws {
				if got, ok := tr.Gateway(want.Name); !ok || got != want {
					t.Errorf("Gateway(%q) = %+v, %v; want %+v", want.Name, got, ok, want)
				}
			}
			if _, ok := tr.Gateway("missing"); ok {
				t.Error("Gateway(missing) found one")
			}
			if got := len(tr.Status()); got != len(tc.gws) {
				t.Errorf("%d statuses, want %d", got, len(tc.gws))
			}
		})
	}
}
