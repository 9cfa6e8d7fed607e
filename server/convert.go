package server

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ccplane/telephony"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/sipengine"
)

// The domain enums are numbered like their proto twins (convert_test.go holds them to it),
// so conversion is a cast.

func callToProto(c *telephony.Call) *telephonyv1.Call {
	pc := &telephonyv1.Call{
		CallId:       c.ID,
		RequestId:    c.RequestID,
		Gateway:      c.Gateway,
		From:         c.From,
		To:           c.To,
		Labels:       c.Labels,
		SipCallId:    c.SIPCallID,
		State:        telephonyv1.CallState(c.State),
		LastResponse: statusToProto(c.LastResponse),
		SdpAnswer:    c.SDPAnswer,
		CreatedAt:    timeToProto(c.CreatedAt),
		InviteSentAt: timeToProto(c.InviteSentAt),
		ProgressAt:   timeToProto(c.ProgressAt),
		AnsweredAt:   timeToProto(c.AnsweredAt),
		EndedAt:      timeToProto(c.EndedAt),
	}
	if c.Termination.Ended() {
		pc.Termination = terminationToProto(c.Termination)
	}
	return pc
}

func terminationToProto(t telephony.Termination) *telephonyv1.Termination {
	return &telephonyv1.Termination{
		Party:  telephonyv1.TerminationParty(t.Party),
		Cause:  telephonyv1.TerminationCause(t.Cause),
		Reason: reasonToProto(t.Reason),
	}
}

func statusToProto(s telephony.Status) *telephonyv1.SipStatus {
	return &telephonyv1.SipStatus{Code: int32(s.Code), Reason: s.Reason}
}

func reasonToProto(r *telephony.Reason) *telephonyv1.SipReason {
	if r == nil {
		return nil
	}
	return &telephonyv1.SipReason{Protocol: r.Protocol, Cause: int32(r.Cause), Text: r.Text}
}

func timeToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// eventToProto converts an engine event; EventEnded needs the final record, given as final.
func eventToProto(ev sipengine.Event, final *telephony.Call) *telephonyv1.CallEvent {
	pe := &telephonyv1.CallEvent{Time: timestamppb.New(ev.At)}
	switch ev.Kind {
	case sipengine.EventRequest:
		dir := telephonyv1.MessageDirection_MESSAGE_DIRECTION_SENT
		if ev.Received {
			dir = telephonyv1.MessageDirection_MESSAGE_DIRECTION_RECEIVED
		}
		pe.Kind = &telephonyv1.CallEvent_Request{Request: &telephonyv1.SipRequestEvent{
			Method: ev.Method, Direction: dir, SinceInvite: durationpb.New(ev.SinceInvite),
			Reason: reasonToProto(ev.Reason),
		}}
	case sipengine.EventResponse:
		pe.Kind = &telephonyv1.CallEvent_Response{Response: &telephonyv1.SipResponseEvent{
			Status: statusToProto(ev.Status), CseqMethod: ev.Method,
			SinceInvite: durationpb.New(ev.SinceInvite), Sdp: ev.SDP, Reason: reasonToProto(ev.Reason),
		}}
	case sipengine.EventState:
		pe.Kind = &telephonyv1.CallEvent_StateChanged{StateChanged: &telephonyv1.StateChangedEvent{
			From: telephonyv1.CallState(ev.From), To: telephonyv1.CallState(ev.To),
		}}
	case sipengine.EventEnded:
		pe.Kind = &telephonyv1.CallEvent_Ended{Ended: &telephonyv1.CallEndedEvent{
			Termination: terminationToProto(final.Termination), Call: callToProto(final),
		}}
	}
	return pe
}
