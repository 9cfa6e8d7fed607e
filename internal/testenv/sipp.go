package testenv

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// SIPpOptions tune one SIPp run. The zero value plays one call over UDP within 60 s.
type SIPpOptions struct {
	// Transport is "udp" (the default) or "tcp".
	Transport string
	// Calls is the number of calls SIPp expects before it exits (-m); default 1.
	Calls int
	// Keys are passed as -key name value; a scenario's header lists the keys it needs.
	Keys map[string]string
	// Timeout is SIPp's global -timeout, rounded up to whole seconds; default 60 s. SIPp fails
	// (-timeout_error) if its calls have not all ended by then.
	Timeout time.Duration
}

// SIPp is a running SIPp provider gateway (a UAS) on 127.0.0.1. Its methods may be called
// from the test goroutine only.
type SIPp struct {
	scenario  string
	transport string
	addr      string
	dir       string
	timeout   time.Duration
	proc      *process
	waited    bool
}

// Log files SIPp writes into the test's temporary directory.
const (
	sippMessages = "messages.log" // -trace_msg: every message sent and received
	sippErrors   = "errors.log"   // -trace_err: unexpected messages, timeouts, failed checks
	sippLogs     = "logs.log"     // -trace_logs: the scenario's <log> actions
	sippStdout   = "screen.log"   // the statistics screen
	sippStderr   = "stderr.log"   // scenario load errors and fatal errors
)

// StartSIPp starts SIPp as a UAS playing testdata/sipp/<scenario>.xml (from the module root)
// on a free 127.0.0.1 port, and returns once it is bound. It kills SIPp in t.Cleanup if it is
// still running. It fails the test if sipp is missing, the scenario does not load, or SIPp
// does not come up. Call Wait to get SIPp's verdict.
func StartSIPp(t testing.TB, scenario string, opts SIPpOptions) *SIPp {
	t.Helper()
	return startSIPp(t, scenario, 0, opts)
}

// StartSIPpAt is StartSIPp on a port the test chooses: a gateway that went away (it exited,
// or Stop) comes back where its peers still send to it. It fails the test if the port is
// taken.
func StartSIPpAt(t testing.TB, scenario string, port int, opts SIPpOptions) *SIPp {
	t.Helper()
	return startSIPp(t, scenario, port, opts)
}

// startSIPp starts SIPp on port, or on a free port when port is 0 (trying another one if
// someone takes it first).
func startSIPp(t testing.TB, scenario string, port int, opts SIPpOptions) *SIPp {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatal(notInstalled("sipp", "sip-tester"))
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("StartSIPp: %v", err)
	}
	file := filepath.Join(root, "testdata", "sipp", scenario+".xml")
	if _, err := os.Stat(file); err != nil {
		have, _ := filepath.Glob(filepath.Join(root, "testdata", "sipp", "*.xml"))
		for i, h := range have {
			have[i] = strings.TrimSuffix(filepath.Base(h), ".xml")
		}
		t.Fatalf("StartSIPp: no scenario %q (have %s)", scenario, strings.Join(have, ", "))
	}

	s := &SIPp{scenario: scenario, transport: opts.Transport, dir: t.TempDir(), timeout: opts.Timeout}
	if s.transport == "" {
		s.transport = "udp"
	}
	mode := map[string]string{"udp": "u1", "tcp": "t1"}[s.transport]
	if mode == "" {
		t.Fatalf("StartSIPp: transport %q: want udp or tcp", opts.Transport)
	}
	if s.timeout <= 0 {
		s.timeout = 60 * time.Second
	}
	calls := max(opts.Calls, 1)

	for attempt := 1; ; attempt++ {
		ports := sippPorts{sip: port, control: FreePort(t, "udp"), media: FreePort(t, "udp")}
		if ports.sip == 0 {
			ports.sip = FreePort(t, s.transport)
		} else if portBound(s.transport, ports.sip) {
			// Readiness below would be fooled by whoever holds it.
			t.Fatalf("StartSIPpAt %s: port %d is taken", scenario, ports.sip)
		}
		s.addr = fmt.Sprintf("127.0.0.1:%d", ports.sip)
		if err := s.start(bin, s.args(file, mode, ports, calls, opts.Keys)); err != nil {
			t.Fatalf("StartSIPp %s: %v", s, err)
		}
		// SIPp binds its SIP port, then the media ports, then the control port, and exits if
		// one of them is taken: only the last one bound means it is there to stay.
		err := waitReady(s.proc, func() bool {
			return portBound(s.transport, ports.sip) && portBound("udp", ports.control)
		})
		if err == nil {
			break
		}
		s.proc.stop()
		// 254 is SIPp's "cannot bind": someone took a port first, so pick others.
		if errors.Is(err, errExited) && s.proc.exitCode == 254 && attempt < startAttempts {
			continue
		}
		t.Fatalf("StartSIPp %s: sipp %v (exit status %d)\n%s", s, err, s.proc.exitCode, s.report())
	}
	t.Cleanup(func() {
		s.proc.stop()
		if !s.waited && !t.Failed() {
			t.Errorf("StartSIPp %s: Wait was never called, so SIPp's verdict was not checked", s)
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

// sippPorts are the ports one SIPp binds. Left to itself, every SIPp starts from the same
// media (6000) and control (8888) ports, so SIPps started together race for them and the
// loser exits after its SIP port is already up.
type sippPorts struct {
	sip     int // -p, on 127.0.0.1
	control int // -cp, on 0.0.0.0
	media   int // -mp: RTP echo on media and media+2, never used by our scenarios
}

// args builds SIPp's command line for one attempt on ports.
func (s *SIPp) args(file, mode string, ports sippPorts, calls int, keys map[string]string) []string {
	args := []string{
		"-sf", file, "-i", "127.0.0.1", "-p", strconv.Itoa(ports.sip), "-t", mode,
		"-cp", strconv.Itoa(ports.control), "-mp", strconv.Itoa(ports.media),
		"-m", strconv.Itoa(calls),
		// SIPp reads -timeout in whole seconds ("1500ms" is 1 s).
		"-timeout", fmt.Sprintf("%ds", int((s.timeout+time.Second-1)/time.Second)), "-timeout_error",
		// Without -nostdin SIPp polls stdin for keyboard commands; -bg would detach it and
		// lose its exit status, which is the verdict.
		"-nostdin",
		"-trace_msg", "-message_file", filepath.Join(s.dir, sippMessages),
		"-trace_err", "-error_file", filepath.Join(s.dir, sippErrors),
		"-trace_logs", "-log_file", filepath.Join(s.dir, sippLogs),
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		args = append(args, "-key", k, keys[k])
	}
	return args
}

// start runs SIPp in s.dir, where any file it names itself lands too, with its screen and
// stderr in files there.
func (s *SIPp) start(bin string, args []string) error {
	stdout, err := os.Create(filepath.Join(s.dir, sippStdout))
	if err != nil {
		return err
	}
	defer stdout.Close() // the child has its own copy
	stderr, err := os.Create(filepath.Join(s.dir, sippStderr))
	if err != nil {
		return err
	}
	defer stderr.Close()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = s.dir, stdout, stderr
	s.proc, err = startProcess(cmd)
	return err
}

// Addr returns "127.0.0.1:PORT", where SIPp receives INVITEs.
func (s *SIPp) Addr() string { return s.addr }

// String names the run in failure messages: scenario, transport and address.
func (s *SIPp) String() string {
	return fmt.Sprintf("%s (%s %s)", s.scenario, s.transport, s.addr)
}

// Wait waits for SIPp to exit, at most its Timeout plus 10 s, and reports through t.Errorf
// (with SIPp's logs) unless it exited with status 0, which means every call went as its
// scenario expects. It may be called again; later calls report nothing new.
func (s *SIPp) Wait(t testing.TB) {
	t.Helper()
	if s.waited {
		return
	}
	s.waited = true
	limit := s.timeout + 10*time.Second
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-s.proc.done:
	case <-timer.C:
		s.proc.stop()
		t.Errorf("SIPp %s still running after %v; killed it\n%s", s, limit, s.report())
		return
	}
	if code := s.proc.exitCode; code != 0 {
		t.Errorf("SIPp %s exited with status %d (%s)\n%s", s, code, sippStatus(code), s.report())
	}
}

// Messages returns SIPp's message trace (every message it sent and received, with times).
// It is complete once Wait has returned.
func (s *SIPp) Messages() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, sippMessages))
	return string(b)
}

// report gathers what a developer needs to see why SIPp failed: its own errors first, then
// the end of the conversation. Empty logs are left out, except the message trace, whose
// emptiness says SIPp never heard from the UAC.
func (s *SIPp) report() string {
	var b strings.Builder
	errs, _ := os.ReadFile(filepath.Join(s.dir, sippErrors))
	stderr, _ := os.ReadFile(filepath.Join(s.dir, sippStderr))
	// SIPp prints most errors to both; show stderr only when it says more.
	if !strings.Contains(string(errs), strings.TrimSpace(string(stderr))) {
		b.WriteString(tail(filepath.Join(s.dir, sippStderr), 20))
	}
	for _, name := range []string{sippErrors, sippLogs} {
		if fi, err := os.Stat(filepath.Join(s.dir, name)); err == nil && fi.Size() > 0 {
			b.WriteString(tail(filepath.Join(s.dir, name), 40))
		}
	}
	b.WriteString(tail(filepath.Join(s.dir, sippMessages), 80))
	return b.String()
}

// sippStatus explains SIPp's exit statuses (sipp -h, "Exit codes").
func sippStatus(code int) string {
	switch code {
	case 0:
		return "every call succeeded"
	case 1:
		return "at least one call failed"
	case 97:
		return "stopped by an internal command"
	case 99:
		return "no call was processed"
	case 254: // -2
		return "could not bind a socket"
	case 255: // -1
		return "fatal error, or the global -timeout was reached"
	case -1: // from os.ProcessState: ended by a signal
		return "killed"
	}
	return "unknown status"
}
