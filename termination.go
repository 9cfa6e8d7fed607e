package telephony

// Party says which side ended a call.
type Party int

const (
	// PartyKill: our side ended the call (hang-up request, our timers, shutdown, a rejection
	// before dialling).
	PartyKill Party = iota + 1
	// PartyFinish: the provider or the subscriber ended it (remote BYE, final error response).
	PartyFinish
)

func (p Party) String() string {
	switch p {
	case PartyKill:
		return "kill"
	case PartyFinish:
		return "finish"
	}
	return "unspecified"
}

// Cause says why a call ended. Each cause belongs to exactly one party (see Cause.Party).
type Cause int

// The causes of the termination table in ARCHITECTURE.md.
const (
	CauseHangupRequested Cause = iota + 1
	CauseRingTimeout
	CauseSetupTimeout
	CauseTransportError
	CauseMaxDuration
	CauseShutdown
	CauseRemoteRejected
	CauseRemoteHangup
	CauseDirectionBlocked
	CauseGatewayLimit
	CauseLost
	CauseGatewayDown
)

var causeNames = [...]string{"", "hangup_requested", "ring_timeout", "setup_timeout",
	"transport_error", "max_duration", "shutdown", "remote_rejected", "remote_hangup",
	"direction_blocked", "gateway_limit", "lost", "gateway_down"}

func (c Cause) String() string {
	if c < 0 || int(c) >= len(causeNames) {
		return "unknown"
	}
	return causeNames[c]
}

// Party returns the side that a call ending for this cause is attributed to: only the
// provider's own verdicts (a final error response, a remote BYE) are FINISH.
func (c Cause) Party() Party {
	switch c {
	case CauseRemoteRejected, CauseRemoteHangup:
		return PartyFinish
	case 0:
		return 0
	}
	return PartyKill
}

// Termination is who ended a call, why, and the Reason header that came with it.
type Termination struct {
	Party  Party
	Cause  Cause
	Reason *Reason // nil when no Reason header came
}

// Ended reports whether t describes an ended call.
func (t Termination) Ended() bool { return t.Cause != 0 }
