package main

import (
	"context"
	"errors"
	"sync"
)

// errInterrupted ends a command stopped by the user; run exits 130 without a message.
var errInterrupted = errors.New("interrupted")

// interruptible runs fn with a context that the first interrupt cancels, and returns
// errInterrupted if that happened and fn failed. Its watcher goroutine has exited when it
// returns, so the next reader of a.interrupts gets the next signal.
func (a *app) interruptible(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-a.interrupts:
			cancel(errInterrupted)
		case <-stop:
		}
	})
	err := fn(ctx)
	close(stop)
	wg.Wait()
	if err != nil && errors.Is(context.Cause(ctx), errInterrupted) {
		return errInterrupted
	}
	return err
}
