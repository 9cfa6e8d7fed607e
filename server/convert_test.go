package server

import (
	"strings"
	"testing"

	"github.com/ccplane/telephony"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// The conversions cast domain enums to proto enums; these tests keep the numbering in step.
func TestEnumsMatchProto(t *testing.T) {
	for s := telephony.StateDialing; s <= telephony.StateEnded; s++ {
		if got, want := telephonyv1.CallState(s).String(), "CALL_STATE_"+strings.ToUpper(s.String()); got != want {
			t.Errorf("state %d: proto %s, want %s", s, got, want)
		}
	}
	for c := telephony.CauseHangupRequested; c <= telephony.CauseGatewayDown; c++ {
		if got, want := telephonyv1.TerminationCause(c).String(), "TERMINATION_CAUSE_"+strings.ToUpper(c.String()); got != want {
			t.Errorf("cause %d: proto %s, want %s", c, got, want)
		}
	}
	if n := len(telephonyv1.TerminationCause_name) - 1; n != int(telephony.CauseGatewayDown) {
		t.Errorf("proto has %d causes, domain %d", n, telephony.CauseGatewayDown)
	}
	for _, p := range []telephony.Party{telephony.PartyKill, telephony.PartyFinish} {
		if got, want := telephonyv1.TerminationParty(p).String(), "TERMINATION_PARTY_"+strings.ToUpper(p.String()); got != want {
			t.Errorf("party %d: proto %s, want %s", p, got, want)
		}
	}
}
