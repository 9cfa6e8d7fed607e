package server

import (
	"sync"
	"time"
	"unique"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ccplane/telephony"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/sipengine"
)

// logEvent is an event as a log keeps it; a watcher builds the CallEvent it sends from it in
// an eventMessage, as the publisher does. An idle answered call keeps its history for as
// long as it lasts, so the form matters: with its events as protobuf messages (event,
// timestamp, oneof wrapper, SIP event, status, duration) a call's log held about 2.8 KiB;
// with 40-byte values in its slice and no pointer per event but the rare detail, about
// 0.5 KiB (BenchmarkEventLogHistory).
type logEvent struct {
	at          int64 // unix nanoseconds (years 1678 to 2262); 0 while unset (see eventLog.append)
	sinceInvite time.Duration
	// msg is interned: a few methods and statuses recur in every call, and an 8-byte handle
	// does not keep alive the parsed message that the engine's strings are cut from.
	msg      unique.Handle[message] // requests and responses only
	detail   *eventDetail           // nil when the event has none of its fields
	kind     int8                   // sipengine.EventKind
	received bool
	from, to int8 // telephony.State of an EventState
}

// message is what a request or response event says about its SIP message.
type message struct {
	method string           // a request's method, a response's CSeq method
	status telephony.Status // responses only
}

// eventDetail holds the fields that few events have.
type eventDetail struct {
	sdp    string            // shared with the record's SDPAnswer
	reason *telephony.Reason // as the engine made it; nobody modifies it
	final  *telephony.Call   // EventEnded: a copy of the record as the call ended
}

// newLogEvent compacts an engine event; EventEnded needs the final record, given as final. It
// is copied, so that the event shows the call as it ended whatever happens to the record.
// A zero ev.At leaves the event's time unset.
func newLogEvent(ev sipengine.Event, final *telephony.Call) logEvent {
	e := logEvent{sinceInvite: ev.SinceInvite, kind: int8(ev.Kind)}
	if !ev.At.IsZero() {
		e.at = ev.At.UnixNano()
	}
	var d eventDetail
	switch ev.Kind {
	case sipengine.EventRequest:
		e.msg = unique.Make(message{method: ev.Method})
		e.received = ev.Received
		d.reason = ev.Reason
	case sipengine.EventResponse:
		e.msg = unique.Make(message{method: ev.Method, status: ev.Status})
		d.sdp, d.reason = ev.SDP, ev.Reason
	case sipengine.EventState:
		e.from, e.to = int8(ev.From), int8(ev.To)
	case sipengine.EventEnded:
		d.final = final.Clone()
	}
	if d != (eventDetail{}) {
		e.detail = new(d)
	}
	return e
}

// toProto builds the CallEvent of e, the event of sequence seq in the log of callID.
func (e *logEvent) toProto(callID string, seq uint64) *telephonyv1.CallEvent {
	return new(eventMessage).build(e, callID, seq)
}

// eventMessage holds a CallEvent and every message under it that a request, response or
// state change needs, in one allocation, to build event after event in: each is encoded
// before the next is built. The publisher keeps one; watchers take one from eventMessages
// for each event they send (one per watcher would add half a kilobyte to every idle call).
type eventMessage struct {
	event    telephonyv1.CallEvent
	time     timestamppb.Timestamp
	since    durationpb.Duration
	status   telephonyv1.SipStatus
	request  telephonyv1.SipRequestEvent
	response telephonyv1.SipResponseEvent
	state    telephonyv1.StateChangedEvent
	// The oneof wrappers hold nothing but a pointer; they are set anew each time.
	asRequest  telephonyv1.CallEvent_Request
	asResponse telephonyv1.CallEvent_Response
	asState    telephonyv1.CallEvent_StateChanged
}

// eventMessages are the watchers' eventMessages.
var eventMessages = sync.Pool{New: func() any { return new(eventMessage) }}

// build makes m's CallEvent the one of e, the event of sequence seq in the log of callID,
// and returns it. What m held before is overwritten.
func (m *eventMessage) build(e *logEvent, callID string, seq uint64) *telephonyv1.CallEvent {
	at := time.Unix(0, e.at)
	m.time.Reset()
	m.time.Seconds, m.time.Nanos = at.Unix(), int32(at.Nanosecond())
	m.since.Reset()
	m.since.Seconds, m.since.Nanos = int64(e.sinceInvite/time.Second), int32(e.sinceInvite%time.Second)
	pe := &m.event
	pe.Reset()
	pe.CallId, pe.Sequence, pe.Time = callID, seq, &m.time
	var d eventDetail
	if e.detail != nil {
		d = *e.detail
	}
	switch sipengine.EventKind(e.kind) {
	case sipengine.EventRequest:
		dir := telephonyv1.MessageDirection_MESSAGE_DIRECTION_SENT
		if e.received {
			dir = telephonyv1.MessageDirection_MESSAGE_DIRECTION_RECEIVED
		}
		r := &m.request
		r.Reset()
		r.Method, r.Direction, r.SinceInvite, r.Reason = e.msg.Value().method, dir, &m.since, reasonToProto(d.reason)
		m.asRequest.Request = r
		pe.Kind = &m.asRequest
	case sipengine.EventResponse:
		msg := e.msg.Value()
		m.status.Reset()
		m.status.Code, m.status.Reason = int32(msg.status.Code), msg.status.Reason
		r := &m.response
		r.Reset()
		r.Status, r.CseqMethod, r.SinceInvite, r.Sdp, r.Reason = &m.status, msg.method, &m.since, d.sdp, reasonToProto(d.reason)
		m.asResponse.Response = r
		pe.Kind = &m.asResponse
	case sipengine.EventState:
		st := &m.state
		st.Reset()
		st.From, st.To = telephonyv1.CallState(e.from), telephonyv1.CallState(e.to)
		m.asState.StateChanged = st
		pe.Kind = &m.asState
	case sipengine.EventEnded:
		pe.Kind = &telephonyv1.CallEvent_Ended{Ended: &telephonyv1.CallEndedEvent{
			Termination: terminationToProto(d.final.Termination), Call: callToProto(d.final),
		}}
	}
	return pe
}
