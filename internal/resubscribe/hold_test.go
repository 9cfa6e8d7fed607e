package resubscribe

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// An outage is reported once when it starts and once when it ends, whatever the number of
// failed tries in between, and Hold returns when ctx ends.
func TestHoldReportsOutagesOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	errDown := errors.New("down")
	var log []string
	tries := 0
	// fail, fail, work then fail, fail, work and stop.
	Hold(ctx, func(up func()) error {
		tries++
		if tries == 3 || tries == 5 {
			up()
		}
		if tries == 5 {
			cancel()
		}
		return errDown
	}, func(err error, first bool) {
		if !errors.Is(err, errDown) {
			t.Errorf("failed(%v), want the listen error", err)
		}
		if first {
			log = append(log, "lost")
		} else {
			log = append(log, "failed")
		}
	}, func() { log = append(log, "restored") })
	want := []string{"lost", "failed", "restored", "lost", "failed", "restored"}
	if !slices.Equal(log, want) {
		t.Errorf("reports %q, want %q", log, want)
	}
}
