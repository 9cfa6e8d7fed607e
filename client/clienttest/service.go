// Package clienttest provides a fake CallService, DirectionService and ReportService on a
// real gRPC server, for the tests of code that calls them (the client package, callctl). It
// is not a test of the services.
package clienttest

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// StreamServer is the server side of a WatchCall stream.
type StreamServer = grpc.ServerStreamingServer[telephonyv1.CallEvent]

// Service is a CallService whose behaviour each test sets through function fields; a nil
// field answers Unimplemented.
type Service struct {
	telephonyv1.UnimplementedCallServiceServer
	PlaceCallFn func(context.Context, *telephonyv1.PlaceCallRequest) (*telephonyv1.PlaceCallResponse, error)
	WatchCallFn func(*telephonyv1.WatchCallRequest, StreamServer) error
	HangUpFn    func(context.Context, *telephonyv1.HangUpRequest) (*telephonyv1.HangUpResponse, error)
	GetCallFn   func(context.Context, *telephonyv1.GetCallRequest) (*telephonyv1.GetCallResponse, error)
	ListCallsFn func(context.Context, *telephonyv1.ListCallsRequest) (*telephonyv1.ListCallsResponse, error)

	// Directions is the DirectionService served beside it; nil answers Unimplemented to
	// every DirectionService call. Serve reads it once, so set it before.
	Directions *DirectionService
	// Reports is the ReportService served beside it; nil answers Unimplemented to every
	// ReportService call. Serve reads it once, so set it before.
	Reports *ReportService
	// Gateways is the GatewayService served beside it; nil answers Unimplemented to every
	// GatewayService call. Serve reads it once, so set it before.
	Gateways *GatewayService
}

var _ telephonyv1.CallServiceServer = (*Service)(nil)

var errUnset = status.Error(codes.Unimplemented, "clienttest: not set")

// call runs fn, or answers Unimplemented when the test did not set it.
func call[Req, Res any](fn func(context.Context, Req) (Res, error), ctx context.Context, req Req) (Res, error) {
	if fn == nil {
		var zero Res
		return zero, errUnset
	}
	return fn(ctx, req)
}

// PlaceCall implements telephonyv1.CallServiceServer.
func (s *Service) PlaceCall(ctx context.Context, r *telephonyv1.PlaceCallRequest) (*telephonyv1.PlaceCallResponse, error) {
	return call(s.PlaceCallFn, ctx, r)
}

// HangUp implements telephonyv1.CallServiceServer.
func (s *Service) HangUp(ctx context.Context, r *telephonyv1.HangUpRequest) (*telephonyv1.HangUpResponse, error) {
	return call(s.HangUpFn, ctx, r)
}

// GetCall implements telephonyv1.CallServiceServer.
func (s *Service) GetCall(ctx context.Context, r *telephonyv1.GetCallRequest) (*telephonyv1.GetCallResponse, error) {
	return call(s.GetCallFn, ctx, r)
}

// ListCalls implements telephonyv1.CallServiceServer.
func (s *Service) ListCalls(ctx context.Context, r *telephonyv1.ListCallsRequest) (*telephonyv1.ListCallsResponse, error) {
	return call(s.ListCallsFn, ctx, r)
}

// WatchCall implements telephonyv1.CallServiceServer.
func (s *Service) WatchCall(r *telephonyv1.WatchCallRequest, st StreamServer) error {
	if s.WatchCallFn == nil {
		return errUnset
	}
	return s.WatchCallFn(r, st)
}

// Serve runs svc, and svc.Directions, svc.Reports and svc.Gateways beside it, on a real grpc.Server on a
// free loopback port, stopped in t.Cleanup, and returns its address. opts configure the
// server, e.g. grpc.Creds for TLS.
func Serve(t testing.TB, svc *Service, opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := grpc.NewServer(opts...)
	telephonyv1.RegisterCallServiceServer(srv, svc)
	dirs := svc.Directions
	if dirs == nil {
		dirs = &DirectionService{}
	}
	telephonyv1.RegisterDirectionServiceServer(srv, dirs)
	reports := svc.Reports
	if reports == nil {
		reports = &ReportService{}
	}
	telephonyv1.RegisterReportServiceServer(srv, reports)
	gateways := svc.Gateways
	if gateways == nil {
		gateways = &GatewayService{}
	}
	telephonyv1.RegisterGatewayServiceServer(srv, gateways)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return lis.Addr().String()
}
