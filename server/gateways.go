package server

import (
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// GatewayService implements telephony.v1.GatewayService.
type GatewayService struct {
	telephonyv1.UnimplementedGatewayServiceServer
}
