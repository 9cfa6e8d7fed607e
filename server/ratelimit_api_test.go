package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/server"
	"github.com/ccplane/telephony/sipengine"
)

// TestRateLimitPerToken exhausts one token's bucket and checks that its unary and streaming
// calls get ResourceExhausted while another token, a token with an override and health
// checks go on.
func TestRateLimitPerToken(t *testing.T) {
	// 0.001 rps: no token comes back while the test runs.
	st := startStack(t, stackConfig{
		gateways: []sipengine.Gateway{{Name: "gw", Address: "127.0.0.1:9"}},
		auth:     testAuth,
		rateLimit: server.RateLimitConfig{
			Default: server.RateLimit{RPS: 0.001, Burst: 2},
			Tokens:  map[string]server.RateLimit{"ops": {RPS: 0.001, Burst: 5}},
		},
	})
	ctx := context.Background()
	list := func(token string) error {
		c := telephonyv1.NewCallServiceClient(tokenConn{cc: st.conn, token: token})
		_, err := c.ListCalls(ctx, &telephonyv1.ListCallsRequest{})
		return err
	}
	for i := range 2 {
		if err := list(dialerToken); err != nil {
			t.Fatalf("crm request %d within the burst: %v", i+1, err)
		}
	}
	err := list(dialerToken)
	if s := status.Convert(err); s.Code() != codes.ResourceExhausted || !strings.Contains(s.Message(), "rate limit of token crm") {
		t.Errorf("crm over its limit: got %v, want ResourceExhausted naming token crm", err)
	}
	_, err = watch(t, telephonyv1.NewCallServiceClient(tokenConn{cc: st.conn, token: dialerToken}), "c1", 0, nil)
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("crm WatchCall over its limit: got %v, want ResourceExhausted", err)
	}

	if err := list(agent7Token); err != nil {
		t.Errorf("desk-7 while crm is limited: %v", err)
	}
	for i := range 5 {
		if err := list(adminToken); err != nil {
			t.Errorf("ops request %d within its own burst of 5: %v", i+1, err)
		}
	}
	health := healthpb.NewHealthClient(st.conn)
	for range 5 {
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := health.Check(hctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err != nil {
			t.Fatalf("health check: %v, want it never limited", err)
		}
	}
}
