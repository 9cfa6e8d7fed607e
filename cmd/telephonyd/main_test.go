package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ccplane/telephony/internal/testenv"
)

// TestDemo runs the README's first command as a newcomer would (minus the fixed port): the
// embedded demo places its tour of calls through its own gRPC API, every call ends the way
// the simulator's number table says, and a signal shuts it down cleanly.
func TestDemo(t *testing.T) {
	var stdout, stderr testenv.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, []string{"--listen", "127.0.0.1:0"}, &stdout, &stderr) }()

	deadline := time.Now().Add(45 * time.Second)
	for !strings.Contains(stdout.String(), "Tour done") {
		if time.Now().After(deadline) {
			t.Fatalf("the tour did not finish in 45 s; stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
		select {
		case err := <-errc:
			t.Fatalf("run returned early: %v\nstderr:\n%s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	out := stdout.String()
	for _, want := range []string{
		"ended: finish / remote_hangup, Q.850 cause 16",
		"ended: finish / remote_rejected, Q.850 cause 17 \"User busy\", last 486 Busy Here",
		"ended: kill / hangup_requested, last 180 Ringing",
		"→ CANCEL",
		"ended: kill / direction_blocked, last 900 Direction blocked",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("tour output lacks %q:\n%s", want, out)
		}
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("run after the signal: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return within 15 s of the signal")
	}
	if strings.Contains(stderr.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", stderr.String())
	}
}
