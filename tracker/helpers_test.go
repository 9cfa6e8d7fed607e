package tracker

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/internal/testenv"
)

// newClient returns a go-redis client of addr, closed when the test ends. Retries are off
// and timeouts short, so that a stopped server fails calls at once.
func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1,
		DialTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newRedis returns a Redis store on c.
func newRedis(t testing.TB, cfg RedisConfig, c redis.UniversalClient) *Redis {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	r, err := NewRedis(cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// newRedisStore returns a Redis store of its own fresh redis-server, on the suite's clock.
func newRedisStore(t testing.TB) *Redis {
	return newRedis(t, RedisConfig{Now: suiteClock, ReportLabels: suiteReportLabels}, newClient(t, testenv.StartRedis(t)))
}

// suiteClock is the time the suite's Redis stores trim by: a fixed day after the suite's
// calls, so that they stay within the retention whatever the date.
func suiteClock() time.Time { return suiteT0.Add(24 * time.Hour) }

// testLogger writes to the test's output; whatever logs to it must be stopped before the
// test ends.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// expectBuckets adds up what the stores must have counted for these ended calls, each once.
func expectBuckets(calls []*telephony.Call) []Bucket {
	byKey := make(map[bucketKey]*Bucket)
	var out []Bucket
	for _, c := range calls {
		k := bucketOf(c)
		if byKey[k] == nil {
			byKey[k] = &Bucket{Gateway: c.Gateway, Hour: HourOf(c), Counters: map[string]int64{}}
		}
		for name, n := range Counters(c) {
			byKey[k].Counters[name] += n
		}
	}
	for _, b := range byKey {
		out = append(out, *b)
	}
	sortBuckets(out)
	return out
}

// expectLabelBuckets is expectBuckets of the calls with label "k=v", the buckets of label.
func expectLabelBuckets(calls []*telephony.Call, label string) []Bucket {
	k, v, _ := strings.Cut(label, "=")
	var with []*telephony.Call
	for _, c := range calls {
		if got, ok := c.Labels[k]; ok && got == v {
			with = append(with, c)
		}
	}
	out := expectBuckets(with)
	for i := range out {
		out[i].Label = label
	}
	return out
}

// ended returns c as it ends for cause, with last response code.
func ended(c *telephony.Call, code int, cause telephony.Cause, at time.Time) *telephony.Call {
	c = c.Clone()
	c.State = telephony.StateEnded
	c.LastResponse = telephony.Status{Code: code, Reason: "reason of " + c.ID}
	c.Termination = telephony.Termination{Party: cause.Party(), Cause: cause}
	c.EndedAt = at
	if code == 200 && c.AnsweredAt.IsZero() {
		c.AnsweredAt = at.Add(-time.Minute)
	}
	return c
}
