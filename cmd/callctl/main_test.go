package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ccplane/telephony/client/clienttest"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// result is what one in-process run of callctl produced.
type result struct {
	code           int
	stdout, stderr string
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// runCLI runs callctl with args against addr (if not empty), with the given environment and
// interrupts channel, an empty stdin, and a clock fixed at t0 + 1 minute.
func runCLI(t *testing.T, addr string, env map[string]string, interrupts <-chan os.Signal, args ...string) result {
	t.Helper()
	return runCLIStdin(t, "", addr, env, interrupts, args...)
}

// runCLIStdin is runCLI with stdin.
func runCLIStdin(t *testing.T, stdin, addr string, env map[string]string, interrupts <-chan os.Signal, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{
		stdin:      strings.NewReader(stdin),
		stdout:     &stdout,
		stderr:     &stderr,
		getenv:     func(k string) string { return env[k] },
		interrupts: interrupts,
		now:        func() time.Time { return t0.Add(time.Minute) },
	}
	if addr != "" {
		args = append([]string{"--addr", addr}, args...)
	}
	code := a.run(t.Context(), args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // substring
		wantStderr string // substring
	}{
		{name: "help", args: []string{"help"}, wantCode: 0, wantStdout: "Commands:\n  place --gateway G"},
		{name: "-h", args: []string{"-h"}, wantCode: 0, wantStdout: "Global flags:"},
		{name: "help place", args: []string{"help", "place"}, wantCode: 0, wantStdout: "--header X-NAME=VALUE"},
		{name: "command -h", args: []string{"list", "-h"}, wantCode: 0, wantStdout: "usage: callctl [global flags] list [flags]"},
		{name: "no command", args: nil, wantCode: 2, wantStderr: "callctl: no command given\n\nusage: callctl [global flags] COMMAND"},
		{name: "unknown command", args: []string{"dial"}, wantCode: 2, wantStderr: `callctl: unknown command "dial"`},
		{name: "unknown global flag", args: []string{"--verbose", "list"}, wantCode: 2, wantStderr: "flag provided but not defined: -verbose"},
		{
			name: "bad header", args: []string{"place", "--gateway", "g", "--to", "1", "--header", "X"}, wantCode: 2,
			wantStderr: "callctl: invalid value \"X\" for flag -header: want NAME=VALUE\n\nusage: callctl [global flags] place",
		},
		{name: "get without id", args: []string{"get"}, wantCode: 2, wantStderr: "callctl: get: CALL_ID is required"},
		{name: "help lists report", args: []string{"help"}, wantCode: 0, wantStdout: "\n  report [flags]     "},
		{name: "help report", args: []string{"help", "report"}, wantCode: 0, wantStdout: "usage: callctl [global flags] report [flags]\n"},
		{name: "report -h", args: []string{"report", "-h"}, wantCode: 0, wantStdout: "--last DURATION     calls created in the DURATION up to now"},
		{name: "help list", args: []string{"help", "list"}, wantCode: 0, wantStdout: "  --code N             only calls whose last response code is N (0 = no response)\n"},
		{
			name: "unknown cause", args: []string{"list", "--cause", "busy"}, wantCode: 2,
			wantStderr: `callctl: list: --cause: unknown cause "busy" (want one of hangup_requested, ring_timeout,`,
		},
		{
			name: "report with --last and --from", args: []string{"report", "--last", "24h", "--from", "2026-11-25"}, wantCode: 2,
			wantStderr: "callctl: report: give --from or --last, not both\n\nusage: callctl [global flags] report [flags]",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, "", nil, nil, tc.args...)
			if r.code != tc.wantCode {
				t.Errorf("exit: got %d, want %d (stderr %q)", r.code, tc.wantCode, r.stderr)
			}
			if !strings.Contains(r.stdout, tc.wantStdout) {
				t.Errorf("stdout: got %q, want it to contain %q", r.stdout, tc.wantStdout)
			}
			if !strings.Contains(r.stderr, tc.wantStderr) {
				t.Errorf("stderr: got %q, want it to contain %q", r.stderr, tc.wantStderr)
			}
		})
	}
}

func TestGet(t *testing.T) {
	var mu sync.Mutex
	var auth []string
	addr := serve(t, &clienttest.Service{
		GetCallFn: func(ctx context.Context, req *telephonyv1.GetCallRequest) (*telephonyv1.GetCallResponse, error) {
			md, _ := metadata.FromIncomingContext(ctx)
			mu.Lock()
			auth = md.Get("authorization")
			mu.Unlock()
			if req.GetCallId() != endedCall().GetCallId() {
				return nil, status.Errorf(codes.NotFound, "call %s not found", req.GetCallId())
			}
			return &telephonyv1.GetCallResponse{Call: endedCall()}, nil
		},
	})
	env := map[string]string{envToken: "s3cret"}

	r := runCLI(t, addr, env, nil, "get", endedCall().GetCallId())
	if r.code != 0 || !strings.HasPrefix(r.stdout, "call         0b6f7c1e-") || r.stderr != "" {
		t.Errorf("get: got exit %d stdout %q stderr %q, want 0 and a call block", r.code, r.stdout, r.stderr)
	}
	mu.Lock()
	if want := []string{"Bearer s3cret"}; !cmp.Equal(auth, want) {
		t.Errorf("authorization: got %q, want %q", auth, want)
	}
	mu.Unlock()

	r = runCLI(t, addr, env, nil, "--json", "get", endedCall().GetCallId())
	var got telephonyv1.Call
	if err := protojson.Unmarshal([]byte(r.stdout), &got); err != nil || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("--json get: got %q (%v), want one protojson line", r.stdout, err)
	}
	if diff := cmp.Diff(endedCall(), &got, protocmp.Transform()); diff != "" {
		t.Errorf("--json get (-want +got):\n%s", diff)
	}

	r = runCLI(t, addr, env, nil, "get", "c9")
	if r.code != 1 || r.stderr != "callctl: NotFound: call c9 not found\n" {
		t.Errorf("get unknown: got exit %d stderr %q, want 1 %q", r.code, r.stderr, "callctl: NotFound: call c9 not found\n")
	}
}

func TestErrorDetails(t *testing.T) {
	addr := serve(t, &clienttest.Service{
		PlaceCallFn: func(context.Context, *telephonyv1.PlaceCallRequest) (*telephonyv1.PlaceCallResponse, error) {
			st, _ := status.New(codes.PermissionDenied, "number 888 not allowed on carrier-a").
				WithDetails(&errdetails.ErrorInfo{Reason: "DIRECTION_BLOCKED", Domain: "telephony"})
			return nil, st.Err()
		},
	})
	r := runCLI(t, addr, nil, nil, "place", "--gateway", "carrier-a", "--to", "888")
	want := "callctl: PermissionDenied: number 888 not allowed on carrier-a (DIRECTION_BLOCKED)\n"
	if r.code != 1 || r.stderr != want {
		t.Errorf("got exit %d stderr %q, want 1 %q", r.code, r.stderr, want)
	}
}

func TestTokenRefusedInPlaintextToRemote(t *testing.T) {
	r := runCLI(t, "", nil, nil, "--addr", "192.0.2.1:50051", "--token", "t", "get", "c1")
	if r.code != 1 || !strings.Contains(r.stderr, "use --tls or --ca") {
		t.Errorf("got exit %d stderr %q, want 1 and a hint to use TLS", r.code, r.stderr)
	}
}

func TestList(t *testing.T) {
	var got *telephonyv1.ListCallsRequest
	addr := serve(t, &clienttest.Service{
		ListCallsFn: func(_ context.Context, req *telephonyv1.ListCallsRequest) (*telephonyv1.ListCallsResponse, error) {
			got = req
			return &telephonyv1.ListCallsResponse{Calls: []*telephonyv1.Call{endedCall()}, NextPageToken: "p2"}, nil
		},
	})
	r := runCLI(t, addr, nil, nil, "list", "--state", "ended", "--label", "agent_id=7", "--limit", "1")
	if r.code != 0 {
		t.Fatalf("list: exit %d, stderr %q", r.code, r.stderr)
	}
	want := &telephonyv1.ListCallsRequest{
		State: telephonyv1.CallState_CALL_STATE_ENDED, Labels: map[string]string{"agent_id": "7"}, PageSize: 1,
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(r.stdout, "CALL ID ") || !strings.HasSuffix(r.stdout, "\nmore: --page-token p2\n") {
		t.Errorf("stdout: got %q, want a table and the next page token", r.stdout)
	}
}

// callScript is a fake call for place --watch: it plays events 1..3, then waits for HangUp
// before it plays the hang-up and the ended event.
type callScript struct {
	ready   chan struct{} // closed when events 1..3 are sent
	hungUp  chan struct{} // closed by HangUp
	endCall bool          // false: HangUp never ends the call

	mu      sync.Mutex
	hangUps []string
}

func newCallScript(endCall bool) *callScript {
	return &callScript{ready: make(chan struct{}), hungUp: make(chan struct{}), endCall: endCall}
}

func (s *callScript) service() *clienttest.Service {
	call := endedCall()
	return &clienttest.Service{
		PlaceCallFn: func(context.Context, *telephonyv1.PlaceCallRequest) (*telephonyv1.PlaceCallResponse, error) {
			c := endedCall()
			c.State, c.LastResponse, c.Termination, c.EndedAt, c.AnsweredAt, c.ProgressAt = telephonyv1.CallState_CALL_STATE_DIALING, nil, nil, nil, nil, nil
			return &telephonyv1.PlaceCallResponse{Call: c}, nil
		},
		HangUpFn: func(ctx context.Context, req *telephonyv1.HangUpRequest) (*telephonyv1.HangUpResponse, error) {
			s.mu.Lock()
			s.hangUps = append(s.hangUps, req.GetCallId())
			first := len(s.hangUps) == 1
			s.mu.Unlock()
			if !s.endCall {
				<-ctx.Done()
				return nil, status.FromContextError(ctx.Err()).Err()
			}
			if first {
				close(s.hungUp)
			}
			return &telephonyv1.HangUpResponse{Call: call}, nil
		},
		WatchCallFn: func(req *telephonyv1.WatchCallRequest, st streamServer) error {
			events := []*telephonyv1.CallEvent{
				sipRequest(1, "INVITE"),
				sipResponse(2, 100, "Trying"),
				sipResponse(3, 180, "Ringing"),
			}
			for _, ev := range events {
				if err := st.Send(ev); err != nil {
					return err
				}
			}
			close(s.ready)
			select {
			case <-s.hungUp:
			case <-st.Context().Done():
				return nil
			}
			if err := st.Send(sipRequest(4, "CANCEL")); err != nil {
				return err
			}
			return st.Send(&telephonyv1.CallEvent{CallId: call.GetCallId(), Sequence: 5, Time: timestamppb.New(t0),
				Kind: &telephonyv1.CallEvent_Ended{Ended: &telephonyv1.CallEndedEvent{Termination: call.GetTermination(), Call: call}}})
		},
	}
}

func TestPlaceWatchHangsUpOnInterrupt(t *testing.T) {
	s := newCallScript(true)
	addr := serve(t, s.service())
	interrupts := make(chan os.Signal, 2)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		select {
		case <-s.ready:
			interrupts <- os.Interrupt
		case <-time.After(10 * time.Second):
		}
	})
	r := runCLI(t, addr, nil, interrupts, "place", "--gateway", "carrier-a", "--to", "4930123456", "--watch")
	if r.code != 0 {
		t.Fatalf("exit: got %d, want 0 (stderr %q)", r.code, r.stderr)
	}
	wantTail := strings.Join([]string{
		"invite sent  +0.010s after created",
		"",
		"  #1  +0.000s  → INVITE",
		"  #2  +0.000s  ← 100 Trying",
		"  #3  +0.000s  ← 180 Ringing",
		"  #4  +0.000s  → CANCEL",
		"  #5  +0.000s  ended: kill / hangup_requested, last 200 OK",
		"",
	}, "\n")
	if !strings.HasSuffix(r.stdout, wantTail) {
		t.Errorf("stdout: got\n%s\nwant it to end with\n%s", r.stdout, wantTail)
	}
	if want := "callctl: hanging up " + endedCall().GetCallId() + "; interrupt again to stop watching\n"; r.stderr != want {
		t.Errorf("stderr: got %q, want %q", r.stderr, want)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if want := []string{endedCall().GetCallId()}; !cmp.Equal(s.hangUps, want) {
		t.Errorf("HangUp calls: got %q, want %q", s.hangUps, want)
	}
}

func TestPlaceWatchSecondInterruptStops(t *testing.T) {
	s := newCallScript(false) // the hang-up never completes
	addr := serve(t, s.service())
	interrupts := make(chan os.Signal, 2)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		select {
		case <-s.ready:
			interrupts <- os.Interrupt
			interrupts <- os.Interrupt
		case <-time.After(10 * time.Second):
		}
	})
	r := runCLI(t, addr, nil, interrupts, "place", "--gateway", "carrier-a", "--to", "4930123456", "--watch")
	if r.code != exitInterrupted {
		t.Errorf("exit: got %d, want %d (stderr %q)", r.code, exitInterrupted, r.stderr)
	}
}

func TestPlaceWatchGivesUp(t *testing.T) {
	s := newCallScript(false) // the hang-up never completes, and nobody interrupts twice
	addr := serve(t, s.service())
	interrupts := make(chan os.Signal, 2)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		select {
		case <-s.ready:
			interrupts <- os.Interrupt
		case <-time.After(10 * time.Second):
		}
	})
	start := time.Now()
	r := runCLI(t, addr, nil, interrupts, "--timeout", "100ms", "place", "--gateway", "carrier-a", "--to", "4930123456", "--watch")
	if r.code != 1 || !strings.Contains(r.stderr, "did not end within 200ms of the hang-up: stopped watching") {
		t.Errorf("got exit %d stderr %q, want 1 and a give-up message", r.code, r.stderr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v, want about twice --timeout", d)
	}
}

func TestWatchJSON(t *testing.T) {
	s := newCallScript(true)
	close(s.hungUp) // play the whole call
	addr := serve(t, s.service())
	r := runCLI(t, addr, nil, nil, "--json", "watch", endedCall().GetCallId())
	if r.code != 0 {
		t.Fatalf("exit: got %d, want 0 (stderr %q)", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want 5 events:\n%s", len(lines), r.stdout)
	}
	for i, line := range lines {
		var ev telephonyv1.CallEvent
		if err := protojson.Unmarshal([]byte(line), &ev); err != nil || ev.GetSequence() != uint64(i+1) {
			t.Errorf("line %d: got %q (%v), want event %d", i+1, line, err, i+1)
		}
	}
}
