package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/client"
	"github.com/ccplane/telephony/internal/testenv"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/tracker"
)

func TestRedisOptions(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		want    redis.UniversalOptions // but the two settings every URL gets
		wantErr string
	}{
		{name: "one server", url: "redis://app:s3cret@10.0.0.1:6380/2?dial_timeout=3&pool_size=20",
			want: redis.UniversalOptions{Addrs: []string{"10.0.0.1:6380"}, Username: "app", Password: "s3cret", DB: 2,
				DialTimeout: 3 * time.Second, PoolSize: 20}},
		{name: "one server, defaults", url: "redis://",
			want: redis.UniversalOptions{Addrs: []string{"localhost:6379"}}},
		{name: "one server over TLS", url: "rediss://cache.example",
			want: redis.UniversalOptions{Addrs: []string{"cache.example:6379"},
				TLSConfig: &tls.Config{ServerName: "cache.example", MinVersion: tls.VersionTLS12}}},
		{name: "cluster", url: "redis+cluster://app:s3cret@10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000&max_redirects=5&read_timeout=2s",
			want: redis.UniversalOptions{Addrs: []string{"10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"},
				Username: "app", Password: "s3cret", MaxRedirects: 5, ReadTimeout: 2 * time.Second, IsClusterMode: true}},
		{name: "cluster of one address", url: "redis+cluster://10.0.0.1:7000/",
			want: redis.UniversalOptions{Addrs: []string{"10.0.0.1:7000"}, IsClusterMode: true}},
		{name: "cluster over TLS", url: "rediss+cluster://node1.example:7000?read_only=true",
			want: redis.UniversalOptions{Addrs: []string{"node1.example:7000"}, ReadOnly: true, IsClusterMode: true,
				TLSConfig: &tls.Config{ServerName: "node1.example"}}},
		{name: "sentinel",
			url: "redis+sentinel://sen:tinel@10.0.0.1:26379/1?master_name=main&addr=10.0.0.2:26379&username=app&password=s3cret",
			want: redis.UniversalOptions{Addrs: []string{"10.0.0.1:26379", "10.0.0.2:26379"}, MasterName: "main", DB: 1,
				SentinelUsername: "sen", SentinelPassword: "tinel", Username: "app", Password: "s3cret"}},
		{name: "sentinel, reading replicas", url: "rediss+sentinel://10.0.0.1:26379?master_name=main&replica_only=true",
			want: redis.UniversalOptions{Addrs: []string{"10.0.0.1:26379"}, MasterName: "main", ReadOnly: true,
				TLSConfig: &tls.Config{ServerName: "10.0.0.1", MinVersion: tls.VersionTLS12}}},

		{name: "sentinel without master", url: "redis+sentinel://10.0.0.1:26379", wantErr: "master_name"},
		{name: "cluster with a database", url: "redis+cluster://10.0.0.1:7000/1", wantErr: "no database number"},
		{name: "unknown deployment", url: "redis+ring://10.0.0.1", wantErr: "scheme redis+ring"},
		{name: "not redis", url: "http://10.0.0.1", wantErr: "invalid URL scheme: http"},
		{name: "unix socket", url: "unix:///run/redis.sock", wantErr: "network unix"},
		{name: "unknown option", url: "redis://10.0.0.1?colour=blue", wantErr: "unexpected option: colour"},
		{name: "option the universal client lacks", url: "redis+sentinel://10.0.0.1:26379?master_name=main&use_disconnected_replicas=true",
			wantErr: "UseDisconnectedReplicas is not supported"},
		// The password must not reach the logs through the error.
		{name: "malformed", url: "redis://app:hunter2@10.0.0.1:port", wantErr: `invalid port ":port"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := redisOptions(tc.url)
			cfg := defaultConfig()
			cfg.Redis.URL = tc.url
			cfgErr := cfg.validate() // which reports the gateways missing too
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "hunter2") {
					t.Errorf("redisOptions(%q): got error %v, want one saying %q (and no password)", tc.url, err, tc.wantErr)
				}
				if cfgErr == nil || !strings.Contains(cfgErr.Error(), "redis.url") {
					t.Errorf("config with redis.url %q: got %v, want a redis.url error", tc.url, cfgErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("redisOptions(%q): %v", tc.url, err)
			}
			if cfgErr != nil && strings.Contains(cfgErr.Error(), "redis.url") {
				t.Errorf("config with redis.url %q: %v", tc.url, cfgErr)
			}
			want := tc.want
			want.DisableIdentity = true
			want.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
			if diff := cmp.Diff(&want, got, cmpopts.IgnoreUnexported(tls.Config{})); diff != "" {
				t.Errorf("redisOptions(%q) (-want +got):\n%s", tc.url, diff)
			}
		})
	}
}

// A cluster URL naming one node of a 3-node Cluster reaches all three.
func TestOpenRedisCluster(t *testing.T) {
	t.Parallel()
	addrs := testenv.StartRedisCluster(t, 3)
	cfg := defaultConfig()
	cfg.Redis.URL = "redis+cluster://" + addrs[0] + "?dial_timeout=1s&read_timeout=2s"
	c, err := openRedis(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cluster, ok := c.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("got a %T, want a *redis.ClusterClient", c)
	}
	ctx := t.Context()
	for _, key := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		if err := c.Set(ctx, key, "1", time.Minute).Err(); err != nil {
			t.Fatalf("SET %s: %v", key, err)
		}
	}
	var masters, holding atomic.Int32
	err = cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		masters.Add(1)
		if node.DBSize(ctx).Val() > 0 {
			holding.Add(1)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if masters.Load() != 3 || holding.Load() != 3 {
		t.Errorf("got %d masters, %d of them holding keys, want 3 and 3", masters.Load(), holding.Load())
	}
}

// A sentinel URL naming the one sentinel of a master reaches that master: a write through
// the client lands there, and so do the records of a telephonyd running on that URL.
func TestOpenRedisSentinel(t *testing.T) {
	t.Parallel()
	s := testenv.StartRedisSentinel(t, "telephony")
	url := "redis+sentinel://" + s.Addr + "?master_name=telephony&dial_timeout=1s&read_timeout=2s"
	opt, err := redisOptions(url)
	if err != nil {
		t.Fatalf("redisOptions(%q): %v", url, err)
	}
	c := redis.NewUniversalClient(opt)
	defer c.Close()
	master := redis.NewClient(&redis.Options{Addr: s.Master.Addr(), DisableIdentity: true, DialTimeout: time.Second})
	defer master.Close()
	ctx := t.Context()
	if err := c.Set(ctx, "k", "through the sentinel", time.Minute).Err(); err != nil {
		t.Fatalf("SET through %s: %v", url, err)
	}
	if got, err := master.Get(ctx, "k").Result(); err != nil || got != "through the sentinel" {
		t.Errorf("GET k on the master: got %q, %v, want %q", got, err, "through the sentinel")
	}

	t.Run("telephonyd", func(t *testing.T) {
		busy := testenv.StartSIPp(t, "reject", testenv.SIPpOptions{
			Keys: map[string]string{"code": "486", "reason": "Busy Here", "q850": "17"}})
		grpcAddr := freeAddr(t)
		svc := startService(t, fmt.Sprintf(`
grpc: {listen: %q}
sip: {listen: "127.0.0.1:0"}
redis: {url: %q}
log: {level: warn}
gateways:
  - {name: busy, address: %q, allow: [""], keepalive: 0s}
`, grpcAddr, url, busy.Addr()), grpcAddr)
		api, err := client.Dial(grpcAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer api.Close()
		ctx, cancel := context.WithTimeout(t.Context(), testenv.WaitFor)
		defer cancel()
		call, err := api.PlaceCall(ctx, &telephonyv1.PlaceCallRequest{Gateway: "busy", To: "15550100486"})
		if err != nil {
			t.Fatalf("PlaceCall: %v\n%s", err, svc.stderr.String())
		}
		id := call.GetCallId()
		if err := api.Watch(ctx, id, 0, func(*telephonyv1.CallEvent) error { return nil }); err != nil {
			t.Fatalf("watching call %s to its end: %v\n%s", id, err, svc.stderr.String())
		}
		got, err := api.GetCall(ctx, id)
		if err != nil {
			t.Fatalf("GetCall(%s): %v", id, err)
		}
		if got.GetState() != telephonyv1.CallState_CALL_STATE_ENDED ||
			got.GetTermination().GetCause() != telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_REJECTED ||
			got.GetLastResponse().GetCode() != 486 {
			t.Errorf("GetCall(%s): got %v, want ended remote_rejected with last response 486", id, got)
		}
		svc.stop(t)
		busy.Wait(t)
		noErrorsLogged(t, "telephonyd", svc.stderr.String())

		// Where the sentinel sent telephonyd: read back from the master itself.
		store, err := tracker.NewRedis(tracker.RedisConfig{}, master)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := store.Get(ctx, id)
		if err != nil {
			t.Fatalf("record of call %s on the master: %v", id, err)
		}
		if rec.State != telephony.StateEnded || rec.Termination.Cause != telephony.CauseRemoteRejected ||
			rec.LastResponse.Code != 486 {
			t.Errorf("record of call %s on the master = %+v, want ended remote_rejected with last 486", id, rec)
		}
	})
}
