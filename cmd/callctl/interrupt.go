package main

import (
	"context"
	"errors"
	"sync"

	"github.com/ccplane/telephony/client"
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

// request connects to the server and runs one request with a.interruptible; the connection
// is closed when it returns.
func request[T any](ctx context.Context, a *app, fn func(context.Context, *client.Client) (T, error)) (T, error) {
	var v T
	c, err := a.connect()
	if err != nil {
		return v, err
	}
	defer c.Close()
	err = a.interruptible(ctx, func(ctx context.Context) (err error) {
		v, err = fn(ctx, c)
		return err
	})
	return v, err
}
