package clienttest

import (
	"context"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// GatewayService is a GatewayService whose behaviour each test sets through function fields;
// a nil field answers Unimplemented. Serve registers it from Service.Gateways.
type GatewayService struct {
	telephonyv1.UnimplementedGatewayServiceServer
	ListGatewaysFn func(context.Context, *telephonyv1.ListGatewaysRequest) (*telephonyv1.ListGatewaysResponse, error)
}

// ListGateways implements telephonyv1.GatewayServiceServer.
func (s *GatewayService) ListGateways(ctx context.Context, r *telephonyv1.ListGatewaysRequest) (*telephonyv1.ListGatewaysResponse, error) {
	return call(s.ListGatewaysFn, ctx, r)
}

var _ telephonyv1.GatewayServiceServer = (*GatewayService)(nil)
