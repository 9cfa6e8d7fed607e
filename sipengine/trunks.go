package sipengine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ccplane/telephony"
)

// TrunksConfig tunes the keep-alive of Trunks. The zero value of every field means its
// default.
type TrunksConfig struct {
	// ProbeTimeout bounds the wait for the answer to an OPTIONS probe; default 2 s.
	ProbeTimeout time.Duration
	// DownAfter is how many probes in a row must fail to mark a gateway down; default 2.
	DownAfter int
	// UpAfter is how many probes in a row must be answered to bring it back up; default 1.
	UpAfter int
	// OnChange, if set, is called with a gateway's status each time its state changes, from
	// that gateway's probe loop and with no lock held. It must not block for long: the next
	// probe of that gateway waits for it.
	OnChange func(GatewayStatus)
	// Logger receives state changes (Warn when down, Info when up); nil discards them.
	Logger *slog.Logger
	// Now stamps GatewayStatus.Since and LastProbeAt; default time.Now. Queue and pacing
	// waits always use the real clock.
	Now func() time.Time
}

func (c TrunksConfig) withDefaults() (TrunksConfig, error) {
	if c.ProbeTimeout < 0 || c.DownAfter < 0 || c.UpAfter < 0 {
		return c, errors.New("trunks: probe timeout, down after and up after must not be negative")
	}
	if c.ProbeTimeout == 0 {
		c.ProbeTimeout = 2 * time.Second
	}
	if c.DownAfter == 0 {
		c.DownAfter = 2
	}
	if c.UpAfter == 0 {
		c.UpAfter = 1
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// Trunks places calls through a fixed set of gateways within each one's limits
// (MaxConcurrentCalls, MaxCPS, QueueTimeout), and watches the gateways that have a KeepAlive
// with OPTIONS probes, refusing calls to those found down. Run drives the probes. It is
// safe for concurrent use.
type Trunks struct {
	e        *Engine
	cfg      TrunksConfig
	log      *slog.Logger
	gateways map[string]*trunk // fixed by NewTrunks
	names    []string          // sorted
	running  atomic.Bool
}

// trunk is one gateway with its admission and keep-alive state.
type trunk struct {
	gw      Gateway
	slots   slots
	pacer   *pacer
	monitor monitor
}

// GatewayStatus is a snapshot of one gateway.
type GatewayStatus struct {
	Gateway     Gateway
	State       GatewayState
	Since       time.Time        // when State last changed; zero if never
	LastProbe   telephony.Status // answer to the last OPTIONS; code 0 = no answer or transport error
	LastProbeAt time.Time        // zero before the first probe
	Active      int              // calls holding a concurrency slot (counted even when unlimited)
	Queued      int              // Dials waiting for a concurrency slot
}

// NewTrunks checks the gateways (Gateway.Validate, unique names) and returns the trunks
// that place calls through e. A monitored gateway starts up; probes start with Run.
func NewTrunks(e *Engine, gws []Gateway, cfg TrunksConfig) (*Trunks, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	t := &Trunks{
		e:        e,
		cfg:      cfg,
		log:      cfg.Logger.With("component", "sipengine"),
		gateways: make(map[string]*trunk, len(gws)),
	}
	for _, gw := range gws {
		if err := gw.Validate(); err != nil {
			return nil, fmt.Errorf("gateway %q: %w", gw.Name, err)
		}
		if _, dup := t.gateways[gw.Name]; dup {
			return nil, fmt.Errorf("gateway %q defined twice", gw.Name)
		}
		g := &trunk{gw: gw, slots: slots{max: gw.MaxConcurrentCalls}, pacer: newPacer(gw.MaxCPS)}
		g.monitor.health.state = GatewayUnmonitored
		if gw.KeepAlive > 0 {
			g.monitor.health.state = GatewayUp
		}
		t.gateways[gw.Name] = g
		t.names = append(t.names, gw.Name)
	}
	slices.Sort(t.names)
	return t, nil
}

// Gateway returns the gateway called name.
func (t *Trunks) Gateway(name string) (Gateway, bool) {
	g, ok := t.gateways[name]
	if !ok {
		return Gateway{}, false
	}
	return g.gw, true
}

// Dial places req through the gateway named req.Gateway.Name, whose registered definition
// replaces req.Gateway, once the gateway's limits allow it; then it is Engine.Dial. It
// returns at once, with nothing sent, an error wrapping ErrInvalid for an unknown gateway or
// a bad request, and one wrapping ErrGatewayDown for a gateway found down. Otherwise it takes
// a concurrency slot, then the next free send time under MaxCPS, waiting for both up to the
// gateway's QueueTimeout (and no longer than ctx); a limit that leaves no room in time, or
// a ctx that ends while waiting, refuses the call with a *LimitError naming that limit. The
// slot is held until the call has ended.
func (t *Trunks) Dial(ctx context.Context, req DialRequest) (*Call, error) {
	g, ok := t.gateways[req.Gateway.Name]
	if !ok {
		return nil, fmt.Errorf("%w: unknown gateway %q", ErrInvalid, req.Gateway.Name)
	}
	req.Gateway = g.gw
	// A request the engine would refuse must not use up a slot or a send time.
	if err := req.validate(); err != nil {
		return nil, err
	}
	if g.monitor.down() {
		return nil, fmt.Errorf("gateway %q: %w", g.gw.Name, ErrGatewayDown)
	}
	deadline := time.Now().Add(g.gw.QueueTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if !g.slots.acquire(ctx, deadline) {
		return nil, &LimitError{Gateway: g.gw.Name, Limit: LimitConcurrency}
	}
	if !g.pacer.wait(ctx, deadline) {
		g.slots.release()
		return nil, &LimitError{Gateway: g.gw.Name, Limit: LimitRate}
	}
	// It may have gone down while this Dial waited.
	if g.monitor.down() {
		g.slots.release()
		return nil, fmt.Errorf("gateway %q: %w", g.gw.Name, ErrGatewayDown)
	}
	obs := &releasing{next: req.Observer, release: g.slots.release}
	req.Observer = obs
	c, err := t.e.Dial(ctx, req)
	if err != nil {
		obs.done()
		return nil, err
	}
	return c, nil
}

// Status returns a snapshot of every gateway, sorted by name.
func (t *Trunks) Status() []GatewayStatus {
	out := make([]GatewayStatus, 0, len(t.names))
	for _, name := range t.names {
		out = append(out, t.gateways[name].status())
	}
	return out
}

func (g *trunk) status() GatewayStatus {
	s := GatewayStatus{Gateway: g.gw}
	s.Active, s.Queued = g.slots.counts()
	m := &g.monitor
	m.mu.Lock()
	defer m.mu.Unlock()
	s.State, s.Since = m.health.state, m.health.since
	s.LastProbe, s.LastProbeAt = m.lastProbe, m.lastProbeAt
	return s
}
