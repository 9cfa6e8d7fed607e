package server

import (
	"context"
	"fmt"
	"math"
	"net"
	"sync"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/ratelimit"
	"golang.org/x/time/rate"
	"google.golang.org/grpc/peer"
)

// RateLimit is a token bucket: RPS requests per second on average, in bursts of up to Burst.
type RateLimit struct {
	// RPS is the sustained rate; 0 = unlimited.
	RPS float64
	// Burst is how many requests may come at once; 0 = RPS rounded up (at least 1).
	Burst int
}

// Validate refuses a negative, NaN or infinite rate and a negative burst.
func (r RateLimit) Validate() error {
	if r.RPS < 0 || math.IsNaN(r.RPS) || math.IsInf(r.RPS, 0) || r.Burst < 0 {
		return fmt.Errorf("rps %v, burst %d: want a finite rps >= 0 and a burst >= 0", r.RPS, r.Burst)
	}
	return nil
}

func (r RateLimit) burst() int {
	if r.Burst > 0 {
		return r.Burst
	}
	return max(1, int(math.Ceil(min(r.RPS, math.MaxInt32))))
}

// RateLimitConfig limits each caller's requests (health and reflection are never limited).
// A caller is its token's name, or its IP address when authentication is off.
type RateLimitConfig struct {
	// Default applies to every caller without an override; zero = unlimited.
	Default RateLimit
	// Tokens overrides Default for the tokens named, by Token.Name.
	Tokens map[string]RateLimit
}

const (
	// sweepEvery is how often full buckets are dropped.
	sweepEvery = time.Minute
	// maxBuckets bounds the map when callers are told apart by IP address, which a client
	// can vary; with tokens there are only as many callers as configured tokens.
	maxBuckets = 1 << 16
)

// limiter keeps one token bucket per caller.
type limiter struct {
	cfg RateLimitConfig

	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	lastSweep time.Time
}

var _ ratelimit.Limiter = (*limiter)(nil)

func newLimiter(cfg RateLimitConfig) *limiter {
	return &limiter{cfg: cfg, buckets: make(map[string]*rate.Limiter), lastSweep: time.Now()}
}

// active reports whether any caller is limited at all.
func (l *limiter) active() bool {
	if l.cfg.Default.RPS > 0 {
		return true
	}
	for _, r := range l.cfg.Tokens {
		if r.RPS > 0 {
			return true
		}
	}
	return false
}

// Limit takes one token from the caller's bucket; the error says which limit was hit.
func (l *limiter) Limit(ctx context.Context) error {
	key, r := l.caller(ctx)
	if r.RPS <= 0 || l.allow(key, r) {
		return nil
	}
	return fmt.Errorf("request rate limit of %s exceeded (%g requests per second, bursts of %d)", key, r.RPS, r.burst())
}

// caller names the bucket of the request's caller and the limit that applies to it.
func (l *limiter) caller(ctx context.Context) (string, RateLimit) {
	if id, ok := IdentityFromContext(ctx); ok {
		if r, ok := l.cfg.Tokens[id.Name]; ok {
			return "token " + id.Name, r
		}
		return "token " + id.Name, l.cfg.Default
	}
	ip := "unknown"
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		ip = p.Addr.String()
		if host, _, err := net.SplitHostPort(ip); err == nil {
			ip = host
		}
	}
	return "address " + ip, l.cfg.Default
}

// allow takes a token from key's bucket, creating it full on first use.
func (l *limiter) allow(key string, r RateLimit) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= sweepEvery {
		l.sweepLocked(now)
	}
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			for k := range l.buckets { // any one: map order is random
				delete(l.buckets, k)
				break
			}
		}
		b = rate.NewLimiter(rate.Limit(r.RPS), r.burst())
		l.buckets[key] = b
	}
	return b.AllowN(now, 1)
}

// sweepLocked drops the buckets that have refilled: a full bucket is what a new caller gets,
// so dropping it forgets nothing.
func (l *limiter) sweepLocked(now time.Time) {
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(b.Burst()) {
			delete(l.buckets, k)
		}
	}
	l.lastSweep = now
}
