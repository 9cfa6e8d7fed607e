package testenv

import (
	"testing"
	"time"
)

// WaitFor bounds every wait a test makes for something another goroutine, instance or
// process does.
const WaitFor = 10 * time.Second

// Eventually polls cond every millisecond until it holds, failing the test with what after
// WaitFor.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(WaitFor)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("after %v: still waiting for %s", WaitFor, what)
		case <-tick.C:
		}
	}
}
