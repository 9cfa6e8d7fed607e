package client

import (
	"crypto/tls"
	"time"
)

// Defaults applied when an Option leaves a setting alone.
const (
	// DefaultTimeout is the deadline of a unary call, retries included.
	DefaultTimeout = 10 * time.Second
	// DefaultAttempts bounds the tries of a unary call and the consecutive failed streams of
	// a Watch.
	DefaultAttempts = 5
	// DefaultBackoff is the first delay between two tries; it doubles up to 16 times this.
	DefaultBackoff = 100 * time.Millisecond
)

// Option configures a Client built by New or Dial.
type Option func(*options)

type options struct {
	token    string
	tls      *tls.Config // nil = plaintext
	insecure bool        // WithInsecure was given explicitly
	timeout  time.Duration
	attempts int
	backoff  time.Duration
}

func newOptions(opts []Option) options {
	o := options{timeout: DefaultTimeout, attempts: DefaultAttempts, backoff: DefaultBackoff}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithToken sends token on every RPC as "authorization: Bearer <token>" metadata. The token
// only travels over TLS, with two exceptions: Dial to a loopback target (127.0.0.0/8, ::1,
// localhost, unix sockets), and New with WithInsecure, which declares the connection trusted.
// Otherwise Dial fails and RPCs made through New fail with Unauthenticated before anything
// is sent.
func WithToken(token string) Option {
	return func(o *options) { o.token = token }
}

// WithTLS makes Dial use TLS with cfg (nil = system roots, server name from the target); a
// certificate in cfg.Certificates is presented to servers that require client certificates.
// It replaces an earlier WithInsecure. New ignores it: the connection given to New is
// already configured.
func WithTLS(cfg *tls.Config) Option {
	return func(o *options) {
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		o.tls = cfg
		o.insecure = false
	}
}

// WithInsecure makes Dial use plaintext, the default when WithTLS is not given; it replaces
// an earlier WithTLS. With New it declares the connection trusted, so that WithToken's token
// may be sent over it without TLS (loopback, bufconn, a mesh sidecar).
func WithInsecure() Option {
	return func(o *options) {
		o.tls = nil
		o.insecure = true
	}
}

// WithTimeout sets the deadline of each unary call, retries included (default 10s). A
// shorter deadline on the caller's context still wins; d <= 0 keeps the default. Watch has
// no deadline of its own: its context governs it.
func WithTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// WithRetry bounds retries: attempts is the number of tries of a retryable unary call and
// the number of consecutive failed streams a Watch accepts before giving up (default 5; 1
// disables retries); backoff is the first delay between tries, doubled each time up to 16
// times its value, with jitter (default 100ms; <= 0 keeps the default).
func WithRetry(attempts int, backoff time.Duration) Option {
	return func(o *options) {
		o.attempts = max(attempts, 1)
		if backoff > 0 {
			o.backoff = backoff
		}
	}
}
