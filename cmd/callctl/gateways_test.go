package main

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ccplane/telephony/client/clienttest"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

func TestGateways(t *testing.T) {
	addr := serve(t, &clienttest.Service{Gateways: &clienttest.GatewayService{
		ListGatewaysFn: func(context.Context, *telephonyv1.ListGatewaysRequest) (*telephonyv1.ListGatewaysResponse, error) {
			return &telephonyv1.ListGatewaysResponse{Gateways: []*telephonyv1.Gateway{
				{Name: "carrier-a", Address: "192.0.2.10:5060", Transport: "udp", State: telephonyv1.GatewayState_GATEWAY_STATE_UP,
					LastProbeStatus: &telephonyv1.SipStatus{Code: 200, Reason: "OK"}, LastProbeTime: timestamppb.New(t0.Add(50 * time.Second)),
					ActiveCalls: 12, MaxConcurrentCalls: 30, MaxCps: 2.5, QueueTimeout: durationpb.New(time.Second), QueuedCalls: 1},
				{Name: "carrier-b", Address: "192.0.2.11:5061", Transport: "tls", State: telephonyv1.GatewayState_GATEWAY_STATE_DOWN,
					StateSince: timestamppb.New(t0.Add(-time.Minute)), LastProbeStatus: &telephonyv1.SipStatus{},
					LastProbeTime: timestamppb.New(t0.Add(58 * time.Second))},
				{Name: "lab", Address: "127.0.0.1:5070", Transport: "tcp", State: telephonyv1.GatewayState_GATEWAY_STATE_UNMONITORED},
			}}, nil
		},
	}})
	r := runCLI(t, addr, nil, nil, "gateways")
	want := "" +
		"GATEWAY    ADDRESS                STATE          LAST OPTIONS       ACTIVE  QUEUED  MAX CPS\n" +
		"carrier-a  udp://192.0.2.10:5060  up             200, 10s ago       12/30   1       2.5\n" +
		"carrier-b  tls://192.0.2.11:5061  down for 2m0s  no answer, 2s ago  0       0       -\n" +
		"lab        tcp://127.0.0.1:5070   unmonitored    -                  0       0       -\n"
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("gateways: exit %d, stderr %q", r.code, r.stderr)
	}
	if diff := cmp.Diff(want, r.stdout); diff != "" {
		t.Errorf("gateways output (-want +got):\n%s", diff)
	}
	if r := runCLI(t, addr, nil, nil, "gateways", "extra"); r.code != exitUsage {
		t.Errorf("gateways extra: exit %d, want %d", r.code, exitUsage)
	}
}
