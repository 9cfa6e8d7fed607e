package simulator

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// socketBuffer is the UDP buffer size asked of the kernel: the default (~208 KB) drops
// datagrams under a burst of calls (sipgo-notes §6); the kernel caps it at rmem_max.
const socketBuffer = 4 << 20

// tcpBindAttempts bounds the search for a port free on both UDP and TCP when Listen asks
// for port 0.
const tcpBindAttempts = 5

// ErrAlreadyRun is returned by a second call to Run.
var ErrAlreadyRun = errors.New("simulator: Run called twice")

// Gateway is a simulated provider gateway. New binds its sockets; Run serves them and
// releases everything when its context ends. Its methods are safe for concurrent use.
type Gateway struct {
	cfg  Config
	log  *slog.Logger
	host string // listening IP, for Contact and SDP
	port int

	ua   *sipgo.UserAgent
	srv  *sipgo.Server
	cli  *sipgo.Client
	udp  net.PacketConn
	tcp  net.Listener // nil when TCP could not be bound
	tls  net.Listener // nil unless Config.TLS is set
	auth *authenticator

	// life ends when Run's context does; every wait in a handler or a hang-up goroutine
	// selects on it so shutdown never waits on a script's timers.
	life context.Context
	stop context.CancelFunc
	ran  atomic.Bool

	mu      sync.Mutex
	closing bool               // set under mu before work.Wait, so no Add races it
	work    sync.WaitGroup     // handlers in flight and hang-up goroutines
	dialogs map[string]*dialog // by dialog ID (Call-ID, our tag, their tag)
}

// New validates cfg, binds the UDP listener (and TCP on the same port when it can) and
// builds the sipgo stack. Addr is valid once New returns. Run must be called to serve and,
// later, to release the sockets.
func New(cfg Config) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger.With("component", "simulator")

	udp, tcp, err := bind(cfg.Listen, log)
	if err != nil {
		return nil, err
	}
	ap := netip.MustParseAddrPort(udp.LocalAddr().String())
	g := &Gateway{
		cfg: cfg, log: log, host: ap.Addr().String(), port: int(ap.Port()),
		udp: udp, tcp: tcp, auth: newAuthenticator(cfg.Username, cfg.Password),
		dialogs: map[string]*dialog{},
	}
	if cfg.TLS != nil {
		if g.tls, err = tls.Listen("tcp", net.JoinHostPort(g.host, "0"), cfg.TLS); err != nil {
			g.closeSockets()
			return nil, fmt.Errorf("simulator: listen tls: %w", err)
		}
	}
	g.life, g.stop = context.WithCancel(context.Background())
	if err := g.buildStack(); err != nil {
		g.stop()
		g.closeSockets()
		return nil, err
	}
	log.Info("simulator bound", "addr", g.Addr(), "tcp", tcp != nil, "config", cfg)
	return g, nil
}

// bind opens UDP on listen and TCP on the same port. When listen asks for port 0 and the
// chosen port is taken on TCP, it tries other ports; when TCP cannot be had it serves UDP
// alone, because TCP is a convenience here.
func bind(listen string, log *slog.Logger) (net.PacketConn, net.Listener, error) {
	ephemeral := netip.MustParseAddrPort(listen).Port() == 0
	var lastErr error
	for range tcpBindAttempts {
		udp, err := net.ListenPacket("udp", listen)
		if err != nil {
			return nil, nil, fmt.Errorf("simulator: listen udp %s: %w", listen, err)
		}
		if uc, ok := udp.(*net.UDPConn); ok {
			if err := uc.SetReadBuffer(socketBuffer); err != nil {
				log.Debug("udp read buffer not raised", "err", err)
			}
			if err := uc.SetWriteBuffer(socketBuffer); err != nil {
				log.Debug("udp write buffer not raised", "err", err)
			}
		}
		tcp, err := net.Listen("tcp", udp.LocalAddr().String())
		if err == nil {
			return udp, tcp, nil
		}
		lastErr = err
		if !ephemeral {
			log.Warn("tcp listener unavailable, serving udp only", "addr", listen, "err", err)
			return udp, nil, nil
		}
		_ = udp.Close()
	}
	log.Warn("tcp listener unavailable, serving udp only", "err", lastErr)
	udp, err := net.ListenPacket("udp", listen)
	if err != nil {
		return nil, nil, fmt.Errorf("simulator: listen udp %s: %w", listen, err)
	}
	return udp, nil, nil
}

func (g *Gateway) buildStack() error {
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("ccplane-simulator"),
		sipgo.WithUserAgentHostname(g.host),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(g.log),
			// Retransmitted 200s to our BYE land here once its transaction is gone; the
			// default handler would log each at Info.
			sip.WithTransactionLayerUnhandledResponseHandler(func(res *sip.Response) {
				g.log.Debug("unmatched response", "res", res.Short())
			}),
			// A TCP caller that disconnects while its call rings would otherwise hold the
			// script (and its goroutine) until shutdown: "180" rings forever.
			sip.WithTransactionLayerTerminateOnConnClose(),
		),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(g.log)),
	)
	if err != nil {
		return fmt.Errorf("simulator: user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(g.log))
	if err == nil {
		g.cli, err = sipgo.NewClient(ua, sipgo.WithClientLogger(g.log))
	}
	if err != nil {
		_ = ua.Close()
		return fmt.Errorf("simulator: sipgo server/client: %w", err)
	}
	g.ua, g.srv = ua, srv
	// The handler map has no lock: register everything before serving.
	srv.OnInvite(g.track(g.onInvite))
	srv.OnAck(g.track(g.onAck))
	srv.OnBye(g.track(g.onBye))
	srv.OnCancel(g.track(g.onCancel))
	srv.OnOptions(g.track(g.onOptions))
	return nil
}

// Addr returns the "IP:port" of the UDP listener; TCP, when bound, uses the same port.
func (g *Gateway) Addr() string {
	return g.udp.LocalAddr().String()
}

// TLSAddr returns the "IP:port" of the TLS listener, or "" when Config.TLS was not set.
func (g *Gateway) TLSAddr() string {
	if g.tls == nil {
		return ""
	}
	return g.tls.Addr().String()
}

// Run serves until ctx is done, then stops the scripts, waits for every goroutine the
// gateway started, closes the sipgo stack and the sockets, and returns nil. It returns an
// error if a listener fails first (after the same cleanup) or if called a second time.
func (g *Gateway) Run(ctx context.Context) error {
	if !g.ran.CompareAndSwap(false, true) {
		return ErrAlreadyRun
	}
	type exit struct {
		network string
		err     error
	}
	exits := make(chan exit, 3) // one per listener, so a late exit never blocks
	var serving sync.WaitGroup
	serving.Go(func() { exits <- exit{"udp", g.srv.ServeUDP(g.udp)} })
	if g.tcp != nil {
		serving.Go(func() { exits <- exit{"tcp", g.srv.ServeTCP(g.tcp)} })
	}
	if g.tls != nil {
		serving.Go(func() { exits <- exit{"tls", g.srv.ServeTLS(g.tls)} })
	}
	g.log.Info("simulator serving", "addr", g.Addr())

	var err error
	select {
	case <-ctx.Done():
	case e := <-exits:
		err = fmt.Errorf("simulator: %s listener stopped", e.network)
		if e.err != nil {
			err = fmt.Errorf("simulator: %s listener stopped: %w", e.network, e.err)
		}
	}
	g.shutdown()
	serving.Wait()
	g.log.Info("simulator stopped", "addr", g.Addr())
	return err
}

func (g *Gateway) shutdown() {
	g.stop()
	g.mu.Lock()
	g.closing = true
	g.mu.Unlock()
	g.work.Wait()
	// Terminates the transactions left (absorbing ACKs, waiting on timers) and closes the
	// pooled connections; sipgo leaves listeners to their owner.
	_ = g.ua.Close()
	g.closeSockets()
}

func (g *Gateway) closeSockets() {
	_ = g.udp.Close()
	if g.tcp != nil {
		_ = g.tcp.Close()
	}
	if g.tls != nil {
		_ = g.tls.Close()
	}
}

// track counts a handler in work so Run can wait for it, and drops requests that arrive
// while the gateway shuts down (sipgo then terminates their transactions).
func (g *Gateway) track(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		if !g.enter() {
			return
		}
		defer g.work.Done()
		h(req, tx)
	}
}

func (g *Gateway) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return false
	}
	g.work.Add(1)
	return true
}

// spawn runs f as gateway-owned work. Call it only from tracked work, which keeps the
// counter above zero so the Add cannot race Run's Wait.
func (g *Gateway) spawn(f func()) {
	g.work.Go(f)
}
