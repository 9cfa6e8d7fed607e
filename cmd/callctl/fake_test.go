package main

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ccplane/telephony/client/clienttest"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

type streamServer = clienttest.StreamServer

// serve runs fake on a real gRPC server on a free loopback port and returns its address.
func serve(t *testing.T, fake *clienttest.Service) string { return clienttest.Serve(t, fake) }

// endedCall is the call the fake service hands out: answered, then hung up by us.
func endedCall() *telephonyv1.Call {
	ts := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(t0.Add(d)) }
	return &telephonyv1.Call{
		CallId:       "0b6f7c1e-5d0a-4f7e-9d59-1c2f3a4b5c6d",
		Gateway:      "carrier-a",
		From:         "15550001111",
		To:           "4930123456",
		State:        telephonyv1.CallState_CALL_STATE_ENDED,
		LastResponse: &telephonyv1.SipStatus{Code: 200, Reason: "OK"},
		Termination: &telephonyv1.Termination{
			Party: telephonyv1.TerminationParty_TERMINATION_PARTY_KILL,
			Cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_HANGUP_REQUESTED,
		},
		CreatedAt:    ts(0),
		InviteSentAt: ts(10 * time.Millisecond),
		AnsweredAt:   ts(2 * time.Second),
		EndedAt:      ts(3 * time.Second),
	}
}

// sipRequest and sipResponse build the events the fake service streams; times are t0, which
// the tests do not look at.
func sipRequest(seq uint64, method string) *telephonyv1.CallEvent {
	return &telephonyv1.CallEvent{CallId: endedCall().GetCallId(), Sequence: seq, Time: timestamppb.New(t0),
		Kind: &telephonyv1.CallEvent_Request{Request: &telephonyv1.SipRequestEvent{
			Method: method, Direction: telephonyv1.MessageDirection_MESSAGE_DIRECTION_SENT}}}
}

func sipResponse(seq uint64, code int32, reason string) *telephonyv1.CallEvent {
	return &telephonyv1.CallEvent{CallId: endedCall().GetCallId(), Sequence: seq, Time: timestamppb.New(t0),
		Kind: &telephonyv1.CallEvent_Response{Response: &telephonyv1.SipResponseEvent{
			Status: &telephonyv1.SipStatus{Code: code, Reason: reason}, CseqMethod: "INVITE"}}}
}
