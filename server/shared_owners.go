package server

import (
	"context"
	"sync"
	"time"
)

// ownerCache answers whether an instance is alive from a recent answer of Owners.Alive, so
// that the watchers of many calls of one owner cost Redis one check per period, not one
// each. Safe for concurrent use.
type ownerCache struct {
	owners Owners
	ttl    time.Duration

	mu   sync.Mutex
	seen map[string]aliveAt
}

type aliveAt struct {
	alive bool
	at    time.Time
}

func newOwnerCache(sh *Shared) *ownerCache {
	if sh == nil {
		return nil
	}
	return &ownerCache{owners: sh.Owners, ttl: sh.OwnerCheck / 2, seen: make(map[string]aliveAt)}
}

// alive reports whether instance is alive; an error of Redis counts as alive (nothing is
// ended on a guess) and is returned.
func (c *ownerCache) alive(ctx context.Context, instance string) (bool, error) {
	now := time.Now()
	c.mu.Lock()
	s, ok := c.seen[instance]
	c.mu.Unlock()
	// A dead instance never comes back (ids are new at each start): it stays dead.
	if ok && (!s.alive || now.Sub(s.at) < c.ttl) {
		return s.alive, nil
	}
	alive, err := c.owners.Alive(ctx, instance)
	if err != nil {
		return true, err
	}
	c.mu.Lock()
	c.seen[instance] = aliveAt{alive: alive, at: now}
	c.mu.Unlock()
	return alive, nil
}
