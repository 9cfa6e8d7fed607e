package sipengine_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/internal/testenv"
	"github.com/ccplane/telephony/sipengine"
)

// TestPing sends OPTIONS to a SIPp gateway over each transport, and to nobody.
func TestPing(t *testing.T) {
	t.Parallel()
	e, _ := startEngine(t, testEngine)
	for _, tc := range []struct {
		transport sipengine.Transport
		uriParams string
	}{
		{transport: sipengine.UDP},
		{transport: sipengine.TCP, uriParams: ";transport=tcp"},
	} {
		t.Run(string(tc.transport), func(t *testing.T) {
			uas := testenv.StartSIPp(t, "options_ok", testenv.SIPpOptions{Transport: string(tc.transport)})
			ctx, cancel := context.WithTimeout(context.Background(), testenv.WaitFor)
			defer cancel()
			st, err := e.Ping(ctx, sipengine.Gateway{Name: "sipp", Address: uas.Addr(), Transport: tc.transport})
			if err != nil || st.Code != 200 {
				t.Fatalf("Ping: %v, %v; want 200", st, err)
			}
			uas.Wait(t)
			trace := uas.Messages()
			lines := strings.Split(strings.ReplaceAll(trace, "\r", ""), "\n")
			for _, want := range []string{
				"OPTIONS sip:" + uas.Addr() + tc.uriParams + " SIP/2.0",
				"To: <sip:127.0.0.1>", // no tag: outside any dialog
				"Max-Forwards: 70",
				"User-Agent: telephonyd",
			} {
				if !slices.Contains(lines, want) {
					t.Errorf("SIPp's trace lacks %q:\n%s", want, trace)
				}
			}
		})
	}
	t.Run("nobody answers", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "udp"))
		st, err := e.Ping(ctx, sipengine.Gateway{Name: "void", Address: addr})
		if !errors.Is(err, context.DeadlineExceeded) || st.Code != 0 {
			t.Errorf("Ping: %v, %v; want no status and the deadline", st, err)
		}
	})
	t.Run("late answer", func(t *testing.T) {
		uas := testenv.StartSIPp(t, "options_late", testenv.SIPpOptions{})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if st, err := e.Ping(ctx, sipengine.Gateway{Name: "slow", Address: uas.Addr()}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Ping: %v, %v; want the deadline", st, err)
		}
		uas.Wait(t)
		// One OPTIONS: the probe's transaction ended with it, before its first retransmission.
		trace := uas.Messages()
		if n := strings.Count(trace, "OPTIONS sip:"); n != 1 {
			t.Errorf("SIPp received %d OPTIONS, want 1:\n%s", n, trace)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
		st, err := e.Ping(context.Background(), sipengine.Gateway{Name: "void", Address: addr, Transport: sipengine.TCP})
		if err == nil || st.Code != 0 {
			t.Errorf("Ping: %v, %v; want no status and a transport error", st, err)
		}
	})
}

// keepAliveConfig probes fast, so a gateway goes down after about two probe timeouts.
func keepAliveConfig(changes chan<- sipengine.GatewayStatus) sipengine.TrunksConfig {
	return sipengine.TrunksConfig{ProbeTimeout: 300 * time.Millisecond, DownAfter: 2, UpAfter: 1,
		OnChange: func(s sipengine.GatewayStatus) { changes <- s }}
}

func nextChange(t *testing.T, changes <-chan sipengine.GatewayStatus, want sipengine.GatewayState) sipengine.GatewayStatus {
	t.Helper()
	select {
	case s := <-changes:
		if s.State != want {
			t.Fatalf("gateway went %v, want %v", s.State, want)
		}
		if s.Since.IsZero() || s.LastProbeAt.IsZero() {
			t.Errorf("status %+v: want the time of the change and of the probe", s)
		}
		return s
	case <-time.After(testenv.WaitFor):
		t.Fatalf("gateway never went %v", want)
	}
	return sipengine.GatewayStatus{}
}

// TestKeepAliveFollowsTheGateway takes a SIPp gateway away and brings it back on the same
// port: answered probes keep it up, unanswered ones take it down (and calls fail fast), and
// an answer brings it back.
func TestKeepAliveFollowsTheGateway(t *testing.T) {
	t.Parallel()
	e, _ := startEngine(t, testEngine)
	// SIPp answers three probes, then exits: the gateway is gone.
	uas := testenv.StartSIPp(t, "options_ok", testenv.SIPpOptions{Calls: 3})
	changes := make(chan sipengine.GatewayStatus, 8) // a few changes per test; OnChange never waits
	cfg := keepAliveConfig(changes)
	tr := startTrunks(t, e, cfg,
		sipengine.Gateway{Name: "sipp", Address: uas.Addr(), KeepAlive: 100 * time.Millisecond},
		sipengine.Gateway{Name: "quiet", Address: "127.0.0.1:9"})

	// Status is sorted by name: quiet, then sipp.
	testenv.Eventually(t, "a probe answered", func() bool { return tr.Status()[1].LastProbe.Code == 200 })
	if s := tr.Status()[1]; s.State != sipengine.GatewayUp || !s.Since.IsZero() {
		t.Errorf("answering gateway: %v since %v, want up from the start", s.State, s.Since)
	}
	if s := tr.Status()[0]; s.State != sipengine.GatewayUnmonitored || !s.LastProbeAt.IsZero() {
		t.Errorf("gateway without keep-alive: %v, probed at %v; want unmonitored and never probed", s.State, s.LastProbeAt)
	}
	uas.Wait(t)

	if s := nextChange(t, changes, sipengine.GatewayDown); s.LastProbe.Code != 0 {
		t.Errorf("down after a probe answered %v, want no answer", s.LastProbe)
	}
	began := time.Now()
	_, err := trunkDial(context.Background(), tr, "sipp", "15550100486", newRecorder())
	if !errors.Is(err, sipengine.ErrGatewayDown) {
		t.Fatalf("Dial to a gateway down: %v, want ErrGatewayDown", err)
	}
	// Refused without a probe or a wait: a probe alone would take the probe timeout.
	if took := time.Since(began); took > cfg.ProbeTimeout/3 {
		t.Errorf("Dial took %v to refuse, want it at once", took)
	}
	if _, st, ok := sipengine.Refusal(err); !ok || st != telephony.StatusGatewayDown {
		t.Errorf("Refusal: %v %v, want %v", st, ok, telephony.StatusGatewayDown)
	}

	_, port, _ := net.SplitHostPort(uas.Addr())
	p, _ := strconv.Atoi(port)
	back := testenv.StartSIPpAt(t, "options_ok", p, testenv.SIPpOptions{Calls: 1000})
	if s := nextChange(t, changes, sipengine.GatewayUp); s.LastProbe.Code != 200 {
		t.Errorf("up after a probe answered %v, want 200", s.LastProbe)
	}
	rec := newRecorder()
	c, err := trunkDial(context.Background(), tr, "sipp", "15550100486", rec)
	if err != nil {
		t.Fatalf("Dial once the gateway is back: %v", err)
	}
	waitEnded(t, c)
	if got := c.End().LastResponse.Code; got != 486 {
		t.Errorf("call ended with %d (%s), want SIPp's 486", got, rec.history())
	}
	// A keep-alive responder has no last call to wait for.
	back.Stop()
}

// TestKeepAlive503 checks that a gateway answering its probes 503 (out of service) goes down.
func TestKeepAlive503(t *testing.T) {
	t.Parallel()
	e, _ := startEngine(t, testEngine)
	uas := testenv.StartSIPp(t, "options_503", testenv.SIPpOptions{Calls: 2})
	changes := make(chan sipengine.GatewayStatus, 8) // as in TestKeepAliveFollowsTheGateway
	tr := startTrunks(t, e, keepAliveConfig(changes),
		sipengine.Gateway{Name: "sipp", Address: uas.Addr(), KeepAlive: 100 * time.Millisecond})
	if s := nextChange(t, changes, sipengine.GatewayDown); s.LastProbe.Code != 503 {
		t.Errorf("down after a probe answered %v, want 503", s.LastProbe)
	}
	uas.Wait(t)
	if _, err := trunkDial(context.Background(), tr, "sipp", "15550100200", newRecorder()); !errors.Is(err, sipengine.ErrGatewayDown) {
		t.Errorf("Dial: %v, want ErrGatewayDown", err)
	}
}
