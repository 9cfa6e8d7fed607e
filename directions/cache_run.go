package directions

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/ccplane/telephony/internal/resubscribe"
)

// Run keeps the cache in step with the store until ctx ends, then returns nil once its
// goroutines have stopped: it subscribes to changes (subscribing again, with backoff, when
// the subscription fails) and compares every gateway's version with the store every
// CheckInterval and after each (re)subscription. It returns an error at once if the cache
// is already running.
func (c *Cache) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("directions: the cache is already running")
	}
	defer c.running.Store(false)
	var wg sync.WaitGroup
	wg.Go(func() { c.subscribeLoop(ctx) })
	wg.Go(func() { c.checkLoop(ctx) })
	wg.Go(func() { c.reloadLoop(ctx) })
	wg.Wait()
	return nil
}

// subscribeLoop holds a subscription open, subscribing again after each failure.
func (c *Cache) subscribeLoop(ctx context.Context) {
	resubscribe.Hold(ctx, func(up func()) error {
		return c.store.Subscribe(ctx, func(gateway string) {
			if gateway == "" { // (re)subscribed: anything may have changed meanwhile
				up()
				poke(c.recheck)
				return
			}
			c.markForReload(gateway)
		})
	}, func(err error, first bool) {
		if first {
			c.log.Warn("directions subscription lost: changes arrive by version check until it is back", "err", err)
		}
		// Check now rather than at the next tick: this notices a store that is down (the
		// rules are stale from now on) and catches what was missed while subscribing failed.
		poke(c.recheck)
	}, func() { c.log.Info("directions subscription restored") })
}

// checkLoop compares versions every interval and whenever asked.
func (c *Cache) checkLoop(ctx context.Context) {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.recheck:
		}
		c.checkVersions(ctx)
	}
}

// checkVersions reads every gateway's version and marks for reload those that differ from
// the one in force, or were never loaded.
func (c *Cache) checkVersions(ctx context.Context) {
	for _, id := range c.ids {
		g := c.gateways[id]
		vctx, cancel := context.WithTimeout(ctx, storeTimeout)
		v, err := c.store.Version(vctx, id)
		cancel()
		if ctx.Err() != nil {
			return
		}
		switch cur := g.cur.Load(); {
		case err != nil:
			c.failed(g, err)
		case cur == nil || cur.version != v:
			c.markForReload(id)
		default:
			c.succeeded(g)
		}
	}
}

// reloadLoop reloads the gateways marked for reload, so the subscription never waits on
// a reload and a burst of changes to one gateway costs one reload.
func (c *Cache) reloadLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		}
		c.mu.Lock()
		ids := slices.Sorted(maps.Keys(c.pending))
		clear(c.pending)
		c.mu.Unlock()
		for _, id := range ids {
			rctx, cancel := context.WithTimeout(ctx, storeTimeout)
			_ = c.reload(rctx, c.gateways[id]) // failures are logged and retried by the version check
			cancel()
			if ctx.Err() != nil {
				return
			}
		}
	}
}

// markForReload queues a configured gateway for the reload loop; others are ignored.
func (c *Cache) markForReload(gateway string) {
	if c.gateways[gateway] == nil {
		return
	}
	c.mu.Lock()
	c.pending[gateway] = struct{}{}
	c.mu.Unlock()
	poke(c.wake)
}

// poke signals a channel of capacity 1 without blocking: a signal already waiting covers
// this one.
func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
