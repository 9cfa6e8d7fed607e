package main

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/ccplane/telephony/client/clienttest"
	"github.com/ccplane/telephony/internal/testenv"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// serveMTLS runs svc on a gRPC server that requires a client certificate issued by ca, stopped
// in t.Cleanup, and returns its address.
func serveMTLS(t *testing.T, ca *testenv.CA, svc *clienttest.Service) string {
	t.Helper()
	return clienttest.Serve(t, svc, grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{ca.Issue(t, "telephonyd").TLS},
		ClientCAs:    ca.Pool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	})))
}

func TestClientCertificate(t *testing.T) {
	ca := testenv.NewCA(t, "telephony test CA")
	addr := serveMTLS(t, ca, &clienttest.Service{
		GetCallFn: func(context.Context, *telephonyv1.GetCallRequest) (*telephonyv1.GetCallResponse, error) {
			return &telephonyv1.GetCallResponse{Call: endedCall()}, nil
		},
	})
	dir := t.TempDir()
	crm := ca.Issue(t, "crm")
	caFile := writeFile(t, dir, "ca.pem", string(ca.PEM))
	certFile := writeFile(t, dir, "crm.pem", string(crm.CertPEM))
	keyFile := writeFile(t, dir, "crm.key", string(crm.KeyPEM))
	id := endedCall().GetCallId()

	r := runCLI(t, addr, nil, nil, "--ca", caFile, "--cert", certFile, "--key", keyFile, "get", id)
	if r.code != 0 || !strings.Contains(r.stdout, id) {
		t.Errorf("with a client certificate: got exit %d stdout %q stderr %q, want 0 and the call", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, addr, nil, nil, "--timeout", "2s", "--ca", caFile, "get", id)
	if r.code != 1 || !strings.Contains(r.stderr, "Unavailable") {
		t.Errorf("without a client certificate: got exit %d stderr %q, want 1 and Unavailable", r.code, r.stderr)
	}
	r = runCLI(t, addr, nil, nil, "--cert", certFile, "get", id)
	if r.code != 2 || !strings.Contains(r.stderr, "--cert and --key go together") {
		t.Errorf("--cert alone: got exit %d stderr %q, want a usage error", r.code, r.stderr)
	}
}
