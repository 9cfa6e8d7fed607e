package testenv

import (
	"strings"
	"testing"
)

func TestStartRedis(t *testing.T) {
	t.Parallel()
	var addr string
	t.Run("serves", func(t *testing.T) {
		addr = StartRedis(t)
		if err := ping(addr); err != nil {
			t.Errorf("PING %s: %v", addr, err)
		}
	})
	if err := ping(addr); err == nil {
		t.Errorf("redis-server at %s still answers after its test ended", addr)
	}
}

func TestStartRedisMissing(t *testing.T) {
	t.Setenv("PATH", "/nonexistent")
	got := failureOf(t, func(tb testing.TB) { StartRedis(tb) })
	for _, want := range []string{"redis-server not found", "apt-get install redis-server", "./scripts/test"} {
		if !strings.Contains(got, want) {
			t.Errorf("StartRedis failure: got %q, want it to contain %q", got, want)
		}
	}
}
