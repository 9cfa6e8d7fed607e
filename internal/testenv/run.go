package testenv

import (
	"context"
	"sync"
	"testing"
)

// Run runs run in a goroutine of its own until the test ends or stop is called, whichever
// comes first, then cancels its context, waits for it to return and fails the test if it
// returned an error: the owner of a part's Run loop in a test.
func Run(t testing.TB, what string, run func(ctx context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("%s: %v", what, err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
