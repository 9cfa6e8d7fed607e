package server

import (
	"context"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/sipengine"
)

// callObserver turns one call's engine events into its record and its event log. The engine
// calls Observe for one call one event at a time, never concurrently, so rec needs no lock; every change is written
// to the tracker before the event is published, so a watcher that sees an event and then
// reads the call sees the record at least as new.
type callObserver struct {
	s      *CallService
	rec    *telephony.Call
	events *eventLog
	call   *sipengine.Call // set once Dial returned; guarded by s.mu
}

// Observe implements sipengine.Observer.
func (o *callObserver) Observe(ev sipengine.Event) {
	// Events that change nothing in the record (an ACK sent, a BYE received, the answers to
	// our CANCEL or BYE) cost no write.
	if o.apply(ev) {
		if err := o.s.records.Update(context.Background(), o.rec); err != nil {
			o.s.log.Error("call record not written", "call_id", o.rec.ID, "err", err)
		}
	}
	le := newLogEvent(ev, o.rec)
	if seq := o.events.append(le); seq > 0 {
		o.s.pub.enqueue(o.rec.ID, seq, le)
	}
	if ev.Kind == sipengine.EventEnded {
		o.s.forget(o.rec.ID)
	}
}

// apply puts ev into the record and reports whether the record changed.
func (o *callObserver) apply(ev sipengine.Event) bool {
	r := o.rec
	switch ev.Kind {
	case sipengine.EventRequest:
		if ev.Method == "INVITE" && r.InviteSentAt.IsZero() {
			r.InviteSentAt = ev.At
			o.s.metrics.callStarted(r.Gateway)
			return true
		}
	case sipengine.EventResponse:
		if ev.Method != "INVITE" {
			return false // the 200 to our BYE or CANCEL says nothing about the call
		}
		code := ev.Status.Code
		if code == 401 || code == 407 {
			return false // a challenge is answered and retried; the engine reports it if it was final
		}
		if code < 300 {
			// A final error is the provider's word only if the engine says so (a 487 answers
			// our own CANCEL): the ended event that follows sets it.
			r.LastResponse = ev.Status
		}
		if code >= 180 && code < 200 && r.ProgressAt.IsZero() {
			r.ProgressAt = ev.At
		}
		if code >= 200 && code < 300 && r.AnsweredAt.IsZero() {
			r.AnsweredAt = ev.At
		}
		if ev.SDP != "" {
			r.SDPAnswer = ev.SDP
		}
		return code < 300
	case sipengine.EventState:
		r.State = ev.To
		return true
	case sipengine.EventEnded:
		r.State = telephony.StateEnded
		r.Termination = ev.End.Termination
		r.LastResponse = ev.End.LastResponse
		r.EndedAt = ev.At
		o.s.log.Info("call ended", "call_id", r.ID, "gateway_id", r.Gateway,
			"party", r.Termination.Party.String(), "cause", r.Termination.Cause.String(),
			"sip_status", r.LastResponse.Code, "err", ev.End.Err)
		o.s.metrics.callEnded(r)
		return true
	}
	return false
}

// endUnsent ends a call for which no INVITE was sent (refused by its directions, or by the
// engine), with our own cause and pseudo-response, so that it has a record and an event
// history like any other call.
func (o *callObserver) endUnsent(cause telephony.Cause, last telephony.Status, err error) {
	now := o.s.cfg.Now()
	o.Observe(sipengine.Event{Kind: sipengine.EventState, At: now, From: o.rec.State, To: telephony.StateEnded})
	o.Observe(sipengine.Event{Kind: sipengine.EventEnded, At: now, End: sipengine.End{
		Termination:  telephony.Termination{Party: cause.Party(), Cause: cause},
		LastResponse: last,
		Err:          err,
	}})
}
