// Package resubscribe keeps a Redis subscription open across failures, for the parts that
// follow Redis pub/sub (the directions cache, the call event streams).
package resubscribe

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/ccplane/telephony/internal/wait"
)

// Bounds of the wait before subscribing again. The cap keeps a long outage from delaying the
// return of notifications much past the server's.
const (
	MinBackoff = 100 * time.Millisecond
	MaxBackoff = 5 * time.Second
)

// Hold calls listen until ctx ends, then returns. listen subscribes, calls up each time the
// subscription works, and returns when it fails. After each failure Hold calls failed, with
// first true for the first one since the subscription last worked (to log an outage once),
// and waits a backoff from MinBackoff doubling to MaxBackoff, jittered so that instances do
// not come back in step; up resets it, and calls restored when it ends an outage.
func Hold(ctx context.Context, listen func(up func()) error, failed func(err error, first bool), restored func()) {
	backoff, down := MinBackoff, false
	up := func() {
		if down {
			restored()
		}
		backoff, down = MinBackoff, false
	}
	for {
		err := listen(up)
		if ctx.Err() != nil {
			return
		}
		failed(err, !down)
		down = true
		pause := backoff/2 + rand.N(backoff/2)
		backoff = min(2*backoff, MaxBackoff)
		if wait.Sleep(ctx, pause) != nil {
			return
		}
	}
}
