package directions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// CacheConfig configures a Cache. The zero value of every field but Gateways is its
// default.
type CacheConfig struct {
	// Gateways are the IDs of the gateways whose rules the cache keeps. Check answers
	// ErrUnknownGateway (and ErrUnavailable) for any other ID.
	Gateways []string
	// CheckInterval is how often Run compares each gateway's version with the store, to
	// repair changes whose notification was lost. Default 5 s.
	CheckInterval time.Duration
	// Logger receives rule changes (Info) and stale or unavailable rules (Warn, or Error
	// when the store holds rules that do not compile). Default: discard.
	Logger *slog.Logger
	// Now is the clock for Stale. Default time.Now.
	Now func() time.Time
}

// Validate reports an empty gateway ID (ErrInvalidGateway) or a negative CheckInterval.
func (c CacheConfig) Validate() error {
	for _, id := range c.Gateways {
		if err := validateGateway(id); err != nil {
			return err
		}
	}
	if c.CheckInterval < 0 {
		return fmt.Errorf("directions: check interval %v is negative", c.CheckInterval)
	}
	return nil
}

// defaultCheckInterval bounds how long a change whose notification was lost stays unseen.
const defaultCheckInterval = 5 * time.Second

// storeTimeout bounds each store call the cache makes by itself, so a hung store cannot
// stall Run's loops; lookups never wait on it anyway.
const storeTimeout = 10 * time.Second

// Cache holds every configured gateway's compiled rules and answers lookups from memory.
// Load fills it, Run keeps it in step with the store, Refresh reloads one gateway on
// demand. When the store cannot be read, the last rules loaded stay in force (see Stale).
// All methods are safe for concurrent use.
type Cache struct {
	store    Store
	log      *slog.Logger
	now      func() time.Time
	interval time.Duration
	// gateways is fixed by NewCache, so lookups read it without a lock.
	gateways map[string]*gatewayState
	ids      []string // sorted keys of gateways

	mu      sync.Mutex          // guards pending and every gatewayState.failingSince
	pending map[string]struct{} // gateways the reload loop must reload
	wake    chan struct{}       // 1: one poke covers everything pending
	recheck chan struct{}       // 1: one check covers every request for one
	running atomic.Bool
	// swapped, if set, is called after new rules are put in force: the benchmarks time
	// propagation with it without polling.
	swapped func(gateway string, version uint64)
}

// gatewayState is one gateway's rules in force and whether they could be refreshed.
type gatewayState struct {
	id  string
	cur atomic.Pointer[snapshot] // nil until first loaded
	// reloading serialises reloads, so a read that started earlier cannot replace the
	// rules of one that started later.
	reloading sync.Mutex
	// failingSince is when refreshing began to fail; zero while it succeeds.
	failingSince time.Time
}

// snapshot is a compiled rule set and the store version it was compiled from.
type snapshot struct {
	rules   *RuleSet
	version uint64
}

// NewCache returns a Cache of cfg.Gateways' rules from s, with no rules loaded yet.
// Duplicate gateway IDs count once.
func NewCache(cfg CacheConfig, s Store) *Cache {
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = defaultCheckInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Cache{
		store:    s,
		log:      cfg.Logger.With("component", "directions"),
		now:      cfg.Now,
		interval: cfg.CheckInterval,
		gateways: make(map[string]*gatewayState, len(cfg.Gateways)),
		pending:  make(map[string]struct{}),
		wake:     make(chan struct{}, 1),
		recheck:  make(chan struct{}, 1),
	}
	for _, id := range cfg.Gateways {
		c.gateways[id] = &gatewayState{id: id}
	}
	c.ids = slices.Sorted(maps.Keys(c.gateways))
	return c
}

// unknownGatewayError is both ErrUnknownGateway and ErrUnavailable: a caller that only
// knows "no rules, do not dial" needs no special case for it.
type unknownGatewayError struct{ gateway string }

func (e *unknownGatewayError) Error() string {
	return fmt.Sprintf("directions: gateway %q is not configured, so it has no rules", e.gateway)
}

func (e *unknownGatewayError) Unwrap() []error { return []error{ErrUnknownGateway, ErrUnavailable} }

// Check normalises number and decides whether the gateway may dial it, from the rules in
// memory; it never touches the network. It returns an error wrapping ErrInvalidNumber if
// the number cannot be normalised, or ErrUnavailable if the gateway is not configured
// (also ErrUnknownGateway) or its rules were never loaded. It does not allocate when the
// number is already normalised and the gateway is loaded.
func (c *Cache) Check(gateway, number string) (normalized string, d Decision, err error) {
	n, err := Normalize(number)
	if err != nil {
		return "", Decision{}, err
	}
	g := c.gateways[gateway]
	if g == nil {
		return n, Decision{}, &unknownGatewayError{gateway}
	}
	s := g.cur.Load()
	if s == nil {
		return n, Decision{}, fmt.Errorf("%w: the rules of gateway %q were never loaded", ErrUnavailable, gateway)
	}
	return n, s.rules.Decide(n), nil
}

// Version returns the store version of the gateway's rules in force, and false if they
// were never loaded or the gateway is not configured.
func (c *Cache) Version(gateway string) (uint64, bool) {
	if g := c.gateways[gateway]; g != nil {
		if s := g.cur.Load(); s != nil {
			return s.version, true
		}
	}
	return 0, false
}

// Load loads every configured gateway from the store. It returns the errors of the
// gateways that failed, joined; the others are served. Run retries the failed ones.
func (c *Cache) Load(ctx context.Context) error {
	var errs []error
	for _, id := range c.ids {
		errs = append(errs, c.reload(ctx, c.gateways[id]))
	}
	return errors.Join(errs...)
}

// Refresh reloads one gateway from the store now, so whoever just changed its rules sees
// the change in its own lookups at once. On error the rules in force stay.
func (c *Cache) Refresh(ctx context.Context, gateway string) error {
	g := c.gateways[gateway]
	if g == nil {
		return &unknownGatewayError{gateway}
	}
	return c.reload(ctx, g)
}

// Stale returns the gateways served from rules that could not be refreshed, each with the
// time refreshing began to fail. Gateways never loaded are not in it: they are
// unavailable, not stale. It returns nil when every loaded gateway is fresh.
func (c *Cache) Stale() map[string]time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var stale map[string]time.Time
	for id, g := range c.gateways {
		if !g.failingSince.IsZero() && g.cur.Load() != nil {
			if stale == nil {
				stale = make(map[string]time.Time)
			}
			stale[id] = g.failingSince
		}
	}
	return stale
}

// reload reads a gateway's rules and puts them in force if their version differs from the
// one in force. Rules that do not compile are a failure: the old ones stay.
func (c *Cache) reload(ctx context.Context, g *gatewayState) error {
	g.reloading.Lock()
	defer g.reloading.Unlock()
	rules, v, err := c.store.Rules(ctx, g.id)
	if err == nil {
		cur := g.cur.Load()
		if cur != nil && cur.version == v {
			c.succeeded(g)
			return nil
		}
		var rs *RuleSet
		if rs, err = Compile(rules); err == nil {
			g.cur.Store(&snapshot{rules: rs, version: v})
			if c.swapped != nil {
				c.swapped(g.id, v)
			}
			c.succeeded(g)
			c.logUpdate(g.id, cur, v, rs.Len())
			return nil
		}
	}
	c.failed(g, err)
	return fmt.Errorf("directions: load gateway %q: %w", g.id, err)
}

func (c *Cache) logUpdate(id string, old *snapshot, v uint64, n int) {
	if old != nil && v < old.version {
		// Versions only grow, so the store lost data (a Redis without persistence restarted,
		// or a FLUSHALL). What it holds now is still the truth.
		c.log.Warn("directions version went backwards", "gateway_id", id, "version", v, "previous_version", old.version)
	}
	c.log.Info("directions updated", "gateway_id", id, "version", v, "rules", n)
}

// succeeded records that the gateway's rules are as fresh as the store's.
func (c *Cache) succeeded(g *gatewayState) {
	c.mu.Lock()
	since := g.failingSince
	g.failingSince = time.Time{}
	c.mu.Unlock()
	if !since.IsZero() {
		c.log.Info("directions refreshed", "gateway_id", g.id, "failing_since", since)
	}
}

// failed records that the gateway could not be refreshed, logging only the first of a run
// of failures: Run retries every CheckInterval.
func (c *Cache) failed(g *gatewayState, err error) {
	c.mu.Lock()
	first := g.failingSince.IsZero()
	if first {
		g.failingSince = c.now()
	}
	c.mu.Unlock()
	if !first {
		return
	}
	level := slog.LevelWarn
	if errors.Is(err, ErrInvalidRule) {
		level = slog.LevelError // bad data in the store: someone must fix it
	}
	if cur := g.cur.Load(); cur != nil {
		c.log.Log(context.Background(), level, "directions may be stale: keeping the last rules loaded",
			"gateway_id", g.id, "version", cur.version, "err", err)
	} else {
		c.log.Log(context.Background(), level, "directions unavailable: the gateway dials nothing",
			"gateway_id", g.id, "err", err)
	}
}
