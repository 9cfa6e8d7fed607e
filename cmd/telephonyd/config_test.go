package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "telephonyd.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfig(t *testing.T) {
	c, err := loadConfig(writeConfig(t, `
sip:
  listen: 10.0.0.5:5060
  setup_timeout: 3s
calls:
  ring_timeout: 45s
gateways:
  - name: carrier-a
    address: 192.0.2.10:5060
    transport: tcp
    username: trunk1
    password: s3cret
    max_concurrent_calls: 30
    max_cps: 2.5
    queue_timeout: 1s
  - {name: carrier-b, address: 192.0.2.11:5060, keepalive: 0s}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.GRPC.Listen != "127.0.0.1:50051" || c.SIP.Listen != "10.0.0.5:5060" {
		t.Errorf("listen addresses %q %q, want the default gRPC one and the configured SIP one", c.GRPC.Listen, c.SIP.Listen)
	}
	if time.Duration(c.SIP.SetupTimeout) != 3*time.Second || time.Duration(c.Calls.RingTimeout) != 45*time.Second {
		t.Errorf("durations %v %v, want 3s and 45s", c.SIP.SetupTimeout, c.Calls.RingTimeout)
	}
	if g := c.Gateways[0].gateway(); g.Password != "s3cret" || g.Transport != "tcp" || g.MaxConcurrentCalls != 30 ||
		g.MaxCPS != 2.5 || g.QueueTimeout != time.Second || g.KeepAlive != defaultKeepAlive {
		t.Errorf("gateway %+v, want its password, transport, limits and the default keep-alive", g)
	}
	if g := c.Gateways[1].gateway(); g.KeepAlive != 0 {
		t.Errorf("gateway with keepalive 0s: %v, want the keep-alive off", g.KeepAlive)
	}
}

// TestLoadConfigReportsEveryProblem checks that one start shows all mistakes, with where.
func TestLoadConfigReportsEveryProblem(t *testing.T) {
	_, err := loadConfig(writeConfig(t, `
calls:
  report_labels: ["camp aign"]
log:
  level: loud
redis:
  publish_interval: -1ms
gateways:
  - name: a
    address: nowhere
    transport: sctp
    max_cps: -1
`))
	if err == nil {
		t.Fatal("loadConfig accepted a broken file")
	}
	for _, want := range []string{"log.level", `address "nowhere"`, `transport "sctp"`, "calls.report_labels", "max_cps", "redis.publish_interval"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	_, err = loadConfig(writeConfig(t, "gateways: []\nsip:\n  listn: x\n"))
	if err == nil || !strings.Contains(err.Error(), "listn") {
		t.Errorf("unknown key: error %v, want it named", err)
	}
	_, err = loadConfig(writeConfig(t, "calls:\n  ring_timeout: soon\n"))
	if err == nil || !strings.Contains(err.Error(), "soon") {
		t.Errorf("bad duration: error %v, want it named", err)
	}
}

func TestPasswordsNeverLogged(t *testing.T) {
	var buf bytes.Buffer
	g := gatewayConfig{Name: "a", Password: "s3cret"}
	slog.New(slog.NewTextHandler(&buf, nil)).Info("gateway", "password", g.Password, "gateway", g)
	if strings.Contains(buf.String(), "s3cret") {
		t.Errorf("log line %q shows the password", buf.String())
	}
}

func TestLoadConfigAuth(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokens.yaml"), []byte("- {name: ops, token: adm1n-secret, role: admin}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "telephonyd.yaml")
	if err := os.WriteFile(path, []byte(`
gateways:
  - {name: a, address: 192.0.2.10:5060, transport: udp}
auth:
  tokens_file: tokens.yaml
  tokens:
    - {name: crm, token: crm-secret, role: dialer}
    - {name: desk-7, token: desk7-secret, role: agent, labels: {agent_id: "7"}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	got := c.authConfig().Tokens
	if len(got) != 3 || got[1].Labels["agent_id"] != "7" || got[2].Name != "ops" || got[2].Secret != "adm1n-secret" {
		t.Errorf("tokens %+v, want crm, desk-7 and ops from the file", got)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("configuration", "auth", c.Auth, "tokens", fmt.Sprint(got))
	if strings.Contains(buf.String(), "secret") {
		t.Errorf("log line %q shows a token", buf.String())
	}

	_, err = loadConfig(writeConfig(t, `
gateways:
  - {name: a, address: 192.0.2.10:5060, transport: udp}
auth:
  tokens_file: /nonexistent/tokens.yaml
  tokens:
    - {name: x, token: t1, role: superuser}
    - {name: desk, token: t2, role: agent}
`))
	if err == nil {
		t.Fatal("loadConfig accepted broken tokens")
	}
	for _, want := range []string{"auth.tokens_file", `auth.tokens[0] (x): role "superuser"`, "auth.tokens[1] (desk): an agent token needs labels"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}
