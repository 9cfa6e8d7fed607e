package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/ccplane/telephony/client"
	"github.com/ccplane/telephony/internal/testenv"
)

// tlsFiles writes a CA's certificate and a server certificate it issued into dir.
func tlsFiles(t *testing.T, dir string, ca *testenv.CA) (caFile, certFile, keyFile string) {
	t.Helper()
	srv := ca.Issue(t, "telephonyd")
	for name, data := range map[string][]byte{"ca.pem": ca.PEM, "server.pem": srv.CertPEM, "server.key": srv.KeyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
}

// tlsClient is a client's connection option and whether its RPC must be answered.
type tlsClient struct {
	name string
	opt  client.Option
	ok   bool
}

// TestGRPCTLS runs telephonyd with grpc.tls, first with a server certificate only, then
// requiring client certificates, and checks who gets through.
func TestGRPCTLS(t *testing.T) {
	ca := testenv.NewCA(t, "telephony test CA")
	caFile, certFile, keyFile := tlsFiles(t, t.TempDir(), ca)
	crm := ca.Issue(t, "crm")
	stranger := testenv.NewCA(t, "another CA").Issue(t, "stranger")
	trust := func(certs ...tls.Certificate) *tls.Config {
		return &tls.Config{RootCAs: ca.Pool(), Certificates: certs, MinVersion: tls.VersionTLS12}
	}

	tests := []struct {
		name         string
		clientCAFile string
		clients      []tlsClient
	}{
		{name: "server certificate only", clients: []tlsClient{
			{name: "tls", opt: client.WithTLS(trust()), ok: true},
			{name: "plaintext", opt: client.WithInsecure(), ok: false},
		}},
		{name: "client certificates required", clientCAFile: caFile, clients: []tlsClient{
			{name: "certificate from the client CA", opt: client.WithTLS(trust(crm.TLS)), ok: true},
			{name: "no certificate", opt: client.WithTLS(trust()), ok: false},
			{name: "certificate from another CA", opt: client.WithTLS(trust(stranger.TLS)), ok: false},
			{name: "plaintext", opt: client.WithInsecure(), ok: false},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			grpcAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
			svc := startServiceCreds(t, fmt.Sprintf(`
grpc:
  listen: %q
  tls: {cert_file: %q, key_file: %q, client_ca_file: %q}
sip: {listen: "127.0.0.1:0"}
log: {level: warn}
gateways:
  - {name: carrier-a, address: "127.0.0.1:9", allow: ["7"]}
`, grpcAddr, certFile, keyFile, tc.clientCAFile), grpcAddr, credentials.NewTLS(trust(crm.TLS)))
			for _, cl := range tc.clients {
				c, err := client.Dial(grpcAddr, cl.opt, client.WithRetry(1, 0))
				if err != nil {
					t.Fatal(err)
				}
				_, err = c.ListDirections(context.Background(), "carrier-a")
				c.Close()
				switch {
				case cl.ok && err != nil:
					t.Errorf("%s: %v, want the RPC answered", cl.name, err)
				case !cl.ok && status.Code(err) != codes.Unavailable:
					t.Errorf("%s: %v, want Unavailable (connection refused by TLS)", cl.name, err)
				}
			}
			svc.stop(t)
		})
	}
}

func TestLoadConfigTLS(t *testing.T) {
	dir := t.TempDir()
	tlsFiles(t, dir, testenv.NewCA(t, "telephony test CA"))
	other := testenv.NewCA(t, "another CA").Issue(t, "other")
	if err := os.WriteFile(filepath.Join(dir, "other.key"), other.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(tlsYAML string) (fileConfig, error) {
		t.Helper()
		path := filepath.Join(dir, "telephonyd.yaml")
		yaml := "grpc:\n  tls: " + tlsYAML + "\ngateways:\n  - {name: a, address: 192.0.2.10:5060}\n"
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return loadConfig(path)
	}

	c, err := load("{cert_file: server.pem, key_file: server.key, client_ca_file: ca.pem}")
	if err != nil {
		t.Fatalf("files next to the configuration: %v", err)
	}
	if want := filepath.Join(dir, "server.pem"); c.GRPC.TLS.CertFile != want {
		t.Errorf("cert_file %q, want %q: relative to the configuration file", c.GRPC.TLS.CertFile, want)
	}
	if cfg, err := c.GRPC.TLS.config(); err != nil || cfg.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Errorf("client_ca_file set: client auth %v (%v), want client certificates required", cfg.ClientAuth, err)
	}

	for _, tc := range []struct {
		name string
		tls  string
		want []string
	}{
		{name: "every file broken", tls: "{cert_file: missing.pem, key_file: ca.pem, client_ca_file: server.key}",
			want: []string{"grpc.tls.cert_file: open " + filepath.Join(dir, "missing.pem"), "grpc.tls.client_ca_file: no PEM certificate"}},
		{name: "key of another certificate", tls: "{cert_file: server.pem, key_file: other.key}",
			want: []string{"grpc.tls: cert_file " + filepath.Join(dir, "server.pem") + " with key_file " + filepath.Join(dir, "other.key")}},
		{name: "key without certificate", tls: "{key_file: server.key}", want: []string{"cert_file and key_file must both be set"}},
		{name: "client CA without TLS", tls: "{client_ca_file: ca.pem}", want: []string{"cert_file and key_file must both be set"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(tc.tls)
			if err == nil {
				t.Fatal("got nil, want an error")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}
