package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/ccplane/telephony/client"
	"github.com/ccplane/telephony/internal/testenv"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/simulator"
)

// TestMetricsAndHealth runs telephonyd with two gateways, one answering (the simulator) and
// one dead, and checks what an operator's Prometheus and load balancer see: the call series
// after an answered call and a blocked one, gRPC server metrics, each gateway's state in
// metrics and health, and Redis' state in health while it is stopped and started again.
func TestMetricsAndHealth(t *testing.T) {
	redisSrv := testenv.StartRedisServer(t, testenv.RedisOptions{Persist: true})
	sim := testenv.StartSimulator(t, simulator.Config{RingDelay: 20 * time.Millisecond, AnswerDelay: 20 * time.Millisecond, TalkTime: 50 * time.Millisecond})
	dead := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "udp"))
	grpcAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	metricsURL := "http://" + metricsAddr + "/metrics"
	svc := startService(t, fmt.Sprintf(`
grpc: {listen: %q}
sip: {listen: "127.0.0.1:0", keepalive: {timeout: 200ms, down_after: 1}}
redis: {url: "redis://%s/0"}
metrics: {listen: %q, pprof: true}
log: {level: error}
gateways:
  - {name: sim, address: %q, allow: ["1"], keepalive: 200ms}
  - {name: dead, address: %q, allow: ["1"], keepalive: 200ms}
`, grpcAddr, redisSrv.Addr(), metricsAddr, sim.Addr(), dead), grpcAddr)
	defer svc.stop(t)
	c, err := client.Dial(grpcAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	call, err := c.PlaceCall(ctx, &telephonyv1.PlaceCallRequest{Gateway: "sim", To: "15550100200"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Watch(ctx, call.GetCallId(), 0, func(*telephonyv1.CallEvent) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PlaceCall(ctx, &telephonyv1.PlaceCallRequest{Gateway: "sim", To: "4951234567"}); err == nil {
		t.Fatal("PlaceCall outside the directions succeeded")
	}
	for _, line := range []string{
		`telephony_calls_started_total{gateway="sim"} 1`,
		`telephony_calls_ended_total{cause="remote_hangup",code="200",gateway="sim",party="finish"} 1`,
		`telephony_calls_ended_total{cause="direction_blocked",code="900",gateway="sim",party="kill"} 1`,
		`telephony_calls_active{gateway="sim"} 0`,
		`telephony_post_dial_delay_seconds_count{gateway="sim"} 1`,
		`telephony_setup_seconds_count{gateway="sim"} 1`,
		`telephony_direction_blocked_total{gateway="sim"} 1`,
		`telephony_gateway_up{gateway="sim"} 1`,
		`telephony_gateway_up{gateway="dead"} 0`,
		`grpc_server_handled_total{grpc_code="OK",grpc_method="PlaceCall",grpc_service="telephony.v1.CallService",grpc_type="unary"} 1`,
		`grpc_server_handled_total{grpc_code="PermissionDenied",grpc_method="PlaceCall",grpc_service="telephony.v1.CallService",grpc_type="unary"} 1`,
	} {
		waitMetric(t, metricsURL, line)
	}

	if heap := scrape("http://" + metricsAddr + "/debug/pprof/heap?debug=1"); !strings.Contains(heap, "# HeapAlloc = ") {
		t.Errorf("metrics.pprof: no heap profile at /debug/pprof/heap:\n%.300s", heap)
	}

	cc, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	health := healthpb.NewHealthClient(cc)
	waitHealth(t, health, map[string]healthpb.HealthCheckResponse_ServingStatus{
		"":                           healthpb.HealthCheckResponse_SERVING,
		"gateway/sim":                healthpb.HealthCheckResponse_SERVING,
		"gateway/dead":               healthpb.HealthCheckResponse_NOT_SERVING,
		"telephony.v1.CallService":   healthpb.HealthCheckResponse_SERVING,
		"redis":                      healthpb.HealthCheckResponse_SERVING,
		"telephony.v1.ReportService": healthpb.HealthCheckResponse_SERVING,
	})
	if body := scrape(metricsURL); strings.Contains(body, "telephony_redis_errors_total{") {
		t.Errorf("Redis errors counted while it was up:\n%s", grepLines(body, "redis_errors"))
	}
	redisSrv.Stop()
	waitHealth(t, health, map[string]healthpb.HealthCheckResponse_ServingStatus{
		"":                           healthpb.HealthCheckResponse_SERVING, // calls go on; records are buffered
		"redis":                      healthpb.HealthCheckResponse_NOT_SERVING,
		"telephony.v1.ReportService": healthpb.HealthCheckResponse_NOT_SERVING,
	})
	if body := scrape(metricsURL); !strings.Contains(body, `telephony_redis_errors_total{op="ping"}`) {
		t.Errorf("no Redis errors counted while it was down:\n%s", grepLines(body, "redis"))
	}
	redisSrv.Start()
	waitHealth(t, health, map[string]healthpb.HealthCheckResponse_ServingStatus{
		"redis":                      healthpb.HealthCheckResponse_SERVING,
		"telephony.v1.ReportService": healthpb.HealthCheckResponse_SERVING,
	})
}

// waitHealth polls the health service until every named service has its status, or fails
// after testenv.WaitFor with the statuses that differ.
func waitHealth(t *testing.T, h healthpb.HealthClient, want map[string]healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	deadline := time.Now().Add(testenv.WaitFor)
	for {
		var wrong []string
		for name, w := range want {
			res, err := h.Check(context.Background(), &healthpb.HealthCheckRequest{Service: name})
			if err != nil || res.GetStatus() != w {
				wrong = append(wrong, fmt.Sprintf("%q: %v %v, want %v", name, res.GetStatus(), err, w))
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("health after %v:\n%s", testenv.WaitFor, strings.Join(wrong, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
