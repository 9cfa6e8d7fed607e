package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// StartSIPpAt is StartSIPp on a port the test chooses: a gateway that went away (it exited,
// or Stop) comes back where its peers still send to it. It does not retry on another port:
// it fails the test if the port is taken.
func StartSIPpAt(t testing.TB, scenario string, port int, opts SIPpOptions) *SIPp {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatal(notInstalled("sipp", "sip-tester"))
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("StartSIPpAt: %v", err)
	}
	file := filepath.Join(root, "testdata", "sipp", scenario+".xml")
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("StartSIPpAt: no scenario %q: %v", scenario, err)
	}
	s := &SIPp{scenario: scenario, transport: opts.Transport, dir: t.TempDir(), timeout: opts.Timeout,
		addr: fmt.Sprintf("127.0.0.1:%d", port)}
	if s.transport == "" {
		s.transport = "udp"
	}
	mode := map[string]string{"udp": "u1", "tcp": "t1"}[s.transport]
	if mode == "" {
		t.Fatalf("StartSIPpAt: transport %q: want udp or tcp", opts.Transport)
	}
	if s.timeout <= 0 {
		s.timeout = 60 * time.Second
	}
	// Bound already, readiness below would be fooled by whoever holds it.
	if portBound(s.transport, port) {
		t.Fatalf("StartSIPpAt %s: port %d is taken", s, port)
	}
	calls := max(opts.Calls, 1)
	if err := s.start(bin, s.args(file, mode, port, calls, opts.Keys)); err != nil {
		t.Fatalf("StartSIPpAt %s: %v", s, err)
	}
	if err := waitReady(s.proc, func() bool { return portBound(s.transport, port) }); err != nil {
		s.proc.stop()
		t.Fatalf("StartSIPpAt %s: sipp %v (exit status %d)\n%s", s, err, s.proc.exitCode, s.report())
	}
	t.Cleanup(func() {
		s.proc.stop()
		if !s.waited && !t.Failed() {
			t.Errorf("StartSIPpAt %s: Wait was never called, so SIPp's verdict was not checked", s)
		}
	})
	return s
}

// Stop kills SIPp now, for a test that takes a gateway away while it still expects calls
// (a keep-alive responder has no last call). A stopped SIPp has no verdict: Wait is not
// needed afterwards and reports nothing.
func (s *SIPp) Stop() {
	s.waited = true
	s.proc.stop()
}
