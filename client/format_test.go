package client

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(t0.Add(d)) }

func request(seq uint64, d time.Duration, dir telephonyv1.MessageDirection, method string, reason *telephonyv1.SipReason) *telephonyv1.CallEvent {
	return &telephonyv1.CallEvent{CallId: "c1", Sequence: seq, Time: at(d), Kind: &telephonyv1.CallEvent_Request{
		Request: &telephonyv1.SipRequestEvent{Method: method, Direction: dir, SinceInvite: durationpb.New(d), Reason: reason},
	}}
}

func response(seq uint64, d time.Duration, code int32, phrase, cseq, sdp string) *telephonyv1.CallEvent {
	return &telephonyv1.CallEvent{CallId: "c1", Sequence: seq, Time: at(d), Kind: &telephonyv1.CallEvent_Response{
		Response: &telephonyv1.SipResponseEvent{
			Status: &telephonyv1.SipStatus{Code: code, Reason: phrase}, CseqMethod: cseq,
			SinceInvite: durationpb.New(d), Sdp: sdp,
		},
	}}
}

func stateChanged(seq uint64, d time.Duration, from, to telephonyv1.CallState) *telephonyv1.CallEvent {
	return &telephonyv1.CallEvent{CallId: "c1", Sequence: seq, Time: at(d), Kind: &telephonyv1.CallEvent_StateChanged{
		StateChanged: &telephonyv1.StateChangedEvent{From: from, To: to},
	}}
}

func ended(seq uint64, d time.Duration, call *telephonyv1.Call) *telephonyv1.CallEvent {
	return &telephonyv1.CallEvent{CallId: "c1", Sequence: seq, Time: at(d), Kind: &telephonyv1.CallEvent_Ended{
		Ended: &telephonyv1.CallEndedEvent{Termination: call.GetTermination(), Call: call},
	}}
}

const (
	sent     = telephonyv1.MessageDirection_MESSAGE_DIRECTION_SENT
	received = telephonyv1.MessageDirection_MESSAGE_DIRECTION_RECEIVED
)

// answeredCall is a call that was answered and then hung up by us.
func answeredCall() *telephonyv1.Call {
	return &telephonyv1.Call{
		CallId:       "0b6f7c1e-5d0a-4f7e-9d59-1c2f3a4b5c6d",
		Gateway:      "carrier-a",
		From:         "15550001111",
		To:           "4930123456",
		Labels:       map[string]string{"campaign": "spring", "agent_id": "7"},
		SipCallId:    "a84b4c76e66710@10.0.0.1",
		State:        telephonyv1.CallState_CALL_STATE_ENDED,
		LastResponse: &telephonyv1.SipStatus{Code: 200, Reason: "OK"},
		Termination: &telephonyv1.Termination{
			Party: telephonyv1.TerminationParty_TERMINATION_PARTY_KILL,
			Cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_HANGUP_REQUESTED,
		},
		CreatedAt:    at(-12 * time.Millisecond),
		InviteSentAt: at(0),
		ProgressAt:   at(310 * time.Millisecond),
		AnsweredAt:   at(2100 * time.Millisecond),
		EndedAt:      at(2320 * time.Millisecond),
		RequestId:    "req-1",
	}
}

func TestEventFormatter(t *testing.T) {
	const (
		dialing  = telephonyv1.CallState_CALL_STATE_DIALING
		trying   = telephonyv1.CallState_CALL_STATE_TRYING
		ringing  = telephonyv1.CallState_CALL_STATE_RINGING
		answered = telephonyv1.CallState_CALL_STATE_ANSWERED
		over     = telephonyv1.CallState_CALL_STATE_ENDED
	)
	events := []*telephonyv1.CallEvent{
		request(1, 0, sent, "INVITE", nil),
		response(2, 4*time.Millisecond, 100, "Trying", "INVITE", ""),
		stateChanged(3, 4*time.Millisecond, dialing, trying),
		response(4, 310*time.Millisecond, 180, "Ringing", "INVITE", ""),
		stateChanged(5, 310*time.Millisecond, trying, ringing),
		response(6, 2100*time.Millisecond, 200, "OK", "INVITE", "v=0\r\n"),
		stateChanged(7, 2101*time.Millisecond, ringing, answered),
		request(8, 2300*time.Millisecond, sent, "BYE", nil),
		ended(9, 2320*time.Millisecond, answeredCall()),
		response(10, 2319*time.Millisecond, 200, "OK", "BYE", ""),
		stateChanged(11, 2320*time.Millisecond, answered, over),
	}
	want := []string{
		"  #1  +0.000s  → INVITE",
		"  #2  +0.004s  ← 100 Trying",
		"  #3  +0.004s  state dialing → trying",
		"  #4  +0.310s  ← 180 Ringing",
		"  #5  +0.310s  state trying → ringing",
		"  #6  +2.100s  ← 200 OK (with SDP)",
		"  #7  +2.101s  state ringing → answered",
		"  #8  +2.300s  → BYE",
		"  #9  +2.320s  ended: kill / hangup_requested, last 200 OK",
		"  #10 +2.319s  ← 200 OK (to BYE)",
		"  #11 +2.320s  state answered → ended",
	}
	var f EventFormatter
	for i, ev := range events {
		if got := f.Format(ev); got != want[i] {
			t.Errorf("event %d:\n got %q\nwant %q", ev.GetSequence(), got, want[i])
		}
	}
}

func TestEventFormatterOther(t *testing.T) {
	q850 := &telephonyv1.SipReason{Protocol: "Q.850", Cause: 16, Text: "Normal call clearing"}
	busy := &telephonyv1.Call{
		LastResponse: &telephonyv1.SipStatus{Code: 486, Reason: "Busy Here"},
		Termination: &telephonyv1.Termination{
			Party:  telephonyv1.TerminationParty_TERMINATION_PARTY_FINISH,
			Cause:  telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_REJECTED,
			Reason: &telephonyv1.SipReason{Protocol: "Q.850", Cause: 17},
		},
	}
	blocked := &telephonyv1.Call{
		LastResponse: &telephonyv1.SipStatus{Code: 900, Reason: "Direction blocked"},
		Termination: &telephonyv1.Termination{
			Party: telephonyv1.TerminationParty_TERMINATION_PARTY_KILL,
			Cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_DIRECTION_BLOCKED,
		},
	}
	transport := &telephonyv1.Call{
		Termination: &telephonyv1.Termination{
			Party: telephonyv1.TerminationParty_TERMINATION_PARTY_KILL,
			Cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_TRANSPORT_ERROR,
		},
	}
	tests := []struct {
		name string
		ev   *telephonyv1.CallEvent
		want string
	}{
		{
			name: "remote BYE with a Q.850 cause",
			ev:   request(12, 95*time.Second, received, "BYE", q850),
			want: `  #12 +95.000s  ← BYE (Q.850 cause 16 "Normal call clearing")`,
		},
		{
			name: "487 answering our CANCEL",
			ev:   response(6, 30*time.Second, 487, "Request Terminated", "INVITE", ""),
			want: "  #6  +30.000s  ← 487 Request Terminated",
		},
		{
			name: "183 with early media",
			ev:   response(4, 250*time.Millisecond, 183, "Session Progress", "INVITE", "v=0"),
			want: "  #4  +0.250s  ← 183 Session Progress (with SDP)",
		},
		{
			name: "rejected by the provider",
			ev:   ended(7, 0, busy),
			want: "  #7  +0.000s  ended: finish / remote_rejected, Q.850 cause 17, last 486 Busy Here",
		},
		{
			name: "blocked before dialling",
			ev:   ended(2, 0, blocked),
			want: "  #2  +0.000s  ended: kill / direction_blocked, last 900 Direction blocked",
		},
		{
			name: "no response at all",
			ev:   ended(3, 0, transport),
			want: "  #3  +0.000s  ended: kill / transport_error, no response",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f EventFormatter
			if got := f.Format(tc.ev); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// A watch resumed after the INVITE still measures state changes from the INVITE.
func TestEventFormatterResumed(t *testing.T) {
	var f EventFormatter
	got := []string{
		f.Format(stateChanged(5, 310*time.Millisecond, telephonyv1.CallState_CALL_STATE_TRYING, telephonyv1.CallState_CALL_STATE_RINGING)),
		f.Format(response(6, 2100*time.Millisecond, 200, "OK", "INVITE", "")),
		f.Format(stateChanged(7, 2101*time.Millisecond, telephonyv1.CallState_CALL_STATE_RINGING, telephonyv1.CallState_CALL_STATE_ANSWERED)),
	}
	want := []string{
		"  #5  +0.000s  state trying → ringing",
		"  #6  +2.100s  ← 200 OK",
		"  #7  +2.101s  state ringing → answered",
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
}

func TestFormatCall(t *testing.T) {
	now := t0.Add(5*time.Minute + 3*time.Second)
	tests := []struct {
		name string
		call *telephonyv1.Call
		want string
	}{
		{
			name: "answered and hung up",
			call: answeredCall(),
			want: `call         0b6f7c1e-5d0a-4f7e-9d59-1c2f3a4b5c6d
gateway      carrier-a
from → to    15550001111 → 4930123456
state        ended
response     200 OK
termination  kill / hangup_requested
created      2026-03-01 09:59:59.988 UTC (5m3s ago)
invite sent  +0.012s after created
post-dial    0.310s
answered     +2.100s after INVITE
ended        +2.320s after INVITE (talk 0.220s)
labels       agent_id=7 campaign=spring
sip call-id  a84b4c76e66710@10.0.0.1
request id   req-1
`,
		},
		{
			name: "ringing, no answer yet",
			call: &telephonyv1.Call{
				CallId: "c2", Gateway: "carrier-b", To: "4930123456",
				State:        telephonyv1.CallState_CALL_STATE_RINGING,
				LastResponse: &telephonyv1.SipStatus{Code: 180, Reason: "Ringing"},
				CreatedAt:    at(0), InviteSentAt: at(2 * time.Millisecond), ProgressAt: at(1500 * time.Millisecond),
			},
			want: `call         c2
gateway      carrier-b
from → to    (gateway default) → 4930123456
state        ringing
response     180 Ringing
created      2026-03-01 10:00:00.000 UTC (5m3s ago)
invite sent  +0.002s after created
post-dial    1.498s
`,
		},
		{
			name: "blocked before dialling",
			call: &telephonyv1.Call{
				CallId: "c3", Gateway: "carrier-a", From: "15550001111", To: "88812345",
				State:        telephonyv1.CallState_CALL_STATE_ENDED,
				LastResponse: &telephonyv1.SipStatus{Code: 900, Reason: "Direction blocked"},
				Termination: &telephonyv1.Termination{
					Party: telephonyv1.TerminationParty_TERMINATION_PARTY_KILL,
					Cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_DIRECTION_BLOCKED,
				},
				CreatedAt: at(0), EndedAt: at(time.Millisecond),
			},
			want: `call         c3
gateway      carrier-a
from → to    15550001111 → 88812345
state        ended
response     900 Direction blocked
termination  kill / direction_blocked
created      2026-03-01 10:00:00.000 UTC (5m3s ago)
ended        +0.001s after created
`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := FormatCall(tc.call, now); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestFormatCallTable(t *testing.T) {
	now := t0.Add(3 * time.Hour)
	ringing := &telephonyv1.Call{
		CallId: "c2", Gateway: "carrier-b", To: "4930123456",
		State:        telephonyv1.CallState_CALL_STATE_RINGING,
		LastResponse: &telephonyv1.SipStatus{Code: 180, Reason: "Ringing"},
		CreatedAt:    at(3*time.Hour - 42*time.Second),
	}
	got := FormatCallTable([]*telephonyv1.Call{ringing, answeredCall()}, now)
	want := strings.Join([]string{
		"CALL ID                               GATEWAY    FROM         TO          STATE    LAST         END                    AGE   TALK",
		"c2                                    carrier-b  -            4930123456  ringing  180 Ringing  -                      42s   -",
		"0b6f7c1e-5d0a-4f7e-9d59-1c2f3a4b5c6d  carrier-a  15550001111  4930123456  ended    200 OK       kill/hangup_requested  3h0m  0s",
		"",
	}, "\n")
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestShortDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{d: 0, want: "0s"},
		{d: 42*time.Second + 400*time.Millisecond, want: "42s"},
		{d: 5*time.Minute + 3*time.Second, want: "5m3s"},
		{d: 2*time.Hour + 5*time.Minute + 10*time.Second, want: "2h5m"},
		{d: 76 * time.Hour, want: "3d4h"},
		{d: -2 * time.Second, want: "-2s"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := shortDuration(tc.d); got != tc.want {
				t.Errorf("shortDuration(%v): got %q, want %q", tc.d, got, tc.want)
			}
		})
	}
}

func TestFormatRule(t *testing.T) {
	tests := []struct {
		name string
		rule *telephonyv1.DirectionRule
		want string
	}{
		{name: "deny", rule: rule("7809", deny), want: "7809 deny"},
		{name: "allow", rule: rule("7", allow), want: "7 allow"},
		{name: "empty prefix", rule: rule("", allow), want: "(any) allow"},
		{name: "unspecified action", rule: rule("1", telephonyv1.DirectionAction_DIRECTION_ACTION_UNSPECIFIED), want: "1 unspecified"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := FormatRule(tc.rule); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFormatRuleTable(t *testing.T) {
	got := FormatRuleTable([]*telephonyv1.DirectionRule{rule("", deny), rule("7", allow), rule("78091234", deny)})
	want := strings.Join([]string{
		"PREFIX    ACTION",
		"(any)     deny",
		"7         allow",
		"78091234  deny",
		"",
	}, "\n")
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if got, want := FormatRuleTable(nil), "PREFIX  ACTION\n"; got != want {
		t.Errorf("no rules: got %q, want %q", got, want)
	}
}

func TestFormatVerdict(t *testing.T) {
	tests := []struct {
		name string
		resp *telephonyv1.CheckDirectionResponse
		want string
	}{
		{
			name: "allowed",
			resp: &telephonyv1.CheckDirectionResponse{Allowed: true, NormalizedNumber: "79161234567", MatchedRule: rule("7", allow)},
			want: "allowed by 7 allow",
		},
		{
			name: "blocked by a rule",
			resp: &telephonyv1.CheckDirectionResponse{NormalizedNumber: "78091234567", MatchedRule: rule("7809", deny)},
			want: "blocked by 7809 deny",
		},
		{
			name: "blocked by the empty prefix",
			resp: &telephonyv1.CheckDirectionResponse{NormalizedNumber: "4930123456", MatchedRule: rule("", deny)},
			want: "blocked by (any) deny",
		},
		{
			name: "no rule matches",
			resp: &telephonyv1.CheckDirectionResponse{NormalizedNumber: "4930123456"},
			want: "blocked: no rule matches",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := FormatVerdict(tc.resp); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
