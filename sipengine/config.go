package sipengine

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Config holds the engine's settings. The zero value of every field but Listen means its
// default.
type Config struct {
	// Listen is the local IP:port for SIP over UDP and TCP, e.g. "10.0.0.5:5060". It must be a
	// specific IP, because requests are sent from this socket (providers filter on source
	// address, and answer in-dialog requests to it). Port 0 picks a free port.
	Listen string
	// ExternalHost is the host written in Contact and Via when the gateways reach us through
	// NAT; default: the Listen IP.
	ExternalHost string
	// UserAgent is the User-Agent header value; default "telephonyd".
	UserAgent string
	// SetupTimeout bounds the wait for the first response of any kind to an INVITE; default
	// 4 s, well under Timer B (32 s). On expiry the call ends as KILL / SETUP_TIMEOUT.
	SetupTimeout time.Duration
	// EndGrace bounds how long a call waits for the provider to confirm our CANCEL (487) or
	// BYE (200) before it is recorded as ended anyway; default 2 s.
	EndGrace time.Duration
	// AcceptedWindow is how long the INVITE transaction outlives its 2xx, acknowledging every
	// retransmission of it (RFC 6026's Accepted state); then it is released, with the INVITE
	// and the 2xx it holds. Default sipgo's Timer M, 64·T1 (32 s), which also caps it. A
	// shorter window frees no memory sooner: sipgo's Timer M holds the transaction anyway.
	AcceptedWindow time.Duration
	// DefaultSDP is the offer sent when a DialRequest has none; default: a minimal PCMU/PCMA
	// audio offer on the Listen IP.
	DefaultSDP string
	// TLS is the client configuration for gateways reached over TLS; default: system roots.
	TLS *tls.Config
	// Logger receives the engine's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() (Config, error) {
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return c, fmt.Errorf("sip listen %q: %w", c.Listen, err)
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		return c, fmt.Errorf("sip listen %q: need a specific IP address to send from", c.Listen)
	}
	if c.ExternalHost == "" {
		c.ExternalHost = host
	}
	if c.UserAgent == "" {
		c.UserAgent = "telephonyd"
	}
	if c.SetupTimeout <= 0 {
		c.SetupTimeout = 4 * time.Second
	}
	if c.EndGrace <= 0 {
		c.EndGrace = 2 * time.Second
	}
	if c.AcceptedWindow <= 0 {
		c.AcceptedWindow = sip.Timer_M
	}
	if c.DefaultSDP == "" {
		c.DefaultSDP = defaultOffer(c.ExternalHost)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// defaultOffer is a placeholder audio offer for a demo without a media server: it lets
// providers answer, but nobody listens on its port.
func defaultOffer(host string) string {
	ipv := "IP4"
	if strings.Contains(host, ":") {
		ipv = "IP6"
	}
	return "v=0\r\n" +
		"o=telephonyd 1 1 IN " + ipv + " " + host + "\r\n" +
		"s=telephonyd\r\n" +
		"c=IN " + ipv + " " + host + "\r\n" +
		"t=0 0\r\n" +
		"m=audio 40000 RTP/AVP 0 8 101\r\n" +
		"a=rtpmap:0 PCMU/8000\r\n" +
		"a=rtpmap:8 PCMA/8000\r\n" +
		"a=rtpmap:101 telephone-event/8000\r\n" +
		"a=sendrecv\r\n"
}

// Transport is how a gateway is reached.
type Transport string

// The transports a gateway may use.
const (
	UDP Transport = "udp"
	TCP Transport = "tcp"
	TLS Transport = "tls"
)

// Gateway is a provider's SIP entry point and how we present ourselves to it.
type Gateway struct {
	Name      string
	Address   string    // host:port the INVITE goes to (an IP avoids a DNS lookup per request)
	Transport Transport // default UDP
	Username  string    // digest credentials, used once per call on a 401/407
	Password  string
	FromUser  string // default caller ID when a call gives none
	FromHost  string // host part of From; default the gateway's host

	// Admission and monitoring, enforced by Trunks (Engine.Dial ignores them).
	MaxConcurrentCalls int           // calls up at once; 0 = unlimited
	MaxCPS             float64       // INVITEs per second, one every 1/MaxCPS, never in bursts; 0 = unlimited
	QueueTimeout       time.Duration // how long a Dial may wait for a free slot; 0 = refuse at once
	KeepAlive          time.Duration // interval of OPTIONS probes; 0 = none (GatewayUnmonitored)
}

// minCPS is the lowest MaxCPS accepted: one call an hour. Below it the pacing interval
// stops being a meaningful limit, and far below it overflows a time.Duration.
const minCPS = 1.0 / 3600

// Validate reports what is wrong with a gateway definition.
func (g Gateway) Validate() error {
	var errs []error
	if g.Name == "" {
		errs = append(errs, errors.New("name is empty"))
	}
	if _, port, err := net.SplitHostPort(g.Address); err != nil || port == "" {
		errs = append(errs, fmt.Errorf("address %q is not host:port", g.Address))
	}
	switch g.Transport {
	case "", UDP, TCP, TLS:
	default:
		errs = append(errs, fmt.Errorf("transport %q is not udp, tcp or tls", g.Transport))
	}
	if g.FromUser != "" && !validNumber(g.FromUser) {
		errs = append(errs, fmt.Errorf("from_user %q is not a number", g.FromUser))
	}
	if g.FromHost != "" && !validHost(g.FromHost) {
		errs = append(errs, fmt.Errorf("from_host %q is not a host name", g.FromHost))
	}
	if g.MaxConcurrentCalls < 0 {
		errs = append(errs, fmt.Errorf("max_concurrent_calls %d is negative", g.MaxConcurrentCalls))
	}
	if cps := g.MaxCPS; cps != 0 && (math.IsNaN(cps) || math.IsInf(cps, 0) || cps < minCPS) {
		errs = append(errs, fmt.Errorf("max_cps %v: want 0 (unlimited) or at least one call an hour", g.MaxCPS))
	}
	if g.QueueTimeout < 0 {
		errs = append(errs, fmt.Errorf("queue_timeout %v is negative", g.QueueTimeout))
	}
	if g.KeepAlive < 0 {
		errs = append(errs, fmt.Errorf("keep_alive %v is negative", g.KeepAlive))
	}
	return errors.Join(errs...)
}
