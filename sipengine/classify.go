package sipengine

import "github.com/ccplane/telephony"

// outcome is what a call went through, as far as the termination rules care.
type outcome struct {
	kill        telephony.Cause   // why we ended the call; 0 if we did not
	remoteBye   bool              // the far side sent BYE (before we decided to end it)
	answer      *telephony.Status // the 2xx, also one that crossed our CANCEL
	provisional telephony.Status  // the last 1xx received, 100 included
	final       *telephony.Status // the final non-2xx response to the INVITE, if any
	reason      *telephony.Reason // Reason header of the remote BYE or final response
}

// classify applies the termination table of ARCHITECTURE.md: the party follows the cause,
// and last_response is the provider's last word about the call, never the 487 that
// answers our own CANCEL, nor the 200 that answers our BYE.
func classify(o outcome) End {
	var cause telephony.Cause
	switch {
	case o.kill != 0:
		cause = o.kill
	case o.remoteBye:
		cause = telephony.CauseRemoteHangup
	case o.final != nil:
		cause = telephony.CauseRemoteRejected
	default:
		// Nothing ended the call; the engine never gets here, but a record must say something.
		cause = telephony.CauseLost
	}

	last := o.provisional
	switch {
	case o.answer != nil:
		last = *o.answer
	case o.final != nil && (o.kill == 0 || o.final.Code != 487):
		// A final that is not the 487 our CANCEL asked for is the provider's verdict, even when
		// it crossed our CANCEL.
		last = *o.final
	}
	return End{
		Termination:  telephony.Termination{Party: cause.Party(), Cause: cause, Reason: o.reason},
		LastResponse: last,
	}
}
