package testenv

import (
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
	Run(t, "simulator", sim.Run)
	return sim
}
