package directions

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony/internal/testenv"
)

// waitFor bounds every wait for something another goroutine or instance does.
const waitFor = 10 * time.Second

// eventually polls cond until it holds, failing the test with what after waitFor.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitFor)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("after %v: still waiting for %s", waitFor, what)
		case <-tick.C:
		}
	}
}

// receive returns the next value from ch, failing the test after waitFor.
func receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitFor):
		t.Fatalf("after %v: still waiting for %s", waitFor, what)
	}
	panic("unreachable")
}

// newClient returns a go-redis client of addr, closed when the test ends. Retries are
// and dial retries are off so that a stopped server fails calls at once.
func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newRedisStore returns a Redis store with its own client of a fresh redis-server.
func newRedisStore(t testing.TB) *Redis {
	return NewRedis(newClient(t, testenv.StartRedis(t)))
}

// runCache runs c until the test ends, and waits for Run to return then.
func runCache(t testing.TB, c *Cache) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1) // Run's result, read in cleanup
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: got %v, want nil", err)
		}
	})
}
