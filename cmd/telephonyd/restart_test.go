package main

import (
	"context"
	"fmt"
	"testing"

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
	cfg := fmt.Sprintf(`
grpc: {listen: %q}
sip: {listen: "127.0.0.1:0"}
redis: {url: "redis://%s/0"}
log: {level: warn}
gateways:
  - {name: carrier-a, address: "127.0.0.1:9", allow: ["7"], deny: ["7809"]}
`, grpcAddr, redisAddr)

	withService := func(fn func(c *client.Client)) {
		t.Helper()
		svc := startService(t, cfg, grpcAddr)
		c, err := client.Dial(grpcAddr)
		if err != nil {
			t.Fatal(err)
		}
		fn(c)
		c.Close()
		svc.stop(t)
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
