package sipengine_test

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/ccplane/telephony/internal/testenv"
	"github.com/ccplane/telephony/sipengine"
)

// TestCallOverTLS places a call to a provider reached over TLS: the INVITE, ACK and our BYE
// go out on a verified TLS connection and the provider's BYE comes back on it. A provider
// whose certificate is not trusted ends the call as a transport error before anything is
// sent in clear.
func TestCallOverTLS(t *testing.T) {
	ca := testenv.NewCA(t, "provider CA")
	cfg := fastScripts
	cfg.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "provider.test").TLS}}
	clientTLS := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
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
