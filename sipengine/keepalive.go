package sipengine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ccplane/telephony"
)

// GatewayState is what the keep-alive knows of a gateway.
type GatewayState int

// The states of a gateway.
const (
	GatewayUp          GatewayState = iota + 1 // answering its OPTIONS probes
	GatewayDown                                // failed TrunksConfig.DownAfter probes in a row
	GatewayUnmonitored                         // no keep-alive (Gateway.KeepAlive is 0)
)

var gatewayStateNames = [...]string{"", "up", "down", "unmonitored"}

func (s GatewayState) String() string {
	if s <= 0 || int(s) >= len(gatewayStateNames) {
		return "unknown"
	}
	return gatewayStateNames[s]
}

// health is a gateway's state and the run of probe results that leads to the next one.
type health struct {
	state GatewayState
	since time.Time // when state last changed; zero if never
	fails int       // consecutive failed probes
	oks   int       // consecutive answered probes
}

// record counts one probe and moves the state once a run reaches its threshold: downAfter
// failures take an up gateway down, upAfter answers bring a down one back. It reports
// whether the state changed.
func (h *health) record(alive bool, now time.Time, downAfter, upAfter int) bool {
	if alive {
		h.fails, h.oks = 0, h.oks+1
	} else {
		h.fails, h.oks = h.fails+1, 0
	}
	next := h.state
	switch {
	case h.state == GatewayUp && h.fails >= downAfter:
		next = GatewayDown
	case h.state == GatewayDown && h.oks >= upAfter:
		next = GatewayUp
	}
	if next == h.state {
		return false
	}
	h.state, h.since = next, now
	return true
}

// monitor is the keep-alive view of one gateway. Its methods are safe for concurrent use.
type monitor struct {
	mu          sync.Mutex
	health      health
	lastProbe   telephony.Status
	lastProbeAt time.Time
}

func (m *monitor) down() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.health.state == GatewayDown
}

// Run sends each monitored gateway (KeepAlive > 0) an OPTIONS every KeepAlive, from one
// goroutine per gateway, once the engine serves; the first probes go out at once. It returns
// nil after ctx ended and every probe loop stopped. Run may be called once.
func (t *Trunks) Run(ctx context.Context) error {
	if !t.running.CompareAndSwap(false, true) {
		return errors.New("sipengine: trunks already running")
	}
	select {
	case <-t.e.Ready():
	case <-ctx.Done():
		return nil
	}
	var loops sync.WaitGroup
	for _, name := range t.names {
		if g := t.gateways[name]; g.gw.KeepAlive > 0 {
			loops.Go(func() { t.keepAlive(ctx, g) })
		}
	}
	loops.Wait()
	return nil
}

func (t *Trunks) keepAlive(ctx context.Context, g *trunk) {
	// A probe slower than the interval delays the next one rather than overlapping it.
	tick := time.NewTicker(g.gw.KeepAlive)
	defer tick.Stop()
	for ctx.Err() == nil {
		t.probe(ctx, g)
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// probe sends one OPTIONS and counts its outcome. Any final response proves the gateway
// alive except 503, its way of saying it takes no calls; silence and transport errors count
// against it.
func (t *Trunks) probe(ctx context.Context, g *trunk) {
	pctx, cancel := context.WithTimeout(ctx, t.cfg.ProbeTimeout)
	st, err := t.e.Ping(pctx, g.gw)
	cancel()
	if ctx.Err() != nil || errors.Is(err, ErrClosed) {
		return // shutting down: this says nothing about the gateway
	}
	if err != nil {
		t.log.Debug("gateway probe failed", "gateway", g.gw.Name, "err", err)
	}
	alive := err == nil && st.Code != 503

	m := &g.monitor
	m.mu.Lock()
	m.lastProbe, m.lastProbeAt = st, t.cfg.Now()
	changed := m.health.record(alive, m.lastProbeAt, t.cfg.DownAfter, t.cfg.UpAfter)
	m.mu.Unlock()
	if !changed {
		return
	}
	s := g.status()
	if s.State == GatewayDown {
		t.log.Warn("gateway down", "gateway", g.gw.Name, "sip_status", st.Code, "failed_probes", t.cfg.DownAfter)
	} else {
		t.log.Info("gateway up", "gateway", g.gw.Name, "sip_status", st.Code)
	}
	if t.cfg.OnChange != nil {
		t.cfg.OnChange(s)
	}
}
