package server

import (
	"time"
	"unique"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ccplane/telephony"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/sipengine"
)

// logEvent is an event as a log keeps it; each watcher builds its own CallEvent from it with
// toProto. An idle answered call keeps its history for as long as it lasts, so the form
// matters: with its events as protobuf messages (event, timestamp, oneof wrapper, SIP event,
// status, duration) a call's log held about 2.8 KiB; with 40-byte values in its slice and no
// pointer per event but the rare detail, about 0.5 KiB (BenchmarkEventLogHistory).
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
	pe := &telephonyv1.CallEvent{CallId: callID, Sequence: seq, Time: timestamppb.New(time.Unix(0, e.at))}
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
		pe.Kind = &telephonyv1.CallEvent_Request{Request: &telephonyv1.SipRequestEvent{
			Method: e.msg.Value().method, Direction: dir, SinceInvite: durationpb.New(e.sinceInvite),
			Reason: reasonToProto(d.reason),
		}}
	case sipengine.EventResponse:
		m := e.msg.Value()
		pe.Kind = &telephonyv1.CallEvent_Response{Response: &telephonyv1.SipResponseEvent{
			Status: statusToProto(m.status), CseqMethod: m.method,
			SinceInvite: durationpb.New(e.sinceInvite), Sdp: d.sdp, Reason: reasonToProto(d.reason),
		}}
	case sipengine.EventState:
		pe.Kind = &telephonyv1.CallEvent_StateChanged{StateChanged: &telephonyv1.StateChangedEvent{
			From: telephonyv1.CallState(e.from), To: telephonyv1.CallState(e.to),
		}}
	case sipengine.EventEnded:
		pe.Kind = &telephonyv1.CallEvent_Ended{Ended: &telephonyv1.CallEndedEvent{
			Termination: terminationToProto(d.final.Termination), Call: callToProto(d.final),
		}}
	}
	return pe
}
