package sipengine

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ccplane/telephony"
)

func st(code int, reason string) *telephony.Status {
	return &telephony.Status{Code: code, Reason: reason}
}

// TestClassify holds the engine to the termination table of ARCHITECTURE.md, row by row.
func TestClassify(t *testing.T) {
	ringing := telephony.Status{Code: 180, Reason: "Ringing"}
	trying := telephony.Status{Code: 100, Reason: "Trying"}
	q850 := &telephony.Reason{Protocol: "Q.850", Cause: 17, Text: "User busy"}
	tests := []struct {
		name      string
		in        outcome
		wantParty telephony.Party
		wantCause telephony.Cause
		wantLast  telephony.Status
	}{
		{name: "hang-up before answer keeps the last provisional",
			in:        outcome{kill: telephony.CauseHangupRequested, provisional: ringing, final: st(487, "Request Terminated")},
			wantParty: telephony.PartyKill, wantCause: telephony.CauseHangupRequested, wantLast: ringing},
		{name: "hang-up before any response",
			in:        outcome{kill: telephony.CauseHangupRequested},
			wantParty: telephony.PartyKill, wantCause: telephony.CauseHangupRequested, wantLast: telephony.Status{}},
		{name: "ring timeout after 100 only",
			in:        outcome{kill: telephony.CauseRingTimeout, provisional: trying, final: st(487, "Request Terminated")},
			wantParty: telephony.PartyKill, wantCause: telephony.CauseRingTimeout, wantLast: trying},
		{name: "setup timeout",
			in:        outcome{kill: telephony.CauseSetupTimeout},
			wantParty: telephony.PartyKill, wantCause: telephony.CauseSetupTimeout, wantLast: telephony.Status{}},
		{name: "transport error",
			in:        outcome{kill: telephony.CauseTransportError},
			wantParty: telephony.PartyKill, wantCause: telephony.CauseTransportError, wantLast: telephony.Status{}},
		{name: "hang-up after answer",
			in:        outcome{kill: telephony.CauseHangupRequested, provisional: ringing, answer: st(200, "OK")},
			wantParty: telephony.PartyKill, wantCause: telephony.CauseHangupRequested, wantLast: *st(200, "OK")},
		{name: "max duration",
			in:        outcome{kill: telephony.CauseMaxDuration, answer: st(200, "OK")},
			wantParty: telephony.PartyKill, wantCause: telephony.CauseMaxDuration, wantLast: *st(200, "OK")},
		{name: "shutdown while ringing",
			in:        outcome{kill: telephony.CauseShutdown, provisional: ringing, final: st(487, "Request Terminated")},
			wantParty: telephony.PartyKill, wantCause: telephony.CauseShutdown, wantLast: ringing},
		{name: "provider rejects",
			in:        outcome{provisional: trying, final: st(486, "Busy Here"), reason: q850},
			wantParty: telephony.PartyFinish, wantCause: telephony.CauseRemoteRejected, wantLast: *st(486, "Busy Here")},
		{name: "remote bye",
			in:        outcome{remoteBye: true, provisional: ringing, answer: st(200, "OK")},
			wantParty: telephony.PartyFinish, wantCause: telephony.CauseRemoteHangup, wantLast: *st(200, "OK")},
		{name: "200 crossing our cancel",
			in:        outcome{kill: telephony.CauseRingTimeout, provisional: ringing, answer: st(200, "OK")},
			wantParty: telephony.PartyKill, wantCause: telephony.CauseRingTimeout, wantLast: *st(200, "OK")},
		{name: "final other than 487 crossing our cancel is the provider's word",
			in:        outcome{kill: telephony.CauseHangupRequested, provisional: ringing, final: st(486, "Busy Here")},
			wantParty: telephony.PartyKill, wantCause: telephony.CauseHangupRequested, wantLast: *st(486, "Busy Here")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := classify(tc.in)
			want := End{
				Termination:  telephony.Termination{Party: tc.wantParty, Cause: tc.wantCause, Reason: tc.in.reason},
				LastResponse: tc.wantLast,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("classify mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseReason(t *testing.T) {
	tests := []struct {
		name, in string
		want     *telephony.Reason
	}{
		{name: "q850 with text", in: `Q.850;cause=16;text="Normal call clearing"`,
			want: &telephony.Reason{Protocol: "Q.850", Cause: 16, Text: "Normal call clearing"}},
		{name: "first of several", in: `SIP;cause=200;text="Call completed elsewhere", Q.850;cause=26`,
			want: &telephony.Reason{Protocol: "SIP", Cause: 200, Text: "Call completed elsewhere"}},
		{name: "no cause", in: `Q.850`, want: &telephony.Reason{Protocol: "Q.850"}},
		{name: "empty", in: ``, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := parseReason(sipHeader("Reason", tc.in))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parseReason(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}
