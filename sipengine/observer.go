package sipengine

import (
	"time"

	"github.com/ccplane/telephony"
)

// Observer receives everything that happens to one call. Observe is called for one event at
// a time, in the order things happened (an idle answered call has no goroutine, so the calls
// may come from different goroutines, one after the other), and must not block: the call
// waits for it.
type Observer interface {
	Observe(Event)
}

// EventKind says what an Event reports.
type EventKind int

// The kinds of Event.
const (
	// EventRequest: a request of the call was sent (INVITE, ACK, CANCEL, BYE) or received (BYE).
	EventRequest EventKind = iota + 1
	// EventResponse: a response arrived for one of the call's requests.
	EventResponse
	// EventState: the call changed state.
	EventState
	// EventEnded: the call is over; always the last event.
	EventEnded
)

// Event is one thing that happened to a call. Which fields are set depends on Kind.
type Event struct {
	Kind        EventKind
	At          time.Time
	SinceInvite time.Duration // since the first INVITE was sent; zero before it

	Method   string           // EventRequest: the method; EventResponse: the CSeq method
	Received bool             // EventRequest: it came from the gateway
	Status   telephony.Status // EventResponse
	SDP      string           // EventResponse: the body of a 18x or 2xx with SDP
	Reason   *telephony.Reason

	From, To telephony.State // EventState

	End End // EventEnded
}

// End is how a call ended.
type End struct {
	Termination  telephony.Termination
	LastResponse telephony.Status
	Err          error // the transport or transaction error behind TRANSPORT_ERROR, if any
}
