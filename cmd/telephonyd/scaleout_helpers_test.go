package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ccplane/telephony/client"
	"github.com/ccplane/telephony/internal/testenv"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// processEnv, set in a child's environment, makes the test binary run telephonyd (main,
// with the child's arguments) instead of the tests: a test gets a real telephonyd process
// to kill without building one.
const processEnv = "TELEPHONYD_TEST_PROCESS"

func TestMain(m *testing.M) {
	if os.Getenv(processEnv) == "1" {
		main() // exits 1 on an error
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// instanceConfig is the YAML of one telephonyd instance on redisURL with one gateway,
// "carrier", at gatewayAddr, its SIP on a port of its own.
func instanceConfig(grpcAddr, redisURL, heartbeat, gatewayAddr string) string {
	return fmt.Sprintf(`
grpc: {listen: %q}
sip: {listen: "127.0.0.1:0"}
redis: {url: %q, heartbeat: %s}
log: {level: warn}
gateways:
  - {name: carrier, address: %q, allow: [""], keepalive: 0s}
`, grpcAddr, redisURL, heartbeat, gatewayAddr)
}

// instance is one telephonyd of a test, with a connection to its gRPC port.
type instance struct {
	name string
	addr string
	rpc  telephonyv1.CallServiceClient
	api  *client.Client
}

// connect returns instance name at grpcAddr, its connection closed in t.Cleanup.
func connect(t *testing.T, name, grpcAddr string) *instance {
	t.Helper()
	cc, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return &instance{name: name, addr: grpcAddr, rpc: telephonyv1.NewCallServiceClient(cc), api: client.New(cc)}
}

// freeAddr is a free 127.0.0.1 TCP address for a gRPC listener.
func freeAddr(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
}

// childService is telephonyd running as a child process: the test binary re-executed with
// processEnv.
type childService struct {
	cmd    *exec.Cmd
	stderr testenv.Buffer
	done   chan struct{} // closed once the child was reaped
}

// startChild starts telephonyd in a process of its own with the YAML configuration yaml and
// returns once it answers health checks on grpcAddr (yaml's grpc.listen). The child is
// killed in t.Cleanup if it still runs.
func startChild(t *testing.T, yaml, grpcAddr string) *childService {
	t.Helper()
	c := &childService{done: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "--config", writeConfig(t, yaml))
	c.cmd.Env = append(os.Environ(), processEnv+"=1")
	c.cmd.Stdout, c.cmd.Stderr = io.Discard, &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start telephonyd process: %v", err)
	}
	go func() {
		_ = c.cmd.Wait() // the verdict is read from ProcessState
		close(c.done)
	}()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.done
	})
	waitServing(t, grpcAddr, insecure.NewCredentials(), &c.stderr)
	return c
}

// kill ends the child with SIGKILL, as a crash or the OOM killer would: no shutdown runs,
// no call is ended, its heartbeat just stops. It fails the test if the child had already
// exited.
func (c *childService) kill(t *testing.T) {
	t.Helper()
	select {
	case <-c.done:
		t.Fatalf("telephonyd process exited before it was killed: %v\n%s", c.cmd.ProcessState, c.stderr.String())
	default:
	}
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.done:
	case <-time.After(testenv.WaitFor):
		t.Fatal("telephonyd process still running after SIGKILL")
	}
	if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("telephonyd process ended with %v, want killed by SIGKILL\n%s", c.cmd.ProcessState, c.stderr.String())
	}
}

// watch is one WatchCall stream read to its end by a goroutine of its own.
type watch struct {
	what   string
	done   chan struct{}
	mu     sync.Mutex
	events []*telephonyv1.CallEvent // guarded by mu until done
	err    error                    // set before done: nil if the stream ended cleanly right after `ended`
}

// startWatch opens WatchCall of call id after sequence after on in and reads it until the
// server ends it. The stream is cancelled, and its reader waited for, in t.Cleanup.
func startWatch(t *testing.T, in *instance, id string, after uint64) *watch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watch{what: fmt.Sprintf("watch on %s after %d", in.name, after), done: make(chan struct{})}
	t.Cleanup(func() {
		cancel()
		<-w.done
	})
	go func() {
		defer close(w.done)
		w.err = w.read(ctx, in.rpc, id, after)
	}()
	return w
}

// read reads the stream to its end: nil if the server closed it (status OK) right after the
// `ended` event, an error for anything else (an event after `ended`, a close before it, a
// status error).
func (w *watch) read(ctx context.Context, rpc telephonyv1.CallServiceClient, id string, after uint64) error {
	stream, err := rpc.WatchCall(ctx, &telephonyv1.WatchCallRequest{CallId: id, AfterSequence: after})
	if err != nil {
		return err
	}
	var ended bool
	for {
		ev, err := stream.Recv()
		switch {
		case errors.Is(err, io.EOF) && ended:
			return nil
		case errors.Is(err, io.EOF):
			return errors.New("the server closed the stream before the `ended` event")
		case err != nil:
			return err
		case ended:
			return fmt.Errorf("event %d came after the `ended` event", ev.GetSequence())
		}
		w.mu.Lock()
		w.events = append(w.events, ev)
		w.mu.Unlock()
		ended = ev.GetEnded() != nil
	}
}

// find returns the first event so far for which match is true, or nil.
func (w *watch) find(match func(*telephonyv1.CallEvent) bool) *telephonyv1.CallEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ev := range w.events {
		if match(ev) {
			return ev
		}
	}
	return nil
}

// await returns the first event for which match is true once it came, failing the test
// after testenv.WaitFor or if the stream ended without it.
func (w *watch) await(t *testing.T, what string, match func(*telephonyv1.CallEvent) bool) *telephonyv1.CallEvent {
	t.Helper()
	var ev *telephonyv1.CallEvent
	testenv.Eventually(t, w.what+": "+what, func() bool {
		ev = w.find(match)
		if ev != nil {
			return true
		}
		select {
		case <-w.done:
			t.Fatalf("%s ended (%v) without %s; events:\n%s", w.what, w.err, what, render(w.events))
		default:
		}
		return false
	})
	return ev
}

// wait waits for the stream to end, at most testenv.WaitFor, and returns its events,
// failing the test unless it ended cleanly right after `ended`.
func (w *watch) wait(t *testing.T) []*telephonyv1.CallEvent {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(testenv.WaitFor):
		w.mu.Lock()
		defer w.mu.Unlock()
		t.Fatalf("%s: still open after %v; events so far:\n%s", w.what, testenv.WaitFor, render(w.events))
	}
	if w.err != nil {
		t.Errorf("%s ended with %v, want a clean end after `ended`; events:\n%s", w.what, w.err, render(w.events))
	}
	return w.events
}

// isState matches a state change to state.
func isState(state telephonyv1.CallState) func(*telephonyv1.CallEvent) bool {
	return func(ev *telephonyv1.CallEvent) bool { return ev.GetStateChanged().GetTo() == state }
}

// render lists events one a line as a user reads them: sequence, kind and what it says, for
// failure messages and for comparing streams at a glance.
func render(evs []*telephonyv1.CallEvent) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "%3d ", ev.GetSequence())
		switch k := ev.GetKind().(type) {
		case *telephonyv1.CallEvent_Request:
			fmt.Fprintf(&b, "request %s %s", k.Request.GetDirection(), k.Request.GetMethod())
		case *telephonyv1.CallEvent_Response:
			fmt.Fprintf(&b, "response %d %s (%s)", k.Response.GetStatus().GetCode(), k.Response.GetStatus().GetReason(), k.Response.GetCseqMethod())
		case *telephonyv1.CallEvent_StateChanged:
			fmt.Fprintf(&b, "state %s -> %s", k.StateChanged.GetFrom(), k.StateChanged.GetTo())
		case *telephonyv1.CallEvent_Ended:
			fmt.Fprintf(&b, "ended %s / %s, last %d", k.Ended.GetTermination().GetParty(), k.Ended.GetTermination().GetCause(),
				k.Ended.GetCall().GetLastResponse().GetCode())
		default:
			fmt.Fprintf(&b, "unknown %v", ev)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// noErrorsLogged fails the test if an instance logged at level ERROR, or its race detector
// found a race (for a child process, whose races do not fail the test by themselves).
func noErrorsLogged(t *testing.T, name, stderr string) {
	t.Helper()
	for line := range strings.Lines(stderr) {
		if strings.Contains(line, "level=ERROR") || strings.Contains(line, "DATA RACE") {
			t.Errorf("%s logged an error: %s", name, strings.TrimSpace(line))
		}
	}
}
