package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ccplane/telephony/server"
)

func TestLoadConfigRateLimit(t *testing.T) {
	c, err := loadConfig(writeConfig(t, `
grpc:
  rate_limit: {rps: 5, burst: 10}
gateways:
  - {name: a, address: 192.0.2.10:5060}
auth:
  tokens:
    - {name: crm, token: crm-secret, role: dialer}
    - {name: batch, token: batch-secret, role: dialer, rate_limit: {rps: 50}}
    - {name: ops, token: ops-secret, role: admin, rate_limit: {rps: 0}}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := server.RateLimitConfig{
		Default: server.RateLimit{RPS: 5, Burst: 10},
		Tokens:  map[string]server.RateLimit{"batch": {RPS: 50}, "ops": {}},
	}
	if diff := cmp.Diff(want, c.rateLimitConfig()); diff != "" {
		t.Errorf("rate limits (-want +got):\n%s", diff)
	}

	_, err = loadConfig(writeConfig(t, `
grpc:
  rate_limit: {rps: -1}
gateways:
  - {name: a, address: 192.0.2.10:5060}
auth:
  tokens:
    - {name: crm, token: crm-secret, role: dialer, rate_limit: {rps: 5, burst: -1}}
`))
	for _, want := range []string{"grpc.rate_limit: rps -1", "auth.tokens[0] (crm).rate_limit: rps 5, burst -1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
}
