package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ccplane/telephony/client"
	"github.com/ccplane/telephony/internal/testenv"
)

// TestRedisOutage stops Redis under a running telephonyd: calls keep being judged by the last
// rules loaded, the log and the metrics say they may be stale, and all is fresh again once
// Redis is back.
func TestRedisOutage(t *testing.T) {
	redisSrv := testenv.StartRedisServer(t, testenv.RedisOptions{Persist: true})
	grpcAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", testenv.FreePort(t, "tcp"))
	svc := startService(t, fmt.Sprintf(`
grpc: {listen: %q}
sip: {listen: "127.0.0.1:0"}
redis: {url: "redis://%s/0"}
metrics: {listen: %q}
gateways:
  - {name: carrier-a, address: "127.0.0.1:9", allow: ["7"], deny: ["7809"]}
`, grpcAddr, redisSrv.Addr(), strings.TrimSuffix(strings.TrimPrefix(metricsURL, "http://"), "/metrics")), grpcAddr)
	defer svc.stop(t)
	c, err := client.Dial(grpcAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	const fresh, stale = `telephony_directions_stale{gateway="carrier-a"} 0`, `telephony_directions_stale{gateway="carrier-a"} 1`
	waitMetric(t, metricsURL, fresh)
	redisSrv.Stop()
	waitMetric(t, metricsURL, stale)
	res, err := c.CheckDirection(context.Background(), "carrier-a", "78091234567")
	if err != nil || res.GetAllowed() {
		t.Errorf("with Redis down, 7809… = %v, %v; want still blocked by the last rules", res, err)
	}
	if !strings.Contains(svc.stderr.String(), "directions may be stale") {
		t.Errorf("the log does not say the rules may be stale:\n%s", svc.stderr.String())
	}
	redisSrv.Start()
	waitMetric(t, metricsURL, fresh)
}

// waitMetric scrapes url until its body has line, or fails after 15 s.
func waitMetric(t *testing.T, url, line string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var body string
	for time.Now().Before(deadline) {
		if body = scrape(url); strings.Contains(body, line+"\n") {
			return
		}
		<-tick.C
	}
	t.Fatalf("metrics never showed %q; last scrape:\n%s", line, grepLines(body, "telephony_"))
}

// scrape returns the metrics page at url, or "" if it could not be read.
func scrape(url string) string {
	res, err := http.Get(url)
	if err != nil {
		return ""
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
