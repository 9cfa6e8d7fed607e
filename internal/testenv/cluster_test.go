package testenv

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The nodes share the slots, so keys spread over all of them, and they stop with the test.
func TestStartRedisCluster(t *testing.T) {
	t.Parallel()
	var addrs []string
	t.Run("serves", func(t *testing.T) {
		addrs = StartRedisCluster(t, 3)
		if len(addrs) != 3 {
			t.Fatalf("got %d addresses, want 3", len(addrs))
		}
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs[:1], DisableIdentity: true,
			DialTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
		defer c.Close()
		ctx := t.Context()
		for i := range 100 {
			if err := c.Set(ctx, fmt.Sprintf("key-%d", i), i, 0).Err(); err != nil {
				t.Fatalf("SET key-%d: %v", i, err)
			}
		}
		var masters, empty atomic.Int32
		err := c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			masters.Add(1)
			if node.DBSize(ctx).Val() == 0 {
				empty.Add(1)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if masters.Load() != 3 || empty.Load() != 0 {
			t.Errorf("got %d masters of which %d hold none of 100 keys, want 3 holding some each", masters.Load(), empty.Load())
		}
	})
	for _, addr := range addrs {
		if err := ping(addr); err == nil {
			t.Errorf("cluster node at %s still answers after its test ended", addr)
		}
	}
}

func TestStartRedisClusterRefuses(t *testing.T) {
	tests := []struct {
		name  string
		path  string // PATH while it runs; "" keeps it
		nodes int
		want  []string
	}{
		{name: "too few nodes", nodes: 2, want: []string{"at least 3"}},
		{name: "no redis-cli", path: "/nonexistent", nodes: 3,
			want: []string{"redis-cli not found", "apt-get install redis-tools"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantFailure(t, "StartRedisCluster", tc.path, func(tb testing.TB) { StartRedisCluster(tb, tc.nodes) }, tc.want)
		})
	}
}
