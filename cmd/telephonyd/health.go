package main

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/sipengine"
)

// healthInterval is how often Redis is pinged and the gateways' states are read for gRPC
// health.
const healthInterval = time.Second

// healthSetter is the gRPC health server's write side.
type healthSetter interface {
	SetServingStatus(service string, status healthpb.HealthCheckResponse_ServingStatus)
}

// healthWatch keeps gRPC health in step with what the service depends on:
//   - "redis": Redis answers PING (only with redis.url);
//   - "gateway/<name>": the gateway is not down;
//   - telephony.v1.CallService: at least one gateway is not down;
//   - telephony.v1.DirectionService and ReportService: Redis answers (they read it directly);
//   - "": the process serves (until shutdown).
type healthWatch struct {
	hs     healthSetter
	redis  redis.UniversalClient // nil without Redis
	trunks *sipengine.Trunks
}

// run updates the statuses every healthInterval until ctx ends.
func (h healthWatch) run(ctx context.Context) {
	tick := time.NewTicker(healthInterval)
	defer tick.Stop()
	for {
		h.update(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (h healthWatch) update(ctx context.Context) {
	usable := false
	for _, g := range h.trunks.Status() {
		up := g.State != sipengine.GatewayDown
		usable = usable || up
		h.hs.SetServingStatus("gateway/"+g.Gateway.Name, serving(up))
	}
	h.hs.SetServingStatus(telephonyv1.CallService_ServiceDesc.ServiceName, serving(usable))
	if h.redis == nil {
		return
	}
	pingCtx, cancel := context.WithTimeout(ctx, healthInterval)
	defer cancel()
	ok := h.redis.Ping(pingCtx).Err() == nil
	for _, name := range []string{"redis", telephonyv1.DirectionService_ServiceDesc.ServiceName, telephonyv1.ReportService_ServiceDesc.ServiceName} {
		h.hs.SetServingStatus(name, serving(ok))
	}
}

func serving(ok bool) healthpb.HealthCheckResponse_ServingStatus {
	if ok {
		return healthpb.HealthCheckResponse_SERVING
	}
	return healthpb.HealthCheckResponse_NOT_SERVING
}
