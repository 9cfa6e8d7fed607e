package client

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// fakeService is a CallService whose behaviour each test sets through function fields; a nil
// field answers Unimplemented.
type fakeService struct {
	telephonyv1.UnimplementedCallServiceServer
	placeCall func(context.Context, *telephonyv1.PlaceCallRequest) (*telephonyv1.PlaceCallResponse, error)
	watchCall func(*telephonyv1.WatchCallRequest, grpc.ServerStreamingServer[telephonyv1.CallEvent]) error
	hangUp    func(context.Context, *telephonyv1.HangUpRequest) (*telephonyv1.HangUpResponse, error)
	getCall   func(context.Context, *telephonyv1.GetCallRequest) (*telephonyv1.GetCallResponse, error)
	listCalls func(context.Context, *telephonyv1.ListCallsRequest) (*telephonyv1.ListCallsResponse, error)
}

var errUnset = status.Error(codes.Unimplemented, "fake: not set")

func (f *fakeService) PlaceCall(ctx context.Context, req *telephonyv1.PlaceCallRequest) (*telephonyv1.PlaceCallResponse, error) {
	if f.placeCall == nil {
		return nil, errUnset
	}
	return f.placeCall(ctx, req)
}

func (f *fakeService) WatchCall(req *telephonyv1.WatchCallRequest, s grpc.ServerStreamingServer[telephonyv1.CallEvent]) error {
	if f.watchCall == nil {
		return errUnset
	}
	return f.watchCall(req, s)
}

func (f *fakeService) HangUp(ctx context.Context, req *telephonyv1.HangUpRequest) (*telephonyv1.HangUpResponse, error) {
	if f.hangUp == nil {
		return nil, errUnset
	}
	return f.hangUp(ctx, req)
}

func (f *fakeService) GetCall(ctx context.Context, req *telephonyv1.GetCallRequest) (*telephonyv1.GetCallResponse, error) {
	if f.getCall == nil {
		return nil, errUnset
	}
	return f.getCall(ctx, req)
}

func (f *fakeService) ListCalls(ctx context.Context, req *telephonyv1.ListCallsRequest) (*telephonyv1.ListCallsResponse, error) {
	if f.listCalls == nil {
		return nil, errUnset
	}
	return f.listCalls(ctx, req)
}

// serve runs fake on a real grpc.Server over bufconn and returns a plaintext connection to
// it; both are stopped in t.Cleanup.
func serve(t *testing.T, fake *fakeService) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	telephonyv1.RegisterCallServiceServer(srv, fake)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	cc, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() {
		_ = cc.Close()
		srv.Stop()
		<-done
	})
	return cc
}
