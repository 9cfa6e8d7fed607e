package directions

import (
	"context"
	"maps"
	"slices"
	"sync"
)

// Memory is a Store held in process memory, for a single instance without Redis and for
// tests. Its rules are lost when the process ends. It is safe for concurrent use.
type Memory struct {
	mu       sync.Mutex
	gateways map[string]*memGateway
	subs     map[*memSub]struct{}
}

var _ Store = (*Memory)(nil)

type memGateway struct {
	rules   map[string]Action
	version uint64
}

// memSub collects the changes for one Subscribe call. Writers never wait for a
// subscriber: they add to pending and poke wake.
type memSub struct {
	mu      sync.Mutex
	pending map[string]struct{}
	wake    chan struct{} // 1: one poke covers everything pending
}

// NewMemory returns an empty Memory store.
func NewMemory() *Memory {
	return &Memory{gateways: make(map[string]*memGateway), subs: make(map[*memSub]struct{})}
}

// Rules implements Store.
func (m *Memory) Rules(ctx context.Context, gateway string) ([]Rule, uint64, error) {
	if err := validateGateway(gateway); err != nil {
		return nil, 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.gateways[gateway]
	if g == nil {
		return nil, 0, nil
	}
	var rules []Rule
	for _, p := range slices.Sorted(maps.Keys(g.rules)) {
		rules = append(rules, Rule{Prefix: p, Action: g.rules[p]})
	}
	return rules, g.version, nil
}

// Version implements Store.
func (m *Memory) Version(ctx context.Context, gateway string) (uint64, error) {
	if err := validateGateway(gateway); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if g := m.gateways[gateway]; g != nil {
		return g.version, nil
	}
	return 0, nil
}

// Replace implements Store.
func (m *Memory) Replace(ctx context.Context, gateway string, rules []Rule) (uint64, error) {
	rules, err := changeInput(gateway, rules)
	if err != nil {
		return 0, err
	}
	return m.change(gateway, func(g *memGateway) {
		clear(g.rules)
		setRules(g, rules)
	}), nil
}

// Add implements Store.
func (m *Memory) Add(ctx context.Context, gateway string, rules []Rule) (uint64, error) {
	rules, err := changeInput(gateway, rules)
	if err != nil {
		return 0, err
	}
	return m.change(gateway, func(g *memGateway) { setRules(g, rules) }), nil
}

// Remove implements Store.
func (m *Memory) Remove(ctx context.Context, gateway string, prefixes []string) (uint64, error) {
	if err := removeInput(gateway, prefixes); err != nil {
		return 0, err
	}
	return m.change(gateway, func(g *memGateway) {
		for _, p := range prefixes {
			delete(g.rules, p)
		}
	}), nil
}

// Seed implements Store.
func (m *Memory) Seed(ctx context.Context, gateway string, rules []Rule) (bool, error) {
	rules, err := changeInput(gateway, rules)
	if err != nil || len(rules) == 0 {
		return false, err
	}
	v := m.changeIf(gateway, func(g *memGateway) bool { return g.version == 0 }, func(g *memGateway) {
		setRules(g, rules)
	})
	return v > 0, nil
}

func setRules(g *memGateway, rules []Rule) {
	for _, r := range rules {
		g.rules[r.Prefix] = r.Action
	}
}

// change applies f to the gateway, bumps its version and tells the subscribers, all under
// the lock so readers never see half of it.
func (m *Memory) change(gateway string, f func(*memGateway)) uint64 {
	return m.changeIf(gateway, nil, f)
}

// changeIf is change, skipped (returning 0) when guard is set and says no.
func (m *Memory) changeIf(gateway string, guard func(*memGateway) bool, f func(*memGateway)) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.gateways[gateway]
	if g == nil {
		g = &memGateway{rules: make(map[string]Action)}
		m.gateways[gateway] = g
	}
	if guard != nil && !guard(g) {
		return 0
	}
	f(g)
	g.version++
	for s := range m.subs {
		s.notify(gateway)
	}
	return g.version
}

// Subscribe implements Store. It fails only when ctx ends.
func (m *Memory) Subscribe(ctx context.Context, changed func(gateway string)) error {
	s := &memSub{pending: map[string]struct{}{"": {}}, wake: make(chan struct{}, 1)}
	s.wake <- struct{}{}
	m.mu.Lock()
	m.subs[s] = struct{}{}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.subs, s)
		m.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.wake:
		}
		s.mu.Lock()
		pending := s.pending
		s.pending = make(map[string]struct{})
		s.mu.Unlock()
		// "" (everything) first, as the contract promises it on subscribing.
		for _, gw := range slices.Sorted(maps.Keys(pending)) {
			changed(gw)
		}
	}
}

func (s *memSub) notify(gateway string) {
	s.mu.Lock()
	s.pending[gateway] = struct{}{}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
