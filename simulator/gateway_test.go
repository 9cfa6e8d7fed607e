package simulator

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// callTimeout bounds every call in these tests; the scripts take milliseconds.
const callTimeout = 5 * time.Second

func TestAnsweredCalls(t *testing.T) {
	t.Parallel()
	burst := []int{100}
	for i := range manyProvisionals {
		burst = append(burst, 180+3*(i%2)) // 180, 183, 180, …
	}
	burst = append(burst, 200)

	tests := []struct {
		name       string
		network    string
		number     string
		gatewayBye bool // the gateway hangs up after TalkTime; otherwise we do
		wantCodes  []int
	}{
		{name: "201 caller hangs up", network: "udp", number: "15550100201", wantCodes: []int{100, 180, 200}},
		{name: "201 over tcp", network: "tcp", number: "15550100201", wantCodes: []int{100, 180, 200}},
		{name: "200 gateway hangs up", network: "udp", number: "15550100200", gatewayBye: true, wantCodes: []int{100, 180, 200}},
		{name: "200 over tcp", network: "tcp", number: "+15550100200", gatewayBye: true, wantCodes: []int{100, 180, 200}},
		{name: "other number plays 200", network: "udp", number: "15550100123", gatewayBye: true, wantCodes: []int{100, 180, 200}},
		{name: "999 burst of provisionals", network: "udp", number: "15550100999", wantCodes: burst},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g, _ := startGateway(t, testConfig())
			u := newUAC(t, tc.network)
			ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
			defer cancel()

			out := u.dial(ctx, g.Addr(), tc.number, dialOpts{})
			if out.err != nil {
				t.Fatalf("WaitAnswer: got %v, want nil", out.err)
			}
			if !slices.Equal(out.codes, tc.wantCodes) {
				t.Errorf("responses: got %v, want %v", out.codes, tc.wantCodes)
			}
			if ct := out.dlg.InviteResponse.ContentType(); ct == nil || ct.Value() != "application/sdp" || len(out.dlg.InviteResponse.Body()) == 0 {
				t.Errorf("200 body: got %v %q, want an SDP answer", ct, out.dlg.InviteResponse.Body())
			}
			if err := out.dlg.Ack(ctx); err != nil {
				t.Fatalf("Ack: got %v, want nil", err)
			}
			if !tc.gatewayBye {
				if err := out.dlg.Bye(ctx); err != nil {
					t.Errorf("Bye: got %v, want nil (200)", err)
				}
				return
			}
			select {
			case bye := <-u.byes:
				if got, want := bye.CallID().Value(), out.dlg.InviteRequest.CallID().Value(); got != want {
					t.Errorf("BYE Call-ID: got %v, want %v", got, want)
				}
				want := `Q.850;cause=16;text="Normal call clearing"`
				if h := bye.GetHeader("Reason"); h == nil || h.Value() != want {
					t.Errorf("BYE Reason: got %v, want %v", h, want)
				}
			case <-ctx.Done():
				t.Fatalf("BYE from gateway: got none, want one after TalkTime")
			}
		})
	}
}

func TestRejectedCalls(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		number     string
		wantCodes  []int
		wantReason string // the Reason header of the final response
	}{
		{name: "486 busy", number: "15550100486", wantCodes: []int{100, 180, 486}, wantReason: `Q.850;cause=17;text="User busy"`},
		{name: "404 not found", number: "15550100404", wantCodes: []int{100, 404}, wantReason: `Q.850;cause=1;text="Unallocated (unassigned) number"`},
		{name: "403 forbidden", number: "15550100403", wantCodes: []int{100, 403}, wantReason: `Q.850;cause=21;text="Call rejected"`},
		{name: "480 no answer", number: "15550100480", wantCodes: []int{100, 180, 480}, wantReason: `Q.850;cause=18;text="No user responding"`},
		{name: "503 congestion", number: "15550100503", wantCodes: []int{100, 503}, wantReason: `Q.850;cause=34;text="No circuit/channel available"`},
		{name: "603 decline", number: "15550100603", wantCodes: []int{100, 603}, wantReason: `Q.850;cause=21;text="Call rejected"`},
	}
	g, _ := startGateway(t, testConfig())
	u := newUAC(t, "udp")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
			defer cancel()
			out := u.dial(ctx, g.Addr(), tc.number, dialOpts{})
			if !slices.Equal(out.codes, tc.wantCodes) {
				t.Errorf("responses: got %v, want %v", out.codes, tc.wantCodes)
			}
			rej, ok := errors.AsType[*sipgo.ErrDialogResponse](out.err)
			if !ok {
				t.Fatalf("WaitAnswer: got %v, want *sipgo.ErrDialogResponse", out.err)
			}
			if h := rej.Res.GetHeader("Reason"); h == nil || h.Value() != tc.wantReason {
				t.Errorf("Reason: got %v, want %v", h, tc.wantReason)
			}
		})
	}
}

func TestCancelWhileRinging(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		number    string
		wantCodes []int
		wantSDP   bool // the 18x carries early media
	}{
		{name: "180 rings until cancel", number: "15550100180", wantCodes: []int{100, 180}},
		{name: "183 early media until cancel", number: "15550100183", wantCodes: []int{100, 183}, wantSDP: true},
	}
	g, _ := startGateway(t, testConfig())
	u := newUAC(t, "udp")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
			defer cancel()
			ring, hangUp := context.WithCancel(ctx)
			var gotSDP bool
			out := u.dial(ring, g.Addr(), tc.number, dialOpts{onResponse: func(r *sip.Response) {
				if r.StatusCode >= 180 {
					gotSDP = len(r.Body()) > 0
					hangUp() // sipgo then sends CANCEL and waits for the 487
				}
			}})
			if !errors.Is(out.err, context.Canceled) {
				t.Fatalf("WaitAnswer: got %v, want %v", out.err, context.Canceled)
			}
			if !slices.Equal(out.codes, tc.wantCodes) {
				t.Errorf("responses: got %v, want %v", out.codes, tc.wantCodes)
			}
			if gotSDP != tc.wantSDP {
				t.Errorf("18x with SDP: got %v, want %v", gotSDP, tc.wantSDP)
			}
			if res := out.dlg.InviteResponse; res == nil || res.StatusCode != 487 {
				t.Errorf("final response: got %v, want 487", res)
			}
		})
	}
}

func TestSilence(t *testing.T) {
	t.Parallel()
	g, _ := startGateway(t, testConfig())
	u := newUAC(t, "udp")

	// WaitAnswerForceCancelErr: with nothing received, a plain deadline would make sipgo
	// wait for Timer B before it gave up (sipgo-notes §1.7).
	ctx, cancel := context.WithTimeoutCause(t.Context(), 500*time.Millisecond, sipgo.WaitAnswerForceCancelErr)
	defer cancel()
	out := u.dial(ctx, g.Addr(), "15550100000", dialOpts{})
	if len(out.codes) != 0 {
		t.Errorf("responses: got %v, want none", out.codes)
	}
	if !errors.Is(out.err, context.DeadlineExceeded) || out.dlg == nil {
		t.Fatalf("WaitAnswer: got %v, want %v", out.err, context.DeadlineExceeded)
	}

	// A CANCEL for the silent call is ignored too.
	inv := out.dlg.InviteRequest
	cancelReq := sip.NewRequest(sip.CANCEL, inv.Recipient)
	cancelReq.AppendHeader(sip.HeaderClone(inv.Via()))
	cancelReq.AppendHeader(sip.HeaderClone(inv.From()))
	cancelReq.AppendHeader(sip.HeaderClone(inv.To()))
	cancelReq.AppendHeader(sip.HeaderClone(inv.CallID()))
	cancelReq.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	tx, err := u.cli.TransactionRequest(t.Context(), cancelReq)
	if err != nil {
		t.Fatalf("CANCEL: %v", err)
	}
	defer tx.Terminate()
	select {
	case res := <-tx.Responses():
		t.Errorf("CANCEL response: got %v, want none", res.StartLine())
	case <-time.After(300 * time.Millisecond):
	}
}

func TestOutOfDialogRequests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		method   sip.RequestMethod
		number   string
		wantCode int
	}{
		{name: "options keepalive", method: sip.OPTIONS, number: "gateway", wantCode: 200},
		{name: "unknown bye", method: sip.BYE, number: "15550100201", wantCode: 481},
		{name: "cancel for no transaction", method: sip.CANCEL, number: "15550100180", wantCode: 481},
	}
	g, _ := startGateway(t, testConfig())
	u := newUAC(t, "udp")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
			defer cancel()
			to := &sip.ToHeader{Address: u.uri(tc.number, g.Addr())}
			to.Params = sip.NewParams()
			to.Params.Add("tag", "no-such-dialog")
			res, err := u.request(ctx, tc.method, g.Addr(), tc.number, to)
			if err != nil {
				t.Fatalf("%s: got %v, want a response", tc.method, err)
			}
			if res.StatusCode != tc.wantCode {
				t.Errorf("%s: got %v, want %v", tc.method, res.StatusCode, tc.wantCode)
			}
		})
	}
}

// Stopping the gateway ends a ringing call with 503 rather than leaving it to Timer B, and
// Run returns nil.
func TestShutdownWhileRinging(t *testing.T) {
	t.Parallel()
	g, stop := startGateway(t, testConfig())
	u := newUAC(t, "udp")
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	stopped := make(chan error, 1) // stop's one result
	out := u.dial(ctx, g.Addr(), "15550100180", dialOpts{onResponse: func(r *sip.Response) {
		if r.StatusCode == 180 {
			go func() { stopped <- stop() }()
		}
	}})
	if err := <-stopped; err != nil {
		t.Errorf("Run: got %v, want nil", err)
	}
	if !slices.Equal(out.codes, []int{100, 180, 503}) {
		t.Errorf("responses: got %v, want %v", out.codes, []int{100, 180, 503})
	}
	if err := g.Run(t.Context()); !errors.Is(err, ErrAlreadyRun) {
		t.Errorf("second Run: got %v, want %v", err, ErrAlreadyRun)
	}
}
