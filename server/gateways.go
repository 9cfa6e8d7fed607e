package server

import (
	"context"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/sipengine"
)

// gatewayStates reports each gateway's keep-alive state and load; *sipengine.Trunks
// implements it.
type gatewayStates interface {
	Status() []sipengine.GatewayStatus
}

// GatewayService implements telephony.v1.GatewayService.
type GatewayService struct {
	telephonyv1.UnimplementedGatewayServiceServer

	gateways gatewayStates
}

// NewGatewayService returns the gateway service over the trunks calls are dialled through.
func NewGatewayService(g gatewayStates) *GatewayService {
	return &GatewayService{gateways: g}
}

// ListGateways implements telephony.v1.GatewayService.
func (s *GatewayService) ListGateways(context.Context, *telephonyv1.ListGatewaysRequest) (*telephonyv1.ListGatewaysResponse, error) {
	st := s.gateways.Status()
	resp := &telephonyv1.ListGatewaysResponse{Gateways: make([]*telephonyv1.Gateway, 0, len(st))}
	for _, g := range st {
		resp.Gateways = append(resp.Gateways, gatewayToProto(g))
	}
	return resp, nil
}

func gatewayToProto(g sipengine.GatewayStatus) *telephonyv1.Gateway {
	transport := g.Gateway.Transport
	if transport == "" {
		transport = sipengine.UDP
	}
	pb := &telephonyv1.Gateway{
		Name:               g.Gateway.Name,
		Address:            g.Gateway.Address,
		Transport:          string(transport),
		State:              gatewayStateToProto(g.State),
		ActiveCalls:        uint32(g.Active),
		QueuedCalls:        uint32(g.Queued),
		MaxConcurrentCalls: uint32(g.Gateway.MaxConcurrentCalls),
		MaxCps:             g.Gateway.MaxCPS,
		QueueTimeout:       durationpb.New(g.Gateway.QueueTimeout),
	}
	if !g.Since.IsZero() {
		pb.StateSince = timestamppb.New(g.Since)
	}
	if !g.LastProbeAt.IsZero() {
		pb.LastProbeTime = timestamppb.New(g.LastProbeAt)
		pb.LastProbeStatus = statusToProto(g.LastProbe)
	}
	return pb
}

func gatewayStateToProto(s sipengine.GatewayState) telephonyv1.GatewayState {
	switch s {
	case sipengine.GatewayUp:
		return telephonyv1.GatewayState_GATEWAY_STATE_UP
	case sipengine.GatewayDown:
		return telephonyv1.GatewayState_GATEWAY_STATE_DOWN
	case sipengine.GatewayUnmonitored:
		return telephonyv1.GatewayState_GATEWAY_STATE_UNMONITORED
	}
	return telephonyv1.GatewayState_GATEWAY_STATE_UNSPECIFIED
}
