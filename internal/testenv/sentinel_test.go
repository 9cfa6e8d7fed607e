package testenv

import (
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The sentinel names the master, a client sent by it writes to the master, and both stop
// with the test.
func TestStartRedisSentinel(t *testing.T) {
	t.Parallel()
	var s *RedisSentinel
	t.Run("serves", func(t *testing.T) {
		s = StartRedisSentinel(t, "telephony")
		if s.MasterName != "telephony" || s.Addr == s.Master.Addr() {
			t.Fatalf("got master %q at %s, sentinel at %s; want master telephony, sentinel elsewhere",
				s.MasterName, s.Master.Addr(), s.Addr)
		}
		ctx := t.Context()
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr, DisableIdentity: true, DialTimeout: time.Second})
		defer sc.Close()
		hostPort, err := sc.GetMasterAddrByName(ctx, "telephony").Result()
		if err != nil || len(hostPort) != 2 || net.JoinHostPort(hostPort[0], hostPort[1]) != s.Master.Addr() {
			t.Errorf("SENTINEL get-master-addr-by-name telephony: got %q, %v, want %s", hostPort, err, s.Master.Addr())
		}

		fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "telephony", SentinelAddrs: []string{s.Addr},
			DisableIdentity: true, DialTimeout: time.Second})
		defer fc.Close()
		if err := fc.Set(ctx, "k", "through the sentinel", 0).Err(); err != nil {
			t.Fatalf("SET through the sentinel: %v", err)
		}
		mc := redis.NewClient(&redis.Options{Addr: s.Master.Addr(), DisableIdentity: true, DialTimeout: time.Second})
		defer mc.Close()
		if got, err := mc.Get(ctx, "k").Result(); err != nil || got != "through the sentinel" {
			t.Errorf("GET k on the master: got %q, %v, want %q", got, err, "through the sentinel")
		}
	})
	if s == nil {
		return
	}
	for what, addr := range map[string]string{"master": s.Master.Addr(), "sentinel": s.Addr} {
		if err := ping(addr); err == nil {
			t.Errorf("%s at %s still answers after its test ended", what, addr)
		}
	}
}

func TestStartRedisSentinelRefuses(t *testing.T) {
	tests := []struct {
		name   string
		path   string // PATH while it runs; "" keeps it
		master string
		want   []string
	}{
		{name: "no master name", master: "", want: []string{"non-empty word"}},
		{name: "master name of two words", master: "two words", want: []string{"non-empty word"}},
		{name: "no redis-server", path: "/nonexistent", master: "telephony",
			want: []string{"redis-server not found", "apt-get install redis-server"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantFailure(t, "StartRedisSentinel", tc.path, func(tb testing.TB) { StartRedisSentinel(tb, tc.master) }, tc.want)
		})
	}
}
