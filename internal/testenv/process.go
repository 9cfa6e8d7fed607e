package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// notInstalled is the failure for a missing binary: it names the Debian package and the
// README's test command, which installs it.
func notInstalled(bin, pkg string) string {
	return fmt.Sprintf("%s not found on PATH: install the Debian package %s "+
		"(apt-get install %s), or run ./scripts/test (the README's test command), which installs it", bin, pkg, pkg)
}

// startAttempts bounds the retries when a peer loses the race for its port: FreePort closes
// the port before the peer binds it, and the readiness probe holds it for a moment too.
const startAttempts = 3

// readyTimeout bounds how long a peer may take to bind its port or answer.
const readyTimeout = 10 * time.Second

// FreePort returns a port on 127.0.0.1 that was free for network ("udp" or "tcp") when it
// was checked. Another process may take it before the caller binds it; StartSIPp and
// StartRedis retry with a new port when that happens.
func FreePort(t testing.TB, network string) int {
	t.Helper()
	port, err := freePort(network)
	if err != nil {
		t.Fatalf("FreePort(%q): %v", network, err)
	}
	return port
}

func freePort(network string) (int, error) {
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	case "tcp":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port, nil
	}
	return 0, fmt.Errorf("network %q: want udp or tcp", network)
}

// portBound reports whether something already holds 127.0.0.1:port for network. Binding is
// the only check that works for UDP, and for TCP it avoids a probe connection that the peer
// would log.
func portBound(network string, port int) bool {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var err error
	if network == "udp" {
		var c net.PacketConn
		if c, err = net.ListenPacket("udp", addr); err == nil {
			c.Close()
		}
	} else {
		var l net.Listener
		if l, err = net.Listen("tcp", addr); err == nil {
			l.Close()
		}
	}
	return err != nil
}

// moduleRoot walks up from the working directory (the test's package directory) to the
// directory holding go.mod, so tests in any package find testdata/ at the module root.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// process is a child started for one test. done is closed once it has exited; err and
// exitCode are valid from then on.
type process struct {
	cmd      *exec.Cmd
	done     chan struct{}
	err      error
	exitCode int
}

// startProcess starts cmd and a goroutine that reaps it; stop (or the child exiting on its
// own) ends that goroutine.
func startProcess(cmd *exec.Cmd) (*process, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		p.exitCode = cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop kills the child if it is still running and waits until it has been reaped.
func (p *process) stop() {
	if !p.exited() {
		_ = p.cmd.Process.Kill()
	}
	<-p.done
}

// errExited is returned by waitReady when the child exits before it is ready.
var errExited = errors.New("exited before it was ready")

// waitReady polls ready until it is true, the child exits or readyTimeout passes.
func waitReady(p *process, ready func() bool) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		if p.exited() {
			return errExited
		}
		if ready() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v", readyTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tail returns the last n lines of a file, labelled, or a note that it is missing or empty.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	name := filepath.Base(path)
	switch {
	case err != nil:
		return fmt.Sprintf("--- %s: %v\n", name, err)
	case len(bytes.TrimSpace(b)) == 0:
		return fmt.Sprintf("--- %s: empty\n", name)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\r\n"), []byte("\n"))
	head := fmt.Sprintf("--- %s", name)
	if len(lines) > n {
		head += fmt.Sprintf(" (last %d of %d lines)", n, len(lines))
		lines = lines[len(lines)-n:]
	}
	return head + " ---\n" + string(bytes.Join(lines, []byte("\n"))) + "\n"
}
