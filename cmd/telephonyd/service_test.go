package main

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/ccplane/telephony/internal/testenv"
)

// testService is a telephonyd a test started through run, as main starts it.
type testService struct {
	stderr testenv.Buffer
	cancel context.CancelFunc
	errc   chan error
}

// startService runs telephonyd with the YAML configuration yaml and returns once it answers
// health checks on grpcAddr (which yaml must name as grpc.listen).
func startService(t *testing.T, yaml, grpcAddr string) *testService {
	t.Helper()
	return startServiceCreds(t, yaml, grpcAddr, insecure.NewCredentials())
}

// startServiceCreds is startService for a gRPC port that wants creds (TLS, a client
// certificate) to answer the health check.
func startServiceCreds(t *testing.T, yaml, grpcAddr string, creds credentials.TransportCredentials) *testService {
	t.Helper()
	path := writeConfig(t, yaml)
	s := &testService{errc: make(chan error, 1)}
	var ctx context.Context
	ctx, s.cancel = context.WithCancel(context.Background())
	go func() { s.errc <- run(ctx, []string{"--config", path}, &testenv.Buffer{}, &s.stderr) }()
	t.Cleanup(s.cancel)
	waitServing(t, grpcAddr, creds, &s.stderr)
	return s
}

// stop does what SIGTERM does and waits for run to return, failing the test on an error.
func (s *testService) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	if err := <-s.errc; err != nil {
		t.Fatalf("run: %v\n%s", err, s.stderr.String())
	}
}

// waitServing blocks until telephonyd at addr answers its health check (gRPC waits for the
// listener to appear), or fails the test after 10 s.
func waitServing(t *testing.T, addr string, creds credentials.TransportCredentials, stderr *testenv.Buffer) {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
	if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("telephonyd not serving at %s: %v %v\n%s", addr, res.GetStatus(), err, stderr.String())
	}
}
