package sipengine_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/internal/testenv"
	"github.com/ccplane/telephony/simulator"
	"github.com/ccplane/telephony/sipengine"
)

// recorder is an Observer that keeps a call's events as short lines.
type recorder struct {
	mu     sync.Mutex
	lines  []string
	states chan telephony.State // every state the call enters, for tests that act on one
}

func newRecorder() *recorder { return &recorder{states: make(chan telephony.State, 64)} }

func (r *recorder) Observe(ev sipengine.Event) {
	var line string
	switch ev.Kind {
	case sipengine.EventRequest:
		dir := ">"
		if ev.Received {
			dir = "<"
		}
		line = dir + " " + ev.Method
	case sipengine.EventResponse:
		line = fmt.Sprintf("< %d %s", ev.Status.Code, ev.Method)
	case sipengine.EventState:
		line = "state " + ev.To.String()
		r.states <- ev.To
	case sipengine.EventEnded:
		line = fmt.Sprintf("ended %s %s %d", ev.End.Termination.Party, ev.End.Termination.Cause, ev.End.LastResponse.Code)
	}
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
}

func (r *recorder) waitState(t *testing.T, s telephony.State) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case got := <-r.states:
			if got == s {
				return
			}
		case <-timeout:
			t.Fatalf("call never reached state %v", s)
		}
	}
}

func (r *recorder) history() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, ", ")
}

// testEngine is the engine configuration of the tests: loopback, short timers.
var testEngine = sipengine.Config{Listen: "127.0.0.1:0", SetupTimeout: time.Second, EndGrace: time.Second}

// startEngine runs an engine with cfg and returns it with the function that shuts it down
// (also registered as cleanup).
func startEngine(t testing.TB, cfg sipengine.Config) (*sipengine.Engine, func()) {
	t.Helper()
	e, err := sipengine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := testenv.Run(t, "engine", e.Run)
	<-e.Ready()
	return e, stop
}

// fastScripts are simulator timings that keep the tests short.
var fastScripts = simulator.Config{Listen: "127.0.0.1:0", RingDelay: 20 * time.Millisecond,
	AnswerDelay: 50 * time.Millisecond, TalkTime: 200 * time.Millisecond}

func dial(t *testing.T, e *sipengine.Engine, gw sipengine.Gateway, to string, rec *recorder) *sipengine.Call {
	t.Helper()
	c, err := e.Dial(context.Background(), sipengine.DialRequest{Gateway: gw, To: to,
		RingTimeout: 30 * time.Second, MaxDuration: time.Minute, Observer: rec})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	return c
}

// TestShutdownEndsLiveCalls checks that stopping the engine ends a ringing call with CANCEL
// and an answered one with BYE, both as KILL / SHUTDOWN, and waits for them.
func TestShutdownEndsLiveCalls(t *testing.T) {
	sim := testenv.StartSimulator(t, fastScripts)
	e, stop := startEngine(t, testEngine)
	gw := sipengine.Gateway{Name: "sim", Address: sim.Addr()}
	ringing, answered := newRecorder(), newRecorder()
	rc := dial(t, e, gw, "15550100180", ringing)
	ac := dial(t, e, gw, "15550100201", answered)
	ringing.waitState(t, telephony.StateRinging)
	answered.waitState(t, telephony.StateAnswered)
	stop()
	for name, c := range map[string]*sipengine.Call{"ringing": rc, "answered": ac} {
		select {
		case <-c.Done():
		default:
			t.Fatalf("%s call still live after Run returned", name)
		}
		if got := c.End().Termination.Cause; got != telephony.CauseShutdown {
			t.Errorf("%s call ended with %v, want shutdown", name, got)
		}
	}
	if h := ringing.history(); !strings.Contains(h, "> CANCEL") || !strings.HasSuffix(h, "ended kill shutdown 180") {
		t.Errorf("ringing call history %q, want a CANCEL and kill/shutdown/180", h)
	}
	if h := answered.history(); !strings.Contains(h, "> BYE, < 200 BYE") || !strings.HasSuffix(h, "ended kill shutdown 200") {
		t.Errorf("answered call history %q, want a BYE answered 200 and kill/shutdown/200", h)
	}
	if _, err := e.Dial(context.Background(), sipengine.DialRequest{}); err != sipengine.ErrClosed {
		t.Errorf("Dial after shutdown: %v, want ErrClosed", err)
	}
}

// TestDigestAndManyProvisionals runs the simulator's 407 and twelve-provisional behaviours:
// the challenge is answered once with the gateway's credentials, and a dozen 18x pass where
// sipgo's dialog API would give up after ten responses.
func TestDigestAndManyProvisionals(t *testing.T) {
	sim := testenv.StartSimulator(t, fastScripts)
	e, _ := startEngine(t, testEngine)
	tests := []struct {
		name, to, user, password string
		wantEnd                  string
	}{
		{name: "right credentials", to: "15550100407", user: "demo", password: "demo", wantEnd: "ended kill hangup_requested 200"},
		{name: "wrong credentials", to: "15550100407", user: "demo", password: "nope", wantEnd: "ended finish remote_rejected 403"},
		{name: "twelve provisionals", to: "15550100999", wantEnd: "ended kill hangup_requested 200"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			c := dial(t, e, sipengine.Gateway{Name: "sim", Address: sim.Addr(), Username: tc.user, Password: tc.password}, tc.to, rec)
			go func() {
				// Hang up once answered; a rejected call ends by itself.
				for s := range rec.states {
					if s == telephony.StateAnswered {
						c.Hangup()
					}
					if s == telephony.StateEnded {
						return
					}
				}
			}()
			select {
			case <-c.Done():
			case <-time.After(10 * time.Second):
				t.Fatalf("call did not end; history %s", rec.history())
			}
			if h := rec.history(); !strings.HasSuffix(h, tc.wantEnd) {
				t.Errorf("history %q, want it to end with %q", h, tc.wantEnd)
			}
		})
	}
}

// TestInDialogRequestsFromTheGateway sends what a provider may send during a call: OPTIONS
// (keep-alive), a re-INVITE (session refresh) and requests for dialogs we do not have.
func TestInDialogRequestsFromTheGateway(t *testing.T) {
	e, _ := startEngine(t, testEngine)
	ua, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	cli, err := sipgo.NewClient(ua)
	if err != nil {
		t.Fatal(err)
	}
	host, port := splitAddr(t, e.Addr())
	tests := []struct {
		name   string
		method sip.RequestMethod
		toTag  bool
		want   int
	}{
		{name: "options", method: sip.OPTIONS, want: 200},
		{name: "new inbound call", method: sip.INVITE, want: 403},
		{name: "bye for no dialog", method: sip.BYE, toTag: true, want: 481},
		{name: "re-invite for no dialog", method: sip.INVITE, toTag: true, want: 481},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := sip.NewRequest(tc.method, sip.Uri{Scheme: "sip", User: "telephonyd", Host: host, Port: port})
			if tc.toTag {
				to := &sip.ToHeader{Address: req.Recipient}
				to.Params = sip.NewParams()
				to.Params.Add("tag", "not-ours")
				req.AppendHeader(to)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			res, err := cli.Do(ctx, req)
			if err != nil {
				t.Fatalf("%s: %v", tc.method, err)
			}
			if int(res.StatusCode) != tc.want {
				t.Errorf("%s answered %d, want %d", tc.method, res.StatusCode, tc.want)
			}
		})
	}
}

func splitAddr(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, port, err := sip.ParseAddr(addr)
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}

// TestHangUpBeforeAnyResponse checks RFC 3261 §9.1: a hang-up before the provider said
// anything sends no CANCEL until a provisional response arrives, then sends it; a provider
// that never answers leaves nothing to CANCEL and the call ends after EndGrace.
func TestHangUpBeforeAnyResponse(t *testing.T) {
	sim := testenv.StartSimulator(t, simulator.Config{Listen: "127.0.0.1:0", TryingDelay: 150 * time.Millisecond, RingDelay: time.Second})
	e, _ := startEngine(t, testEngine)

	tests := []struct {
		name, to, want string
	}{
		{name: "cancel waits for the 100", to: "15550100180",
			want: "> INVITE, < 100 INVITE, state trying, > CANCEL, < 200 CANCEL, < 487 INVITE, state ended, ended kill hangup_requested 100"},
		{name: "silent provider", to: "15550100000",
			want: "> INVITE, state ended, ended kill hangup_requested 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			c := dial(t, e, sipengine.Gateway{Name: "sim", Address: sim.Addr()}, tc.to, rec)
			c.Hangup()
			select {
			case <-c.Done():
			case <-time.After(10 * time.Second):
				t.Fatalf("call did not end; history %s", rec.history())
			}
			got := strings.Replace(rec.history(), "< 487 INVITE, < 200 CANCEL", "< 200 CANCEL, < 487 INVITE", 1)
			if got != tc.want {
				t.Errorf("history\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}
