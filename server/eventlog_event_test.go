package server

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ccplane/telephony"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/sipengine"
)

// The protos a watcher gets are those the log stored before events were compacted: every
// field set as it was, down to an empty Duration.
func TestLogEventToProto(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 5, 123456789, time.UTC)
	ts := timestamppb.New(at)
	since := 5*time.Second + 1234
	q850 := &telephony.Reason{Protocol: "Q.850", Cause: 16, Text: "Normal call clearing"}
	pq850 := &telephonyv1.SipReason{Protocol: "Q.850", Cause: 16, Text: "Normal call clearing"}
	const sdp = "v=0\r\nm=audio 4000 RTP/AVP 0\r\n"
	final := &telephony.Call{
		ID:           "call-1",
		RequestID:    "req-1",
		Gateway:      "gw",
		From:         "100",
		To:           "15550100200",
		Labels:       map[string]string{"team": "a"},
		SIPCallID:    "sip-1",
		State:        telephony.StateEnded,
		LastResponse: telephony.Status{Code: 200, Reason: "OK"},
		Termination: telephony.Termination{
			Party: telephony.PartyFinish, Cause: telephony.CauseRemoteHangup, Reason: q850,
		},
		SDPAnswer:    sdp,
		CreatedAt:    at.Add(-6 * time.Second),
		InviteSentAt: at.Add(-5 * time.Second),
		AnsweredAt:   at.Add(-time.Second),
		EndedAt:      at,
	}
	pfinal := &telephonyv1.Call{
		CallId:       "call-1",
		RequestId:    "req-1",
		Gateway:      "gw",
		From:         "100",
		To:           "15550100200",
		Labels:       map[string]string{"team": "a"},
		SipCallId:    "sip-1",
		State:        telephonyv1.CallState_CALL_STATE_ENDED,
		LastResponse: &telephonyv1.SipStatus{Code: 200, Reason: "OK"},
		SdpAnswer:    sdp,
		CreatedAt:    timestamppb.New(at.Add(-6 * time.Second)),
		InviteSentAt: timestamppb.New(at.Add(-5 * time.Second)),
		AnsweredAt:   timestamppb.New(at.Add(-time.Second)),
		EndedAt:      ts,
		Termination: &telephonyv1.Termination{
			Party:  telephonyv1.TerminationParty_TERMINATION_PARTY_FINISH,
			Cause:  telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_HANGUP,
			Reason: pq850,
		},
	}
	tests := []struct {
		name string
		ev   sipengine.Event
		want *telephonyv1.CallEvent // without call id, sequence and time
	}{
		{
			name: "INVITE sent",
			ev:   sipengine.Event{Kind: sipengine.EventRequest, At: at, Method: "INVITE"},
			want: &telephonyv1.CallEvent{
				Kind: &telephonyv1.CallEvent_Request{Request: &telephonyv1.SipRequestEvent{
					Method:      "INVITE",
					Direction:   telephonyv1.MessageDirection_MESSAGE_DIRECTION_SENT,
					SinceInvite: &durationpb.Duration{},
				}},
			},
		},
		{
			name: "BYE received with Reason",
			ev: sipengine.Event{Kind: sipengine.EventRequest, At: at, SinceInvite: since,
				Method: "BYE", Received: true, Reason: q850},
			want: &telephonyv1.CallEvent{
				Kind: &telephonyv1.CallEvent_Request{Request: &telephonyv1.SipRequestEvent{
					Method:      "BYE",
					Direction:   telephonyv1.MessageDirection_MESSAGE_DIRECTION_RECEIVED,
					SinceInvite: durationpb.New(since),
					Reason:      pq850,
				}},
			},
		},
		{
			name: "200 with SDP",
			ev: sipengine.Event{Kind: sipengine.EventResponse, At: at, SinceInvite: since,
				Method: "INVITE", Status: telephony.Status{Code: 200, Reason: "OK"}, SDP: sdp},
			want: &telephonyv1.CallEvent{
				Kind: &telephonyv1.CallEvent_Response{Response: &telephonyv1.SipResponseEvent{
					Status:      &telephonyv1.SipStatus{Code: 200, Reason: "OK"},
					CseqMethod:  "INVITE",
					SinceInvite: durationpb.New(since),
					Sdp:         sdp,
				}},
			},
		},
		{
			name: "486 with Reason",
			ev: sipengine.Event{Kind: sipengine.EventResponse, At: at, SinceInvite: since,
				Method: "INVITE", Status: telephony.Status{Code: 486, Reason: "Busy Here"}, Reason: q850},
			want: &telephonyv1.CallEvent{
				Kind: &telephonyv1.CallEvent_Response{Response: &telephonyv1.SipResponseEvent{
					Status:      &telephonyv1.SipStatus{Code: 486, Reason: "Busy Here"},
					CseqMethod:  "INVITE",
					SinceInvite: durationpb.New(since),
					Reason:      pq850,
				}},
			},
		},
		{
			name: "state change",
			ev: sipengine.Event{Kind: sipengine.EventState, At: at, SinceInvite: since,
				From: telephony.StateRinging, To: telephony.StateAnswered},
			want: &telephonyv1.CallEvent{
				Kind: &telephonyv1.CallEvent_StateChanged{StateChanged: &telephonyv1.StateChangedEvent{
					From: telephonyv1.CallState_CALL_STATE_RINGING,
					To:   telephonyv1.CallState_CALL_STATE_ANSWERED,
				}},
			},
		},
		{
			name: "ended",
			ev:   sipengine.Event{Kind: sipengine.EventEnded, At: at, SinceInvite: since},
			want: &telephonyv1.CallEvent{
				Kind: &telephonyv1.CallEvent_Ended{Ended: &telephonyv1.CallEndedEvent{
					Termination: pfinal.Termination,
					Call:        pfinal,
				}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newLogEvent(tc.ev, final)
			got := e.toProto("call-1", 7)
			want := tc.want
			want.CallId, want.Sequence, want.Time = "call-1", 7, ts
			if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
				t.Errorf("proto (-want +got):\n%s", diff)
			}
		})
	}
	// The publisher and the watchers build event after event in one eventMessage: nothing of
	// one event may stay for the next, whichever kinds follow each other.
	var m eventMessage
	for i := range 2 * len(tests) {
		tc := tests[i%len(tests)]
		if i >= len(tests) {
			tc = tests[2*len(tests)-1-i]
		}
		e := newLogEvent(tc.ev, final)
		if diff := cmp.Diff(tc.want, m.build(&e, "call-1", 7), protocmp.Transform()); diff != "" {
			t.Errorf("%s built after another event (-want +got):\n%s", tc.name, diff)
		}
	}
}

// The ended event keeps the record as it was when the call ended.
func TestLogEventEndedCopiesRecord(t *testing.T) {
	final := &telephony.Call{
		ID:     "call-1",
		State:  telephony.StateEnded,
		Labels: map[string]string{"team": "a"},
		Termination: telephony.Termination{
			Party:  telephony.PartyKill,
			Cause:  telephony.CauseHangupRequested,
			Reason: &telephony.Reason{Protocol: "SIP", Cause: 200},
		},
	}
	e := newLogEvent(sipengine.Event{Kind: sipengine.EventEnded, At: testStart}, final)
	want := e.toProto("call-1", 1)
	final.Labels["team"] = "b"
	final.Termination.Reason.Cause = 487
	final.State = telephony.StateAnswered
	if diff := cmp.Diff(want, e.toProto("call-1", 1), protocmp.Transform()); diff != "" {
		t.Errorf("ended event after the record changed (-before +after):\n%s", diff)
	}
}
