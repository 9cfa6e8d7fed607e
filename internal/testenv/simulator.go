package testenv

import (
	"context"
	"testing"

	"github.com/ccplane/telephony/simulator"
)

// StartSimulator runs the project's simulated provider gateway with cfg until the test ends,
// for the cases SIPp cannot play (TLS, a provider that comes back on a given port).
func StartSimulator(t testing.TB, cfg simulator.Config) *simulator.Gateway {
	t.Helper()
	sim, err := simulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := sim.Run(ctx); err != nil {
			t.Errorf("simulator: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return sim
}
