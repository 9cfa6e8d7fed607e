package sipengine_test

import (
	"log/slog"
	"os"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestMain silences sipgo's process-wide logger, which the tests' own peers use: its
// connection bookkeeping warnings would bury real failures.
func TestMain(m *testing.M) {
	sip.SetDefaultLogger(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}
