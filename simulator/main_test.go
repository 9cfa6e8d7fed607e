package simulator

import (
	"log/slog"
	"os"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestMain quiets sipgo's package-level logger for this test binary only. sipgo logs some
// things there whatever logger it is given, such as "TCP ref went negative" each time a
// TCP connection is torn down (sip/transport_tcp.go TryClose), which is noise here.
func TestMain(m *testing.M) {
	sip.SetDefaultLogger(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}
