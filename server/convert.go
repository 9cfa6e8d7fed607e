package server

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ccplane/telephony"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
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
