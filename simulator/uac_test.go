package simulator

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// testConfig shrinks every script to milliseconds.
func testConfig() Config {
	return Config{
		Listen:      "127.0.0.1:0",
		RingDelay:   10 * time.Millisecond,
		AnswerDelay: 20 * time.Millisecond,
		TalkTime:    100 * time.Millisecond,
	}
}

// startGateway runs a gateway until the test ends and checks that Run returns nil. stop
// ends it early; it is safe to call more than once.
func startGateway(t *testing.T, cfg Config) (g *Gateway, stop func() error) {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatalf("New: got %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1) // Run's one result; buffered so the goroutine never blocks
	go func() { done <- g.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: got %v, want nil", err)
		}
	})
	return g, stop
}

var discard = slog.New(slog.DiscardHandler)

// uac is a real sipgo caller on loopback with its own listener, so the gateway's BYE has
// somewhere to go. It never logs: sipgo goroutines may outlive a test by a few ms.
type uac struct {
	network string // "udp" or "tcp"
	cli     *sipgo.Client
	dua     *sipgo.DialogUA
	byes    chan *sip.Request // BYEs from the gateway, answered 200 before they are queued
}

func newUAC(t *testing.T, network string) *uac {
	t.Helper()
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("test-uac"),
		sipgo.WithUserAgentHostname("127.0.0.1"),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(discard),
			sip.WithTransactionLayerUnhandledResponseHandler(func(*sip.Response) {}),
		),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(discard)),
	)
	if err != nil {
		t.Fatalf("NewUA: %v", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(discard))
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	// Room for the one BYE a test reads plus retransmissions it never reads.
	u := &uac{network: network, byes: make(chan *sip.Request, 8)}
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		select {
		case u.byes <- req:
		default:
		}
	})
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})

	var serving sync.WaitGroup
	var closeListener func() error
	var addr string
	var cliOpts []sipgo.ClientOption
	switch network {
	case "udp":
		conn, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen udp: %v", err)
		}
		addr, closeListener = conn.LocalAddr().String(), conn.Close
		rc := &readyConn{PacketConn: conn, ready: make(chan struct{})}
		serving.Go(func() { _ = srv.ServeUDP(rc) })
		// Sending from the listener only works once sipgo has pooled it; before that it
		// tries to bind the port again and fails with "address already in use".
		<-rc.ready
		cliOpts = append(cliOpts, sipgo.WithClientConnectionAddr(addr))
	case "tcp":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen tcp: %v", err)
		}
		addr, closeListener = l.Addr().String(), l.Close
		serving.Go(func() { _ = srv.ServeTCP(l) })
	default:
		t.Fatalf("network %q", network)
	}
	u.cli, err = sipgo.NewClient(ua, append(cliOpts, sipgo.WithClientLogger(discard))...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	u.dua = &sipgo.DialogUA{Client: u.cli, ContactHDR: sip.ContactHeader{Address: u.uri("caller", addr)}}
	t.Cleanup(func() {
		_ = ua.Close()
		_ = closeListener()
		serving.Wait()
	})
	return u
}

// readyConn tells when sipgo first reads from it, which ServeUDP does only after it has
// put the listener in its connection pool.
type readyConn struct {
	net.PacketConn
	once  sync.Once
	ready chan struct{}
}

func (c *readyConn) ReadFrom(b []byte) (int, net.Addr, error) {
	c.once.Do(func() { close(c.ready) })
	return c.PacketConn.ReadFrom(b)
}

// uri addresses user at addr over the uac's transport.
func (u *uac) uri(user, addr string) sip.Uri {
	ap := netip.MustParseAddrPort(addr)
	uri := sip.Uri{Scheme: "sip", User: user, Host: ap.Addr().String(), Port: int(ap.Port())}
	if u.network == "tcp" {
		uri.UriParams = sip.NewParams()
		uri.UriParams.Add("transport", "tcp")
	}
	return uri
}

const offer = "v=0\r\no=test 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 30000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"

// outcome is what the caller saw of one INVITE.
type outcome struct {
	codes []int // every response WaitAnswer saw, in order
	dlg   *sipgo.DialogClientSession
	err   error // WaitAnswer's final result
}

// dialOpts are the knobs of one dial.
type dialOpts struct {
	user, pass string
	onResponse func(*sip.Response) // runs in the dialling goroutine, before the code is counted
}

var errProvisional = errors.New("provisional response")

// dial sends an INVITE through sipgo's DialogUA and follows it to the end, re-entering
// WaitAnswer on every 1xx so that long bursts of 18x fit (sipgo-notes P1).
func (u *uac) dial(ctx context.Context, gw, number string, o dialOpts) outcome {
	req := sip.NewRequest(sip.INVITE, u.uri(number, gw))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody([]byte(offer))
	dlg, err := u.dua.WriteInvite(ctx, req)
	if err != nil {
		return outcome{err: err}
	}
	out := outcome{dlg: dlg}
	for {
		err = dlg.WaitAnswer(ctx, sipgo.AnswerOptions{
			Username: o.user, Password: o.pass,
			OnResponse: func(r *sip.Response) error {
				if o.onResponse != nil {
					o.onResponse(r)
				}
				out.codes = append(out.codes, r.StatusCode)
				if r.IsProvisional() {
					return errProvisional
				}
				return nil
			},
		})
		if !errors.Is(err, errProvisional) {
			out.err = err
			return out
		}
	}
}

// request sends an out-of-dialog request built by sipgo's client defaults.
func (u *uac) request(ctx context.Context, method sip.RequestMethod, gw, number string, hdrs ...sip.Header) (*sip.Response, error) {
	req := sip.NewRequest(method, u.uri(number, gw))
	for _, h := range hdrs {
		req.AppendHeader(h)
	}
	return u.cli.Do(ctx, req)
}
