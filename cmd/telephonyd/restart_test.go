package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/ccplane/telephony/client"
	"github.com/ccplane/telephony/internal/testenv"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// TestDirectionsSurviveRestart runs telephonyd twice on the same Redis: the first run seeds
// the gateway's rules from the config and an operator changes them through the API; the
// second run must serve the changed rules, not the config's seed again.
func TestDirectionsSurviveRestart(t *testing.T) {
	redisAddr := testenv.StartRedis(t)
	grpcAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	cfgPath := filepath.Join(t.TempDir(), "telephonyd.yaml")
	cfg := fmt.Sprintf(`
grpc: {listen: %q}
sip: {listen: "127.0.0.1:0"}
redis: {url: "redis://%s/0"}
log: {level: warn}
gateways:
  - {name: carrier-a, address: "127.0.0.1:9", allow: ["7"], deny: ["7809"]}
`, grpcAddr, redisAddr)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	withService := func(fn func(c *client.Client)) {
		t.Helper()
		var stderr syncBuffer
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- run(ctx, []string{"--config", cfgPath}, &syncBuffer{}, &stderr) }()
		waitServing(t, grpcAddr, &stderr)
		c, err := client.Dial(grpcAddr)
		if err != nil {
			t.Fatal(err)
		}
		fn(c)
		c.Close()
		cancel()
		if err := <-errc; err != nil {
			t.Fatalf("run: %v\n%s", err, stderr.String())
		}
	}

	withService(func(c *client.Client) {
		d, err := c.ListDirections(context.Background(), "carrier-a")
		if err != nil || len(d.GetRules()) != 2 {
			t.Fatalf("first start: rules %v, %v; want the two seeded from the config", d.GetRules(), err)
		}
		if _, err := c.RemoveRules(context.Background(), "carrier-a", []string{"7809"}); err != nil {
			t.Fatal(err)
		}
	})
	withService(func(c *client.Client) {
		res, err := c.CheckDirection(context.Background(), "carrier-a", "78091234567")
		if err != nil {
			t.Fatal(err)
		}
		if !res.GetAllowed() || res.GetMatchedRule().GetAction() != telephonyv1.DirectionAction_DIRECTION_ACTION_ALLOW {
			t.Errorf("after restart 7809… is %v: the config's deny came back over the API change", res)
		}
	})
}

// waitServing blocks until telephonyd at addr answers its health check (gRPC waits for the
// listener to appear), or fails the test after 10 s.
func waitServing(t *testing.T, addr string, stderr *syncBuffer) {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
	if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("telephonyd not serving at %s: %v %v\n%s", addr, res.GetStatus(), err, stderr.String())
	}
}
