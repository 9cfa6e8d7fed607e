package client

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// Watch streams the events of a call with a sequence greater than after (0 = from the first
// event) to fn, in order, each exactly once.
//
// When the stream breaks with Unavailable (connection lost, server restarting) or
// ResourceExhausted (this watcher fell too far behind), Watch reopens it after the last
// sequence delivered, with a short backoff. It gives up after the configured number of
// consecutive failed streams (WithRetry; a stream that delivered an event resets the count)
// and returns the last error.
//
// Watch returns nil once fn has accepted the `ended` event, which is always the call's last;
// fn's error, unchanged, if fn fails (the stream is then closed); otherwise the status error
// that ended the watch, e.g. NotFound, OutOfRange, or Canceled when ctx ends. fn runs on the
// caller's goroutine; a slow fn delays reading, and the server may then cut the stream with
// ResourceExhausted, which Watch absorbs by resuming.
func (c *Client) Watch(ctx context.Context, callID string, after uint64, fn func(*telephonyv1.CallEvent) error) error {
	last := after
	failures := 0
	for {
		progressed, err := c.watchOnce(ctx, callID, &last, fn)
		if err == nil {
			return nil
		}
		if fe, ok := errors.AsType[fnError](err); ok {
			return fe.err
		}
		if ctx.Err() != nil {
			return status.FromContextError(ctx.Err()).Err()
		}
		if !resumable(err) {
			return err
		}
		if progressed {
			failures = 0
		}
		failures++
		if failures >= c.retry.attempts {
			return err
		}
		if werr := c.retry.wait(ctx, failures-1); werr != nil {
			return werr
		}
	}
}

// resumable reports whether a broken stream may be reopened from the last sequence seen.
func resumable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.ResourceExhausted:
		return true
	}
	return false
}

// fnError marks an error returned by the caller's fn, so Watch returns it as it is.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// watchOnce runs one WatchCall stream from *last, advancing *last with every event handed
// to fn. It returns nil after the ended event, and reports whether any event was delivered.
func (c *Client) watchOnce(ctx context.Context, callID string, last *uint64, fn func(*telephonyv1.CallEvent) error) (progressed bool, err error) {
	// Cancelling ends the stream when we stop before the server does (ended, fn failed).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.WatchCall(ctx, &telephonyv1.WatchCallRequest{CallId: callID, AfterSequence: *last}, c.callOpts...)
	if err != nil {
		return false, err
	}
	for {
		ev, err := stream.Recv()
		if err == io.EOF {
			return progressed, fmt.Errorf("client: watch %s: the server closed the stream after event %d, before the call ended", callID, *last)
		}
		if err != nil {
			return progressed, err
		}
		seq := ev.GetSequence()
		if seq <= *last {
			// Already delivered; the server should not resend it, but fn must never see it twice.
			continue
		}
		if seq != *last+1 {
			return progressed, fmt.Errorf("client: watch %s: got event %d after %d; events are missing", callID, seq, *last)
		}
		*last = seq
		progressed = true
		if err := fn(ev); err != nil {
			return progressed, fnError{err}
		}
		if ev.GetEnded() != nil {
			return progressed, nil
		}
	}
}
