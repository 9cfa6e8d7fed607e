package directions

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ccplane/telephony/internal/testenv"
)

func TestRedis(t *testing.T) {
	s := newRedisStore(t) // one server; the subtests use gateways of their own
	testStore(t, func(*testing.T) Store { return s })
}

// The layout is an interface too: operators read it with redis-cli, and a Cluster needs
// a gateway's keys in one slot.
func TestRedisLayout(t *testing.T) {
	c := newClient(t, testenv.StartRedis(t))
	s := NewRedis(c)
	ctx := t.Context()
	if _, err := s.Replace(ctx, "gw-1", []Rule{allow("7"), deny("7809")}); err != nil {
		t.Fatal(err)
	}
	hash, err := c.HGetAll(ctx, "directions:{gw-1}:rules").Result()
	if diff := cmp.Diff(map[string]string{"7": "allow", "7809": "deny"}, hash); diff != "" || err != nil {
		t.Errorf("rules hash: %v (-want +got):\n%s", err, diff)
	}
	if got, err := c.Get(ctx, "directions:{gw-1}:version").Result(); got != "1" || err != nil {
		t.Errorf("version key: got %q, %v, want %q", got, err, "1")
	}
	if got, err := c.Keys(ctx, "*").Result(); len(got) != 2 || err != nil {
		t.Errorf("keys: got %v, %v, want the two of gw-1", got, err)
	}
}

// A rule someone wrote by hand that is not valid makes the whole set unreadable: skipping
// it could drop a deny and widen what is allowed.
func TestRedisInvalidStoredRule(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		action string
	}{
		{name: "unknown action", prefix: "7", action: "maybe"},
		{name: "prefix with a plus", prefix: "+7", action: "allow"},
	}
	c := newClient(t, testenv.StartRedis(t))
	s := NewRedis(c)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gw := t.Name()
			if _, err := s.Replace(t.Context(), gw, []Rule{deny("7809")}); err != nil {
				t.Fatal(err)
			}
			if err := c.HSet(t.Context(), rulesKey(gw), tc.prefix, tc.action).Err(); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Rules(t.Context(), gw); !errors.Is(err, ErrInvalidRule) {
				t.Errorf("Rules: got %v, want %v", err, ErrInvalidRule)
			}
		})
	}
}

// When the connection fails, Subscribe returns (for the cache to subscribe again) rather
// than waiting on a connection that is gone.
func TestRedisSubscribeEndsWhenKilled(t *testing.T) {
	c := newClient(t, testenv.StartRedis(t))
	s := NewRedis(c)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	subscribed := make(chan struct{}, 1) // Subscribe's "" arrives once here
	done := make(chan error, 1)
	go func() {
		done <- s.Subscribe(ctx, func(g string) {
			if g == "" {
				subscribed <- struct{}{}
			}
		})
	}()
	receive(t, subscribed, "the subscription")
	if err := c.ClientKillByFilter(t.Context(), "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	err := receive(t, done, "Subscribe to return")
	if err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("Subscribe after its connection was killed: got %v, want a connection error", err)
	}
}
