package client

import (
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ccplane/telephony/client/clienttest"
)

// serve runs fake on a real gRPC server and returns a plaintext connection to it, closed in
// t.Cleanup.
func serve(t *testing.T, fake *clienttest.Service) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(clienttest.Serve(t, fake), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}
