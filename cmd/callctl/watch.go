package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sync"
	"time"

	"github.com/ccplane/telephony/client"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// watchOptions are the flags of the watch command.
type watchOptions struct {
	callID string
	after  uint64
}

func watchFlagSet() (*flag.FlagSet, *watchOptions) {
	o := &watchOptions{}
	fs := newFlagSet("watch")
	fs.Uint64Var(&o.after, "after", 0, "start after event `N` (0 = from the first event)")
	return fs, o
}

// parseWatch parses the watch command line; every error is a usageError or helpError.
func parseWatch(args []string) (*watchOptions, error) {
	fs, o := watchFlagSet()
	id, err := parseCallID(fs, "watch", args)
	if err != nil {
		return nil, err
	}
	o.callID = id
	return o, nil
}

func runWatch(ctx context.Context, a *app, args []string) error {
	o, err := parseWatch(args)
	if err != nil {
		return err
	}
	_, err = request(ctx, a, func(ctx context.Context, c *client.Client) (struct{}, error) {
		return struct{}{}, c.Watch(ctx, o.callID, o.after, a.eventPrinter())
	})
	return err
}

// eventPrinter returns a Watch callback that prints each event as JSON or as a human line.
func (a *app) eventPrinter() func(*telephonyv1.CallEvent) error {
	var f client.EventFormatter
	return func(ev *telephonyv1.CallEvent) error {
		if a.global.json {
			return a.printJSON(ev)
		}
		_, err := fmt.Fprintln(a.stdout, f.Format(ev))
		return err
	}
}

// errGaveUp cancels a watch that outlived its grace period after a hang-up.
var errGaveUp = errors.New("stopped watching")

// follow watches a call the user placed until it ends. The first interrupt hangs the call up
// and keeps watching, so the user sees how it ended, for at most twice --timeout; a second
// interrupt stops at once.
func (a *app) follow(ctx context.Context, c *client.Client, callID string) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchDone := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { a.hangUpOnInterrupt(ctx, cancel, c, callID, watchDone) })
	err := c.Watch(ctx, callID, 0, a.eventPrinter())
	close(watchDone)
	wg.Wait()
	if err == nil {
		return nil
	}
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errInterrupted):
		return errInterrupted
	case errors.Is(cause, errGaveUp):
		return fmt.Errorf("call %s did not end within %v of the hang-up: %w", callID, 2*a.global.timeout, errGaveUp)
	}
	return err
}

// hangUpOnInterrupt waits for an interrupt while the watch runs; then it hangs the call up
// and ends the watch (through cancel) on a second interrupt or when the grace period ends.
// It returns once watchDone is closed or it has cancelled, with its HangUp finished.
func (a *app) hangUpOnInterrupt(ctx context.Context, cancel context.CancelCauseFunc, c *client.Client, callID string, watchDone <-chan struct{}) {
	select {
	case <-a.interrupts:
	case <-watchDone:
		return
	}
	fmt.Fprintf(a.stderr, "callctl: hanging up %s; interrupt again to stop watching\n", callID)

	hangCtx, hangCancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	// Deferred after Wait so it runs first: an unfinished hang-up is moot once we stop.
	defer hangCancel()
	// One send, buffered so the hang-up goroutine never waits for us.
	hungUp := make(chan error, 1)
	wg.Go(func() {
		_, err := c.HangUp(hangCtx, callID)
		hungUp <- err
	})

	grace := time.NewTimer(2 * a.global.timeout)
	defer grace.Stop()
	for {
		select {
		case err := <-hungUp:
			if err != nil && hangCtx.Err() == nil {
				fmt.Fprintf(a.stderr, "%s (hang-up)\n", describeError(err))
			}
			hungUp = nil
		case <-a.interrupts:
			cancel(errInterrupted)
			return
		case <-grace.C:
			cancel(errGaveUp)
			return
		case <-watchDone:
			return
		}
	}
}
