package sipengine_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/internal/testenv"
	"github.com/ccplane/telephony/sipengine"
)

// TestRepeated200AfterItsTransaction checks RFC 6026 beyond the Accepted state: a 200 that
// the gateway sends again after the INVITE transaction was released (a window of 200 ms
// here; SIPp sends it again 1 s after our ACK) is acknowledged again from the dialog, and the
// call stays up until we hang up.
func TestRepeated200AfterItsTransaction(t *testing.T) {
	uas := testenv.StartSIPp(t, "answer_repeat_200", testenv.SIPpOptions{})
	var logs testenv.Buffer
	cfg := testEngine
	cfg.AcceptedWindow = 200 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, _ := startEngine(t, cfg)
	rec := newRecorder()
	c := dial(t, e, sipengine.Gateway{Name: "sipp", Address: uas.Addr()}, "15550100200", rec)
	rec.waitState(t, telephony.StateAnswered)
	from := len(logs.String())
	// The log is the only sign of the second ACK; hanging up sooner would make SIPp's next
	// message our BYE instead.
	testenv.Eventually(t, "the repeated 200 acknowledged", func() bool {
		return strings.Contains(logs.String()[from:], "2xx retransmission acknowledged")
	})
	c.Hangup()
	select {
	case <-c.Done():
	case <-time.After(testenv.WaitFor):
		t.Fatalf("call did not end; history %s", rec.history())
	}
	uas.Wait(t)
	after := logs.String()[from:]
	if !strings.Contains(after, "2xx without transaction") {
		t.Errorf("the repeated 200 found its INVITE transaction still there:\n%s", after)
	}
	if strings.Contains(after, "stray 2xx ended") {
		t.Errorf("the repeated 200 got a BYE:\n%s", after)
	}
	want := "> INVITE, < 100 INVITE, state trying, < 180 INVITE, state ringing, < 200 INVITE, > ACK, state answered, " +
		"> BYE, < 200 BYE, state ended, ended kill hangup_requested 200"
	if got := rec.history(); got != want {
		t.Errorf("history\n got %s\nwant %s", got, want)
	}
}

// TestLate200ForAnEndedCall checks that a 200 arriving after the call ended unanswered (here
// after a setup timeout of 1 s) is acknowledged and ended with a BYE: SIPp fails the run if
// either is missing.
func TestLate200ForAnEndedCall(t *testing.T) {
	uas := testenv.StartSIPp(t, "late_answer", testenv.SIPpOptions{})
	e, _ := startEngine(t, testEngine)
	rec := newRecorder()
	c := dial(t, e, sipengine.Gateway{Name: "sipp", Address: uas.Addr()}, "15550100200", rec)
	select {
	case <-c.Done():
	case <-time.After(testenv.WaitFor):
		t.Fatalf("call did not end; history %s", rec.history())
	}
	if got, want := rec.history(), "> INVITE, state ended, ended kill setup_timeout 0"; got != want {
		t.Errorf("history\n got %s\nwant %s", got, want)
	}
	uas.Wait(t)
}
