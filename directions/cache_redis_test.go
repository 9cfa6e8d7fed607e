package directions

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony/internal/testenv"
)

// instance is what one telephonyd holds: its own client, store and cache.
type instance struct {
	client *redis.Client
	store  *Redis
	cache  *Cache
}

// newInstance starts an instance on addr: its cache is loaded and running. wrap, if set,
// changes the store the cache sees.
func newInstance(t testing.TB, addr string, cfg CacheConfig, wrap func(Store) Store) *instance {
	t.Helper()
	in := &instance{client: newClient(t, addr)}
	in.store = NewRedis(in.client)
	var s Store = in.store
	if wrap != nil {
		s = wrap(s)
	}
	in.cache = NewCache(cfg, s)
	if err := in.cache.Load(t.Context()); err != nil {
		t.Fatalf("Load: %v", err)
	}
	runCache(t, in.cache)
	return in
}

// waitSubscribers waits until n clients listen on the changes channel, so that a change
// made next reaches them by pub/sub.
func waitSubscribers(t testing.TB, c *redis.Client, n int64) {
	t.Helper()
	testenv.Eventually(t, fmt.Sprintf("%d subscribers", n), func() bool {
		got, err := c.PubSubNumSub(context.Background(), changesChannel).Result()
		return err == nil && got[changesChannel] == n
	})
}

// waitVersion waits until the cache has the gateway's rules of version v in force.
func waitVersion(t testing.TB, c *Cache, gw string, v uint64) {
	t.Helper()
	testenv.Eventually(t, fmt.Sprintf("%s at version %d", gw, v), func() bool {
		got, _ := c.Version(gw)
		return got == v
	})
}

// A change made through one instance reaches another by pub/sub (its version check is
// an hour away), also after its subscription was cut and restored.
func TestCachePropagation(t *testing.T) {
	addr := testenv.StartRedis(t)
	cfg := CacheConfig{Gateways: []string{"gw"}, CheckInterval: time.Hour}
	a, b := newInstance(t, addr, cfg, nil), newInstance(t, addr, cfg, nil)
	waitSubscribers(t, a.client, 2)
	ctx := t.Context()

	changes := []struct {
		name   string
		change func() (uint64, error)
		number string
		want   Decision
	}{
		{name: "replace", number: "79161234567", want: Decision{Allowed: true, Matched: true, Rule: allow("7")},
			change: func() (uint64, error) { return a.store.Replace(ctx, "gw", []Rule{allow("7")}) }},
		{name: "add", number: "78091234567", want: Decision{Matched: true, Rule: deny("7809")},
			change: func() (uint64, error) { return a.store.Add(ctx, "gw", []Rule{deny("7809")}) }},
		{name: "remove", number: "79161234567", want: Decision{},
			change: func() (uint64, error) { return a.store.Remove(ctx, "gw", []string{"7"}) }},
		{name: "after the subscription was cut", number: "4420", want: Decision{Allowed: true, Matched: true, Rule: allow("44")},
			change: func() (uint64, error) {
				if err := a.client.ClientKillByFilter(ctx, "TYPE", "pubsub").Err(); err != nil {
					return 0, err
				}
				waitSubscribers(t, a.client, 2)
				return a.store.Add(ctx, "gw", []Rule{allow("44")})
			}},
	}
	for _, tc := range changes {
		v, err := tc.change()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		// The writer sees its own change at once.
		if err := a.cache.Refresh(ctx, "gw"); err != nil {
			t.Fatalf("%s: Refresh: %v", tc.name, err)
		}
		if _, d, err := a.cache.Check("gw", tc.number); d != tc.want || err != nil {
			t.Errorf("%s: writer's Check(%s): got %+v, %v, want %+v", tc.name, tc.number, d, err, tc.want)
		}
		waitVersion(t, b.cache, "gw", v)
		if _, d, err := b.cache.Check("gw", tc.number); d != tc.want || err != nil {
			t.Errorf("%s: other instance's Check(%s): got %+v, %v, want %+v", tc.name, tc.number, d, err, tc.want)
		}
	}
}

// A change made while an instance is not subscribed is repaired by its version check.
func TestCacheVersionCheckRepairs(t *testing.T) {
	addr := testenv.StartRedis(t)
	a := newInstance(t, addr, CacheConfig{Gateways: []string{"gw"}, CheckInterval: time.Hour}, nil)
	b := newInstance(t, addr, CacheConfig{Gateways: []string{"gw"}, CheckInterval: 20 * time.Millisecond},
		func(s Store) Store { return &fakeStore{Store: s, subscribe: deaf} })
	v, err := a.store.Replace(t.Context(), "gw", []Rule{allow("7")})
	if err != nil {
		t.Fatal(err)
	}
	waitVersion(t, b.cache, "gw", v)
	if _, d, _ := b.cache.Check("gw", "79161234567"); !d.Allowed {
		t.Errorf("Check: got %+v, want allowed", d)
	}
}

// Rules live in Redis: they survive its restart. While it is down, lookups answer from
// the last rules and Stale says so; a gateway never loaded is unavailable.
func TestCacheRedisRestart(t *testing.T) {
	srv := testenv.StartRedisServer(t, testenv.RedisOptions{Persist: true})
	ctx := t.Context()
	a := newInstance(t, srv.Addr(), CacheConfig{Gateways: []string{"gw"}, CheckInterval: time.Hour}, nil)
	rules := []Rule{allow("7"), deny("7809")}
	v, err := a.store.Replace(ctx, "gw", rules)
	if err != nil {
		t.Fatal(err)
	}
	b := newInstance(t, srv.Addr(), CacheConfig{Gateways: []string{"gw"}, CheckInterval: 20 * time.Millisecond}, nil)
	waitVersion(t, b.cache, "gw", v)

	srv.Stop()
	testenv.Eventually(t, "Stale to report gw", func() bool { _, ok := b.cache.Stale()["gw"]; return ok })
	if _, d, err := b.cache.Check("gw", "79161234567"); !d.Allowed || err != nil {
		t.Errorf("Check while Redis is down: got %+v, %v, want allowed by the last rules", d, err)
	}
	if _, d, err := b.cache.Check("gw", "78091234567"); d.Allowed || err != nil {
		t.Errorf("Check while Redis is down: got %+v, %v, want denied by the last rules", d, err)
	}
	fresh := NewCache(CacheConfig{Gateways: []string{"gw"}}, a.store)
	if err := fresh.Load(ctx); err == nil {
		t.Error("Load while Redis is down: got nil, want an error")
	}
	if _, _, err := fresh.Check("gw", "79161234567"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Check of a never loaded gateway: got %v, want %v", err, ErrUnavailable)
	}

	srv.Start()
	testenv.Eventually(t, "Stale to clear", func() bool { return b.cache.Stale() == nil })
	got, gotV, err := a.store.Rules(ctx, "gw")
	if diff := cmp.Diff(rules, got); diff != "" || gotV != v || err != nil {
		t.Errorf("rules after the restart: version %d, %v, want %d (-want +got):\n%s", gotV, err, v, diff)
	}
	if err := fresh.Load(ctx); err != nil {
		t.Errorf("Load after the restart: %v", err)
	}
	// Both instances subscribe again; a change reaches b as before.
	waitSubscribers(t, a.client, 2)
	v, err = a.store.Add(ctx, "gw", []Rule{allow("44")})
	if err != nil {
		t.Fatal(err)
	}
	waitVersion(t, b.cache, "gw", v)
}
