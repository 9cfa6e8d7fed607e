package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ccplane/telephony/internal/wait"
)

// gatewayName is the provider's name in telephonyd's configuration.
const gatewayName = "uas"

// sweepGateway is a second provider of the live phase, which answers and hangs up at once:
// one call through it after the live calls ended shows what only a new call frees.
const sweepGateway = "sweep"

// gateway is one gateway of telephonyd's configuration.
type gateway struct{ name, addr string }

// eventRetention is calls.event_retention: short, so an ended call's events are dropped
// soon and the growth check can see the heap come back.
const eventRetention = 10 * time.Second

// service is a running telephonyd.
type service struct {
	proc       *child
	grpcAddr   string
	metricsURL string // http://127.0.0.1:PORT
	http       *http.Client
}

// buildBinaries builds telephonyd and callctl from the module at root into dir.
func buildBinaries(ctx context.Context, root, dir string) (telephonyd, callctl string, err error) {
	for _, name := range []string{"telephonyd", "callctl"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, name), "./cmd/"+name)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go build ./cmd/%s: %w\n%s", name, err, out)
		}
	}
	return filepath.Join(dir, "telephonyd"), filepath.Join(dir, "callctl"), nil
}

// serviceConfig is telephonyd's configuration for the bench: the providers as gateways with
// no limits and no OPTIONS keep-alive (SIPp scenarios cannot answer OPTIONS); records in
// Redis, since the in-memory store keeps every record and would look like growth.
func serviceConfig(grpcPort, sipPort, metricsPort int, gateways []gateway, redisURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `grpc:
  listen: 127.0.0.1:%d
sip:
  listen: 127.0.0.1:%d
calls:
  event_retention: %s
redis:
  url: %s
metrics:
  listen: 127.0.0.1:%d
  pprof: true
shutdown:
  grace: 10s
log:
  level: warn
gateways:
`, grpcPort, sipPort, eventRetention, redisURL, metricsPort)
	for _, g := range gateways {
		fmt.Fprintf(&b, `  - name: %s
    address: %s
    transport: udp
    allow: [""]
    keepalive: 0s
`, g.name, g.addr)
	}
	return b.String()
}

// startService starts telephonyd calling gateways and returns once its gRPC, SIP and
// metrics ports are up.
func startService(ctx context.Context, cs *children, bin, name string, gateways []gateway, redisURL string) (*service, error) {
	for attempt := 1; ; attempt++ {
		var ports [3]int
		for i := range ports {
			p, err := freePort()
			if err != nil {
				return nil, err
			}
			ports[i] = p
		}
		config := filepath.Join(cs.dir, name+".yaml")
		if err := os.WriteFile(config, []byte(serviceConfig(ports[0], ports[1], ports[2], gateways, redisURL)), 0o600); err != nil {
			return nil, err
		}
		proc, err := cs.start(name, "", bin, "--config", config)
		if err != nil {
			return nil, err
		}
		s := &service{
			proc:       proc,
			grpcAddr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
			metricsURL: "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[2])),
			http:       &http.Client{Timeout: 30 * time.Second},
		}
		err = proc.waitReady(ctx, 20*time.Second, func() bool {
			if !udpBound(ports[1]) {
				return false
			}
			c, err := net.DialTimeout("tcp", s.grpcAddr, time.Second)
			if err != nil {
				return false
			}
			c.Close()
			_, err = s.metrics(ctx)
			return err == nil
		})
		if err == nil {
			return s, nil
		}
		proc.stop(time.Second)
		// A port taken between freePort and telephonyd binding it: try others.
		if proc.exited() && strings.Contains(proc.errTail(20), "address already in use") && attempt < 3 {
			continue
		}
		return nil, fmt.Errorf("telephonyd: %w\n%s", err, proc.errTail(20))
	}
}

// stop shuts telephonyd down as an operator would (SIGTERM), killing it if it takes longer
// than its grace and a margin.
func (s *service) stop() { s.proc.stop(20 * time.Second) }

// get fetches path from the metrics listener.
func (s *service) get(ctx context.Context, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.metricsURL+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return string(body), nil
}

// metrics scrapes /metrics: series (name with its labels, as printed) to value.
func (s *service) metrics(ctx context.Context) (map[string]float64, error) {
	body, err := s.get(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	return parseMetrics(body), nil
}

// heap forces a garbage collection and returns runtime.MemStats as the heap profile
// prints them (/debug/pprof/heap?gc=1&debug=1: "# HeapAlloc = N" lines). With save set, it
// keeps the profile there: go tool pprof reads it.
func (s *service) heap(ctx context.Context, save string) (map[string]int64, error) {
	body, err := s.get(ctx, "/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		return nil, err
	}
	if save != "" {
		if err := os.WriteFile(save, []byte(body), 0o644); err != nil {
			return nil, err
		}
	}
	m := parseMemStats(body)
	if _, ok := m["HeapAlloc"]; !ok {
		return nil, fmt.Errorf("heap profile without HeapAlloc")
	}
	return m, nil
}

// active is telephony_calls_active for the provider's gateway (0 before any call).
func (s *service) active(ctx context.Context) (int, error) {
	m, err := s.metrics(ctx)
	if err != nil {
		return 0, err
	}
	return int(m[activeSeries]), nil
}

const activeSeries = `telephony_calls_active{gateway="` + gatewayName + `"}`

// idle waits until telephonyd has no live call.
func (s *service) idle(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if s.proc.exited() {
			return fmt.Errorf("telephonyd exited (status %d%s)\n%s", s.proc.exitCode(), exitHint(s.proc.exitCode()), s.proc.errTail(20))
		}
		n, err := s.active(ctx)
		if err == nil && n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("telephonyd still has %d live calls after %v (%v)", n, limit, err)
		}
		if err := wait.Sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// parseMetrics reads Prometheus' text format: each sample line is "series value" (no
// time stamps from client_golang); comments are skipped.
func parseMetrics(body string) map[string]float64 {
	m := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			m[line[:i]] = v
		}
	}
	return m
}

// parseMemStats reads the "# Name = N" lines the debug heap profile ends with.
func parseMemStats(body string) map[string]int64 {
	m := map[string]int64{}
	for line := range strings.Lines(body) {
		k, v, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "#")), " = ")
		if !ok || !strings.HasPrefix(line, "# ") {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			m[k] = n
		}
	}
	return m
}

// exitHint explains an exit in the middle of a run: the bench never stops telephonyd before
// a phase ends.
func exitHint(code int) string {
	switch code {
	case 0:
		return ": it was shut down by SIGTERM or SIGINT; did something else on this machine signal it?"
	case -1:
		return ": killed by a signal"
	}
	return ""
}
