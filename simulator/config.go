package simulator

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"
)

// Config tunes a Gateway. The zero value is usable: every zero field takes the default given
// in its comment.
type Config struct {
	// Listen is the IPv4:port for both the UDP and the TCP listener. The IP must be a
	// specific address, normally loopback (the gateway puts it in Contact and SDP and sends
	// its own BYEs from it); port 0 picks a free port. Default "127.0.0.1:0".
	Listen string
	// Logger receives the gateway's and sipgo's logs. Default: discard.
	Logger *slog.Logger

	// TryingDelay is the wait from an INVITE to our 100 Trying. Default 0 (at once). Note
	// that sipgo itself sends a 100 when an INVITE has had no response for 200ms.
	TryingDelay time.Duration
	// RingDelay is the wait from the 100 to the first 18x (or to an early final). Default 300ms.
	RingDelay time.Duration
	// AnswerDelay is the wait from the 18x to the 200 or the final failure. Default 2s.
	AnswerDelay time.Duration
	// TalkTime is how long a "200" call stays up before the gateway sends BYE. Default 5s.
	TalkTime time.Duration

	// Username and Password are the credentials the "407" script accepts. Default "demo"/"demo".
	Username, Password string

	// TLS, when set, adds a SIP-over-TLS listener on another free port of the Listen IP
	// (see TLSAddr), for callers that reach providers over TLS. Default: none.
	TLS *tls.Config
}

const (
	defaultListen      = "127.0.0.1:0"
	defaultRingDelay   = 300 * time.Millisecond
	defaultAnswerDelay = 2 * time.Second
	defaultTalkTime    = 5 * time.Second
	defaultCredential  = "demo"
)

// ErrInvalidConfig is wrapped by every error Validate (and so New) returns for a bad Config.
var ErrInvalidConfig = errors.New("simulator: invalid config")

// Validate reports a Config that New would refuse: a Listen that is not IPv4:port with a
// specific IP, or a negative duration. Its errors wrap ErrInvalidConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	ap, err := netip.ParseAddrPort(c.Listen)
	if err != nil {
		return fmt.Errorf("%w: listen %q: %w", ErrInvalidConfig, c.Listen, err)
	}
	if !ap.Addr().Is4() || ap.Addr().IsUnspecified() {
		// A wildcard bind has no address to put in Contact, and sipgo cannot send from it
		// (sipgo-notes P11). IPv6 would need bracketed URIs and IP6 SDP, which nothing asks for.
		return fmt.Errorf("%w: listen %q: need a specific IPv4 address", ErrInvalidConfig, c.Listen)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"trying delay", c.TryingDelay}, {"ring delay", c.RingDelay},
		{"answer delay", c.AnswerDelay}, {"talk time", c.TalkTime},
	} {
		if d.v < 0 {
			return fmt.Errorf("%w: %s %v is negative", ErrInvalidConfig, d.name, d.v)
		}
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = defaultListen
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.RingDelay == 0 {
		c.RingDelay = defaultRingDelay
	}
	if c.AnswerDelay == 0 {
		c.AnswerDelay = defaultAnswerDelay
	}
	if c.TalkTime == 0 {
		c.TalkTime = defaultTalkTime
	}
	if c.Username == "" {
		c.Username = defaultCredential
	}
	if c.Password == "" {
		c.Password = defaultCredential
	}
	return c
}

// LogValue keeps the password out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("listen", c.Listen),
		slog.Duration("trying_delay", c.TryingDelay),
		slog.Duration("ring_delay", c.RingDelay),
		slog.Duration("answer_delay", c.AnswerDelay),
		slog.Duration("talk_time", c.TalkTime),
		slog.String("username", c.Username),
		slog.String("password", "REDACTED"),
	)
}
