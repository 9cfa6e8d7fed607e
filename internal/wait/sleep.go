// Package wait holds the one way the project waits for a while: until a duration passes or
// the caller's context ends, whichever comes first.
package wait

import (
	"context"
	"time"
)

// Sleep waits d and returns nil, or ctx's error as soon as ctx ends. With d ≤ 0 it only
// reports whether ctx has ended.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
