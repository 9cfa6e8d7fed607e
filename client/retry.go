package client

import (
	"context"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ccplane/telephony/internal/wait"
)

// backoff bounds retries: how many tries, and how long to wait between them.
type backoff struct {
	attempts int
	base     time.Duration
	max      time.Duration
}

// delay returns the wait before try number n+1 (n from 0): base·2ⁿ capped at max, jittered
// into its upper half so that clients cut off together do not come back together.
func (b backoff) delay(n int) time.Duration {
	d := b.max
	if n < 16 && b.base<<n < b.max {
		d = b.base << n
	}
	return d/2 + rand.N(d/2+1)
}

// wait sleeps before try number n+1, or returns ctx's error as a status error.
func (b backoff) wait(ctx context.Context, n int) error {
	if err := wait.Sleep(ctx, b.delay(n)); err != nil {
		return status.FromContextError(err).Err()
	}
	return nil
}

// rpcFunc is the shape of a generated unary client method.
type rpcFunc[Req, Resp any] func(context.Context, Req, ...grpc.CallOption) (Resp, error)

// invoke runs one unary RPC under the client's deadline. When retry is true, an Unavailable
// answer is retried with backoff up to the attempt limit; any other error, and the last
// Unavailable, is returned unchanged so callers can read its code.
func invoke[Req, Resp any](ctx context.Context, c *Client, retry bool, fn rpcFunc[Req, Resp], req Req) (Resp, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	for n := 0; ; n++ {
		resp, err := fn(ctx, req, c.callOpts...)
		if err == nil || !retry || status.Code(err) != codes.Unavailable || n+1 >= c.retry.attempts {
			return resp, err
		}
		if c.retry.wait(ctx, n) != nil {
			// Out of time: the Unavailable says more about the cause than the deadline does.
			return resp, err
		}
	}
}
