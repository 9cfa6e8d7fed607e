package sipengine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// ErrClosed is returned by Dial when the engine is not running or is shutting down; nothing
// was sent.
var ErrClosed = errors.New("sipengine: not running")

// udpBuffer is the socket buffer asked for on the UDP listener: the kernel default (~208 KB)
// drops datagrams during bursts of call starts on loopback, and a dropped 200 or BYE costs
// a call 32 s of retransmissions. The kernel caps it at net.core.rmem_max.
const udpBuffer = 4 << 20

// Engine is the SIP user agent. Create it with New, serve with Run; it is safe for concurrent
// use by any number of goroutines.
type Engine struct {
	cfg Config
	log *slog.Logger

	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	udpCli *sipgo.Client // sends from the UDP listener socket
	tcpCli *sipgo.Client // TCP and TLS: connections are dialled per gateway and reused
	udp    net.PacketConn
	tcp    net.Listener
	port   int

	contacts map[Transport]*sip.ContactHeader // ours, by transport

	releaseOnce sync.Once
	ready       chan struct{} // closed once the listeners serve
	stopping    chan struct{} // closed when Run's context ends: calls end as SHUTDOWN

	mu         sync.Mutex
	calls      map[string]*Call    // live calls by SIP Call-ID
	strays     map[string]struct{} // stray 2xx being ended, by Call-ID and To tag
	live       sync.WaitGroup      // one per live call
	background sync.WaitGroup      // BYEs for stray 2xx
}

// New binds the SIP sockets and prepares the user agent; nothing is served until Run.
func New(cfg Config) (*Engine, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "sipengine"),
		ready:    make(chan struct{}),
		stopping: make(chan struct{}),
		calls:    make(map[string]*Call),
		strays:   make(map[string]struct{}),
	}
	if err := e.listen(); err != nil {
		return nil, err
	}
	e.contacts = ourContacts(cfg.ExternalHost, e.port)
	if err := e.buildUA(); err != nil {
		e.udp.Close()
		e.tcp.Close()
		return nil, err
	}
	return e, nil
}

// listen binds UDP and TCP on the same port, so one Contact address serves both. With port
// 0 the kernel picks a UDP port that may be taken on TCP; another is tried then.
func (e *Engine) listen() error {
	host, port, _ := net.SplitHostPort(e.cfg.Listen)
	var err error
	for range bindAttempts {
		var udp net.PacketConn
		if udp, err = net.ListenPacket("udp", e.cfg.Listen); err != nil {
			return fmt.Errorf("sip listen udp: %w", err)
		}
		if uc, ok := udp.(*net.UDPConn); ok {
			// Best effort: an unprivileged process may get less than it asked for.
			_ = uc.SetReadBuffer(udpBuffer)
			_ = uc.SetWriteBuffer(udpBuffer)
		}
		got := udp.LocalAddr().(*net.UDPAddr).Port
		var tcp net.Listener
		if tcp, err = net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(got))); err == nil {
			e.udp, e.tcp, e.port = udp, tcp, got
			return nil
		}
		udp.Close()
		if port != "0" {
			break
		}
	}
	return fmt.Errorf("sip listen tcp: %w", err)
}

// bindAttempts bounds the search for a port free on both UDP and TCP.
const bindAttempts = 5

func (e *Engine) buildUA() error {
	opts := []sipgo.UserAgentOption{
		sipgo.WithUserAgent(e.cfg.UserAgent),
		sipgo.WithUserAgentHostname(e.cfg.ExternalHost),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(e.log),
			sip.WithTransactionLayerUnhandledResponseHandler(e.strayResponse),
		),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(e.log)),
	}
	if e.cfg.TLS != nil {
		opts = append(opts, sipgo.WithUserAgenTLSConfig(e.cfg.TLS))
	}
	ua, err := sipgo.NewUA(opts...)
	if err != nil {
		return err
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(e.log))
	if err != nil {
		ua.Close()
		return err
	}
	udpCli, err := sipgo.NewClient(ua, sipgo.WithClientLogger(e.log),
		sipgo.WithClientHostname(e.cfg.ExternalHost),
		sipgo.WithClientConnectionAddr(e.udp.LocalAddr().String()))
	if err != nil {
		ua.Close()
		return err
	}
	tcpCli, err := sipgo.NewClient(ua, sipgo.WithClientLogger(e.log),
		sipgo.WithClientHostname(e.cfg.ExternalHost))
	if err != nil {
		ua.Close()
		return err
	}
	e.ua, e.srv, e.udpCli, e.tcpCli = ua, srv, udpCli, tcpCli
	e.registerHandlers()
	return nil
}

// Addr returns the local SIP address (IP:port, UDP and TCP).
func (e *Engine) Addr() string { return e.udp.LocalAddr().String() }

// Run serves SIP until ctx ends, then ends every live call as SHUTDOWN (CANCEL or BYE),
// waits for them, and releases the sockets. It returns nil after a clean shutdown.
func (e *Engine) Run(ctx context.Context) error {
	var serving sync.WaitGroup
	serving.Go(func() { _ = e.srv.ServeUDP(e.udp) })
	serving.Go(func() { _ = e.srv.ServeTCP(e.tcp) })
	if err := e.waitListening(ctx); err != nil {
		e.release()
		serving.Wait()
		return err
	}
	close(e.ready)
	e.log.Info("sip listening", "addr", e.Addr())

	<-ctx.Done()
	e.mu.Lock()
	close(e.stopping)
	for _, c := range e.calls {
		c.wake() // an answered, idle call has no goroutine to see stopping
	}
	e.mu.Unlock()
	e.live.Wait()
	e.background.Wait()
	e.release()
	serving.Wait()
	return nil
}

// waitListening waits until sipgo has put the UDP listener into its connection pool: only
// then do requests go out from it instead of from a fresh socket.
func (e *Engine) waitListening(ctx context.Context) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		if c, _ := e.ua.TransportLayer().GetConnection("udp", e.Addr()); c != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func (e *Engine) release() {
	e.releaseOnce.Do(func() {
		e.ua.Close()
		e.udp.Close()
		e.tcp.Close()
	})
}

// Close releases the sockets of an engine whose Run was never called; Run releases them
// itself when it returns.
func (e *Engine) Close() error {
	e.release()
	return nil
}

// Ready is closed once the engine serves; Dial before that returns ErrClosed.
func (e *Engine) Ready() <-chan struct{} { return e.ready }

func (e *Engine) client(t Transport) *sipgo.Client {
	if t == UDP || t == "" {
		return e.udpCli
	}
	return e.tcpCli
}

// track registers a live call; it fails once shutdown has begun, so that Run's wait covers
// every call.
func (e *Engine) track(c *Call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.isStopping() {
		return ErrClosed
	}
	e.calls[c.SIPCallID] = c
	e.live.Add(1)
	return nil
}

func (e *Engine) untrack(c *Call) {
	e.mu.Lock()
	delete(e.calls, c.SIPCallID)
	e.mu.Unlock()
	e.live.Done()
}

func (e *Engine) lookup(sipCallID string) *Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[sipCallID]
}

// isStopping reports whether shutdown has begun; callers hold e.mu, which orders it with the
// close in Run so that no goroutine is added to a WaitGroup being waited for.
func (e *Engine) isStopping() bool {
	select {
	case <-e.stopping:
		return true
	default:
		return false
	}
}
