package sipengine_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ccplane/telephony/internal/testenv"
	"github.com/ccplane/telephony/sipengine"
)

// selfSigned makes a certificate for 127.0.0.1 and the TLS configurations of a server that
// presents it and of a client that trusts only it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "provider.test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
}

// TestCallOverTLS places a call to a provider reached over TLS: the INVITE, ACK and our BYE
// go out on a verified TLS connection and the provider's BYE comes back on it. A provider
// whose certificate is not trusted ends the call as a transport error before anything is
// sent in clear.
func TestCallOverTLS(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	cfg := fastScripts
	cfg.TLS = serverTLS
	sim := testenv.StartSimulator(t, cfg)

	tests := []struct {
		name  string
		trust *tls.Config
		to    string
		want  string
	}{
		{name: "remote bye", trust: clientTLS, to: "15550100200",
			want: "< 200 INVITE, > ACK, state answered, < BYE, state ended, ended finish remote_hangup 200"},
		{name: "untrusted provider", trust: &tls.Config{RootCAs: x509.NewCertPool()}, to: "15550100200",
			want: "state ended, ended kill transport_error 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testEngine
			cfg.TLS = tc.trust
			e, _ := startEngine(t, cfg)

			rec := newRecorder()
			c := dial(t, e, sipengine.Gateway{Name: "tls", Address: sim.TLSAddr(), Transport: sipengine.TLS}, tc.to, rec)
			select {
			case <-c.Done():
			case <-time.After(10 * time.Second):
				t.Fatalf("call did not end; history %s", rec.history())
			}
			if h := rec.history(); !strings.HasSuffix(h, tc.want) {
				t.Errorf("history %q, want it to end with %q", h, tc.want)
			}
		})
	}
}
