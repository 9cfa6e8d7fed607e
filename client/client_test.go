package client

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/ccplane/telephony/client/clienttest"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

func TestTokenArrivesInMetadata(t *testing.T) {
	var got atomic.Value
	cc := serve(t, &clienttest.Service{
		GetCallFn: func(ctx context.Context, req *telephonyv1.GetCallRequest) (*telephonyv1.GetCallResponse, error) {
			md, _ := metadata.FromIncomingContext(ctx)
			got.Store(md.Get("authorization"))
			return &telephonyv1.GetCallResponse{Call: &telephonyv1.Call{CallId: req.GetCallId()}}, nil
		},
		WatchCallFn: func(req *telephonyv1.WatchCallRequest, s streamServer) error {
			md, _ := metadata.FromIncomingContext(s.Context())
			if v := md.Get("authorization"); len(v) != 1 || v[0] != "Bearer s3cret" {
				return status.Errorf(codes.Unauthenticated, "authorization %q", v)
			}
			return s.Send(event(1, true))
		},
	})
	c := New(cc, WithToken("s3cret"), WithInsecure())

	call, err := c.GetCall(t.Context(), "c1")
	if err != nil {
		t.Fatalf("GetCall: %v", err)
	}
	if call.GetCallId() != "c1" {
		t.Errorf("call id: got %q, want %q", call.GetCallId(), "c1")
	}
	if v := got.Load().([]string); len(v) != 1 || v[0] != "Bearer s3cret" {
		t.Errorf("authorization: got %q, want [\"Bearer s3cret\"]", v)
	}
	if err := c.Watch(t.Context(), "c1", 0, func(*telephonyv1.CallEvent) error { return nil }); err != nil {
		t.Errorf("Watch: got %v, want nil (token on the stream)", err)
	}
}

func TestTokenNeverSentInPlaintextUnlessTrusted(t *testing.T) {
	var calls atomic.Int32
	cc := serve(t, &clienttest.Service{
		GetCallFn: func(context.Context, *telephonyv1.GetCallRequest) (*telephonyv1.GetCallResponse, error) {
			calls.Add(1)
			return &telephonyv1.GetCallResponse{}, nil
		},
	})
	// New without WithInsecure over a plaintext connection: the token must not leave.
	c := New(cc, WithToken("s3cret"))
	_, err := c.GetCall(t.Context(), "c1")
	if got, want := status.Code(err), codes.Unauthenticated; got != want {
		t.Errorf("code: got %v, want %v (err %v)", got, want, err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("server calls: got %d, want 0", n)
	}
}

func TestDialRefusesTokenInPlaintextToRemote(t *testing.T) {
	if _, err := Dial("10.1.2.3:50051", WithToken("t")); !errors.Is(err, ErrTokenWithoutTLS) {
		t.Errorf("Dial(10.1.2.3, token, no TLS): got %v, want %v", err, ErrTokenWithoutTLS)
	}
	for _, target := range []string{"127.0.0.1:50051", "localhost:50051", "[::1]:50051", "dns:///localhost:1", "unix:///tmp/t.sock"} {
		c, err := Dial(target, WithToken("t"))
		if err != nil {
			t.Errorf("Dial(%s, token, no TLS): got %v, want nil", target, err)
			continue
		}
		_ = c.Close()
	}
	c, err := Dial("10.1.2.3:50051", WithToken("t"), WithTLS(nil))
	if err != nil {
		t.Errorf("Dial(10.1.2.3, token, TLS): got %v, want nil", err)
	} else {
		_ = c.Close()
	}
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		target string
		want   bool
	}{
		{target: "127.0.0.1:50051", want: true},
		{target: "127.9.9.9:1", want: true},
		{target: "localhost:50051", want: true},
		{target: "LOCALHOST", want: true},
		{target: "[::1]:50051", want: true},
		{target: "dns:///127.0.0.1:50051", want: true},
		{target: "dns:localhost:50051", want: true},
		{target: "passthrough:///localhost:1", want: true},
		{target: "unix:/run/telephony.sock", want: true},
		{target: "10.0.0.1:50051", want: false},
		{target: "telephony.example.com:443", want: false},
		{target: "dns://8.8.8.8/telephony.example.com:443", want: false},
		{target: "localhost.evil.com:1", want: false},
		{target: "[::2]:1", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			if got := isLoopback(tc.target); got != tc.want {
				t.Errorf("isLoopback(%q): got %v, want %v", tc.target, got, tc.want)
			}
		})
	}
}

// flaky answers Unavailable to its first `failures` calls and OK after that; it counts calls.
type flaky struct {
	failures int32
	calls    atomic.Int32
}

func (f *flaky) next() error {
	if f.calls.Add(1) <= f.failures {
		return status.Error(codes.Unavailable, "fake: down")
	}
	return nil
}

func TestUnaryRetry(t *testing.T) {
	tests := []struct {
		name      string
		call      func(context.Context, *Client) error
		failures  int32
		wantCalls int32
		wantCode  codes.Code
	}{
		{
			name:      "GetCall retried",
			call:      func(ctx context.Context, c *Client) error { _, err := c.GetCall(ctx, "c1"); return err },
			failures:  2,
			wantCalls: 3,
			wantCode:  codes.OK,
		},
		{
			name: "ListCalls retried",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.ListCalls(ctx, &telephonyv1.ListCallsRequest{})
				return err
			},
			failures:  1,
			wantCalls: 2,
			wantCode:  codes.OK,
		},
		{
			name:      "HangUp retried (idempotent)",
			call:      func(ctx context.Context, c *Client) error { _, err := c.HangUp(ctx, "c1"); return err },
			failures:  1,
			wantCalls: 2,
			wantCode:  codes.OK,
		},
		{
			name: "PlaceCall without request_id not retried",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.PlaceCall(ctx, &telephonyv1.PlaceCallRequest{Gateway: "gw", To: "1"})
				return err
			},
			failures:  1,
			wantCalls: 1,
			wantCode:  codes.Unavailable,
		},
		{
			name: "PlaceCall with request_id retried",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.PlaceCall(ctx, &telephonyv1.PlaceCallRequest{Gateway: "gw", To: "1", RequestId: "r1"})
				return err
			},
			failures:  1,
			wantCalls: 2,
			wantCode:  codes.OK,
		},
		{
			name:      "gives up after the attempt limit",
			call:      func(ctx context.Context, c *Client) error { _, err := c.GetCall(ctx, "c1"); return err },
			failures:  100,
			wantCalls: 3,
			wantCode:  codes.Unavailable,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &flaky{failures: tc.failures}
			cc := serve(t, &clienttest.Service{
				PlaceCallFn: func(context.Context, *telephonyv1.PlaceCallRequest) (*telephonyv1.PlaceCallResponse, error) {
					return &telephonyv1.PlaceCallResponse{Call: &telephonyv1.Call{CallId: "c1"}}, f.next()
				},
				HangUpFn: func(context.Context, *telephonyv1.HangUpRequest) (*telephonyv1.HangUpResponse, error) {
					return &telephonyv1.HangUpResponse{}, f.next()
				},
				GetCallFn: func(context.Context, *telephonyv1.GetCallRequest) (*telephonyv1.GetCallResponse, error) {
					return &telephonyv1.GetCallResponse{}, f.next()
				},
				ListCallsFn: func(context.Context, *telephonyv1.ListCallsRequest) (*telephonyv1.ListCallsResponse, error) {
					return &telephonyv1.ListCallsResponse{}, f.next()
				},
			})
			c := New(cc, WithRetry(3, time.Millisecond))
			err := tc.call(t.Context(), c)
			if got := status.Code(err); got != tc.wantCode {
				t.Errorf("code: got %v, want %v (err %v)", got, tc.wantCode, err)
			}
			if got := f.calls.Load(); got != tc.wantCalls {
				t.Errorf("server calls: got %d, want %d", got, tc.wantCalls)
			}
		})
	}
}

func TestUnaryErrorsPassThrough(t *testing.T) {
	var calls atomic.Int32
	cc := serve(t, &clienttest.Service{
		GetCallFn: func(context.Context, *telephonyv1.GetCallRequest) (*telephonyv1.GetCallResponse, error) {
			calls.Add(1)
			return nil, status.Error(codes.NotFound, "call c9 not found")
		},
	})
	_, err := New(cc, WithRetry(3, time.Millisecond)).GetCall(t.Context(), "c9")
	st := status.Convert(err)
	if st.Code() != codes.NotFound || st.Message() != "call c9 not found" {
		t.Errorf("err: got %v, want NotFound %q", err, "call c9 not found")
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("server calls: got %d, want 1", n)
	}
}

func TestUnaryDeadline(t *testing.T) {
	cc := serve(t, &clienttest.Service{
		GetCallFn: func(ctx context.Context, _ *telephonyv1.GetCallRequest) (*telephonyv1.GetCallResponse, error) {
			if _, ok := ctx.Deadline(); !ok {
				return nil, status.Error(codes.FailedPrecondition, "no deadline")
			}
			return &telephonyv1.GetCallResponse{}, nil
		},
		HangUpFn: func(ctx context.Context, _ *telephonyv1.HangUpRequest) (*telephonyv1.HangUpResponse, error) {
			<-ctx.Done()
			return nil, status.FromContextError(ctx.Err()).Err()
		},
	})
	if _, err := New(cc).GetCall(t.Context(), "c1"); err != nil {
		t.Errorf("GetCall with the default timeout: got %v, want a deadline on the server", err)
	}
	_, err := New(cc, WithTimeout(50*time.Millisecond)).HangUp(t.Context(), "c1")
	if got, want := status.Code(err), codes.DeadlineExceeded; got != want {
		t.Errorf("HangUp past the timeout: got %v, want %v", got, want)
	}
}

func TestBackoffIsBounded(t *testing.T) {
	b := backoff{attempts: 5, base: 100 * time.Millisecond, max: 1600 * time.Millisecond}
	for n := range 64 {
		d := b.delay(n)
		if d <= 0 || d > b.max {
			t.Fatalf("delay(%d): got %v, want in (0, %v]", n, d, b.max)
		}
	}
	if d := b.delay(0); d < 50*time.Millisecond || d > 100*time.Millisecond {
		t.Errorf("delay(0): got %v, want in [50ms, 100ms]", d)
	}
}
