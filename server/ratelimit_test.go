package server

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc/peer"
)

func tokenCtx(name string) context.Context {
	return context.WithValue(context.Background(), identityKey{}, Identity{Name: name, Role: RoleDialer})
}

func peerCtx(addr string) context.Context {
	return peer.NewContext(context.Background(), &peer.Peer{Addr: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(addr))})
}

// passed counts how many of n requests in a row pass.
func passed(l *limiter, ctx context.Context, n int) int {
	ok := 0
	for range n {
		if l.Limit(ctx) == nil {
			ok++
		}
	}
	return ok
}

func TestLimiterBuckets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(RateLimitConfig{
			Default: RateLimit{RPS: 1, Burst: 3},
			Tokens:  map[string]RateLimit{"ops": {}, "batch": {RPS: 10, Burst: 20}},
		})
		for _, tc := range []struct {
			name string
			ctx  context.Context
			want int
		}{
			{name: "token at the default", ctx: tokenCtx("crm"), want: 3},
			{name: "another token, its own bucket", ctx: tokenCtx("desk-7"), want: 3},
			{name: "override", ctx: tokenCtx("batch"), want: 20},
			{name: "override to unlimited", ctx: tokenCtx("ops"), want: 100},
			{name: "an address", ctx: peerCtx("192.0.2.1:4000"), want: 3},
			{name: "the same address, another port", ctx: peerCtx("192.0.2.1:4001"), want: 0},
			{name: "another address", ctx: peerCtx("[2001:db8::1]:4000"), want: 3},
		} {
			if got := passed(l, tc.ctx, 100); got != tc.want {
				t.Errorf("%s: got %d of 100 allowed, want %d", tc.name, got, tc.want)
			}
		}
		if err := l.Limit(tokenCtx("crm")); err == nil || !strings.Contains(err.Error(), "token crm") {
			t.Errorf("over the limit: got %v, want an error naming token crm", err)
		}

		time.Sleep(time.Second)
		if got := passed(l, tokenCtx("crm"), 100); got != 1 {
			t.Errorf("a second later: got %d allowed, want 1 (1 rps)", got)
		}

		// Past the sweep, every bucket has refilled and only the one just used is left.
		time.Sleep(sweepEvery)
		passed(l, tokenCtx("crm"), 1)
		l.mu.Lock()
		n := len(l.buckets)
		l.mu.Unlock()
		if n != 1 {
			t.Errorf("after the sweep: got %d buckets, want 1", n)
		}
	})
}

func TestLimiterBounded(t *testing.T) {
	l := newLimiter(RateLimitConfig{Default: RateLimit{RPS: 1}})
	for i := range maxBuckets + 10 {
		passed(l, peerCtx(fmt.Sprintf("10.%d.%d.%d:1", i>>16&0xff, i>>8&0xff, i&0xff)), 1)
	}
	if n := len(l.buckets); n != maxBuckets {
		t.Errorf("got %d buckets, want at most %d", n, maxBuckets)
	}
}

func TestRateLimitValidate(t *testing.T) {
	for _, r := range []RateLimit{{RPS: -1}, {RPS: math.NaN()}, {RPS: math.Inf(1)}, {RPS: 1, Burst: -2}} {
		if err := r.Validate(); err == nil {
			t.Errorf("%+v: got nil, want an error", r)
		}
	}
	for _, r := range []RateLimit{{}, {RPS: 0.5}, {RPS: 100, Burst: 10}} {
		if err := r.Validate(); err != nil {
			t.Errorf("%+v: got %v, want nil", r, err)
		}
	}
}
