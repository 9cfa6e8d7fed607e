package directions

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony/internal/testenv"
)

// receive returns the next value from ch, failing the test after testenv.WaitFor.
func receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(testenv.WaitFor):
		t.Fatalf("after %v: still waiting for %s", testenv.WaitFor, what)
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
	testenv.Run(t, "cache", c.Run)
}
