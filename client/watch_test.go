package client

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ccplane/telephony/client/clienttest"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

type streamServer = grpc.ServerStreamingServer[telephonyv1.CallEvent]

// event returns event seq of call c1; the ended event is always the last of a call.
func event(seq uint64, ended bool) *telephonyv1.CallEvent {
	ev := &telephonyv1.CallEvent{CallId: "c1", Sequence: seq}
	if ended {
		ev.Kind = &telephonyv1.CallEvent_Ended{Ended: &telephonyv1.CallEndedEvent{}}
	} else {
		ev.Kind = &telephonyv1.CallEvent_StateChanged{StateChanged: &telephonyv1.StateChangedEvent{}}
	}
	return ev
}

// history is a scripted WatchCall: the call has events 1..last (last is ended), and each
// stream is cut after the number of events its entry in cuts allows, with cutCode. It
// records the after_sequence of every stream.
type history struct {
	last    uint64
	cuts    []int // events sent by stream i before it breaks; streams past the end run to the end
	cutCode codes.Code
	rewind  uint64 // resend this many already-seen events on reconnect (a misbehaving server)

	mu     sync.Mutex
	afters []uint64
}

func (h *history) watch(req *telephonyv1.WatchCallRequest, s streamServer) error {
	h.mu.Lock()
	n := len(h.afters)
	h.afters = append(h.afters, req.GetAfterSequence())
	h.mu.Unlock()
	from := req.GetAfterSequence() + 1
	if n > 0 && h.rewind > 0 {
		from -= min(h.rewind, from-1)
	}
	sent := 0
	for seq := from; seq <= h.last; seq++ {
		if n < len(h.cuts) && sent == h.cuts[n] {
			return status.Error(h.cutCode, "fake: stream cut")
		}
		if err := s.Send(event(seq, seq == h.last)); err != nil {
			return err
		}
		sent++
	}
	return nil
}

func (h *history) streams() []uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.afters)
}

// collect returns a Watch callback that records sequences, and the recorded sequences.
func collect() (func(*telephonyv1.CallEvent) error, func() []uint64) {
	var seqs []uint64
	return func(ev *telephonyv1.CallEvent) error {
			seqs = append(seqs, ev.GetSequence())
			return nil
		}, func() []uint64 {
			return seqs
		}
}

func seqRange(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func TestWatchResumes(t *testing.T) {
	tests := []struct {
		name       string
		h          *history
		after      uint64
		wantAfters []uint64
		wantSeqs   []uint64
	}{
		{
			name:       "unavailable mid-stream",
			h:          &history{last: 6, cuts: []int{3}, cutCode: codes.Unavailable},
			wantAfters: []uint64{0, 3},
			wantSeqs:   seqRange(1, 6),
		},
		{
			name:       "slow watcher cut with resource exhausted",
			h:          &history{last: 6, cuts: []int{2, 1}, cutCode: codes.ResourceExhausted},
			wantAfters: []uint64{0, 2, 3},
			wantSeqs:   seqRange(1, 6),
		},
		{
			name:       "cut before the first event",
			h:          &history{last: 3, cuts: []int{0}, cutCode: codes.Unavailable},
			wantAfters: []uint64{0, 0},
			wantSeqs:   seqRange(1, 3),
		},
		{
			name:       "starting after a sequence",
			h:          &history{last: 6, cuts: []int{1}, cutCode: codes.Unavailable},
			after:      2,
			wantAfters: []uint64{2, 3},
			wantSeqs:   seqRange(3, 6),
		},
		{
			name:       "server resends seen events",
			h:          &history{last: 6, cuts: []int{3}, cutCode: codes.Unavailable, rewind: 2},
			wantAfters: []uint64{0, 3},
			wantSeqs:   seqRange(1, 6),
		},
		{
			name: "progress resets the failure count",
			// Every stream breaks after one event: more breaks than attempts, but each one
			// made progress, so the watch completes.
			h:          &history{last: 6, cuts: []int{1, 1, 1, 1, 1}, cutCode: codes.Unavailable},
			wantAfters: []uint64{0, 1, 2, 3, 4, 5},
			wantSeqs:   seqRange(1, 6),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cc := serve(t, &clienttest.Service{WatchCallFn: tc.h.watch})
			c := New(cc, WithRetry(2, time.Millisecond))
			fn, seqs := collect()
			if err := c.Watch(t.Context(), "c1", tc.after, fn); err != nil {
				t.Fatalf("Watch: got %v, want nil", err)
			}
			if got := tc.h.streams(); !slices.Equal(got, tc.wantAfters) {
				t.Errorf("after_sequence per stream: got %v, want %v", got, tc.wantAfters)
			}
			if got := seqs(); !slices.Equal(got, tc.wantSeqs) {
				t.Errorf("delivered: got %v, want %v", got, tc.wantSeqs)
			}
		})
	}
}

func TestWatchReturnsNilAfterEnded(t *testing.T) {
	serverDone := make(chan error, 1) // one stream; the test reads it once
	cc := serve(t, &clienttest.Service{WatchCallFn: func(_ *telephonyv1.WatchCallRequest, s streamServer) error {
		if err := s.Send(event(1, false)); err != nil {
			return err
		}
		if err := s.Send(event(2, true)); err != nil {
			return err
		}
		// Keep the stream open: Watch must not need the server's close to finish.
		<-s.Context().Done()
		serverDone <- s.Context().Err()
		return nil
	}})
	fn, seqs := collect()
	if err := New(cc).Watch(t.Context(), "c1", 0, fn); err != nil {
		t.Fatalf("Watch: got %v, want nil", err)
	}
	if got, want := seqs(), []uint64{1, 2}; !slices.Equal(got, want) {
		t.Errorf("delivered: got %v, want %v", got, want)
	}
	select {
	case err := <-serverDone:
		if err == nil {
			t.Error("server stream context: got nil error, want cancelled")
		}
	case <-time.After(5 * time.Second):
		t.Error("the stream was not closed after the ended event")
	}
}

func TestWatchErrors(t *testing.T) {
	errStop := errors.New("stop here")
	tests := []struct {
		name        string
		watch       func(*telephonyv1.WatchCallRequest, streamServer) error
		fn          func(*telephonyv1.CallEvent) error
		wantCode    codes.Code
		wantErr     error // checked with errors.Is when set
		wantStreams int
	}{
		{
			name: "not found passes through",
			watch: func(*telephonyv1.WatchCallRequest, streamServer) error {
				return status.Error(codes.NotFound, "no call c1")
			},
			wantCode:    codes.NotFound,
			wantStreams: 1,
		},
		{
			name: "out of range passes through",
			watch: func(*telephonyv1.WatchCallRequest, streamServer) error {
				return status.Error(codes.OutOfRange, "after_sequence 9 beyond 6")
			},
			wantCode:    codes.OutOfRange,
			wantStreams: 1,
		},
		{
			name: "unavailable forever gives up",
			watch: func(*telephonyv1.WatchCallRequest, streamServer) error {
				return status.Error(codes.Unavailable, "down")
			},
			wantCode:    codes.Unavailable,
			wantStreams: 3,
		},
		{
			name: "fn error returned as is",
			watch: func(_ *telephonyv1.WatchCallRequest, s streamServer) error {
				_ = s.Send(event(1, false))
				<-s.Context().Done()
				return nil
			},
			fn:          func(*telephonyv1.CallEvent) error { return errStop },
			wantErr:     errStop,
			wantStreams: 1,
		},
		{
			name: "fn error with a retryable code is not retried",
			watch: func(_ *telephonyv1.WatchCallRequest, s streamServer) error {
				_ = s.Send(event(1, false))
				<-s.Context().Done()
				return nil
			},
			fn:          func(*telephonyv1.CallEvent) error { return status.Error(codes.Unavailable, "fn") },
			wantCode:    codes.Unavailable,
			wantStreams: 1,
		},
		{
			name: "gap is an error",
			watch: func(_ *telephonyv1.WatchCallRequest, s streamServer) error {
				_ = s.Send(event(1, false))
				_ = s.Send(event(3, true))
				return nil
			},
			wantCode:    codes.Unknown,
			wantStreams: 1,
		},
		{
			name: "closed before ended is an error",
			watch: func(_ *telephonyv1.WatchCallRequest, s streamServer) error {
				return s.Send(event(1, false))
			},
			wantCode:    codes.Unknown,
			wantStreams: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			streams := 0
			cc := serve(t, &clienttest.Service{WatchCallFn: func(req *telephonyv1.WatchCallRequest, s streamServer) error {
				mu.Lock()
				streams++
				mu.Unlock()
				return tc.watch(req, s)
			}})
			fn := tc.fn
			if fn == nil {
				fn = func(*telephonyv1.CallEvent) error { return nil }
			}
			err := New(cc, WithRetry(3, time.Millisecond)).Watch(t.Context(), "c1", 0, fn)
			if err == nil {
				t.Fatal("Watch: got nil, want an error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("err: got %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && status.Code(err) != tc.wantCode {
				t.Errorf("code: got %v, want %v (err %v)", status.Code(err), tc.wantCode, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if streams != tc.wantStreams {
				t.Errorf("streams opened: got %d, want %d", streams, tc.wantStreams)
			}
		})
	}
}

func TestWatchCancelled(t *testing.T) {
	cc := serve(t, &clienttest.Service{WatchCallFn: func(_ *telephonyv1.WatchCallRequest, s streamServer) error {
		if err := s.Send(event(1, false)); err != nil {
			return err
		}
		<-s.Context().Done()
		return status.FromContextError(s.Context().Err()).Err()
	}})
	ctx, cancel := context.WithCancel(t.Context())
	err := New(cc).Watch(ctx, "c1", 0, func(*telephonyv1.CallEvent) error {
		cancel()
		return nil
	})
	if got, want := status.Code(err), codes.Canceled; got != want {
		t.Errorf("code: got %v, want %v (err %v)", got, want, err)
	}
}
