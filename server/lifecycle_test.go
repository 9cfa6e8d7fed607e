package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ccplane/telephony/internal/testenv"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/sipengine"
)

// action is what the test does while a call runs: it sees every event as the watcher gets it.
type action func(t *testing.T, c telephonyv1.CallServiceClient, ev *telephonyv1.CallEvent)

// hangUpOn hangs the call up when it reaches state.
func hangUpOn(state telephonyv1.CallState) action {
	return func(t *testing.T, c telephonyv1.CallServiceClient, ev *telephonyv1.CallEvent) {
		if ev.GetStateChanged().GetTo() != state {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := c.HangUp(ctx, &telephonyv1.HangUpRequest{CallId: ev.GetCallId()})
		if err != nil {
			t.Errorf("HangUp: %v", err)
			return
		}
		// HangUp answers once the call has ended, also when the provider never confirms.
		if got := res.GetCall().GetState(); got != telephonyv1.CallState_CALL_STATE_ENDED {
			t.Errorf("HangUp returned a call in state %v, want ENDED", got)
		}
	}
}

var (
	ringing   = []string{"> INVITE", "< 100 INVITE", "state trying", "< 180 INVITE", "state ringing"}
	answered  = append(append([]string{}, ringing...), "< 200 INVITE", "> ACK", "state answered")
	ourBye    = []string{"> BYE", "< 200 BYE", "state ended"}
	cancelled = []string{"> CANCEL", "< 200 CANCEL", "< 487 INVITE", "state ended"}
)

func seq(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func rejectedWith(code string) []string {
	return []string{"> INVITE", "< 100 INVITE", "state trying", "< " + code + " INVITE", "state ended",
		"ended finish remote_rejected " + code}
}

// TestCallLifecycle places one call per provider behaviour against a SIPp UAS and asserts,
// through the gRPC API, the exact event history a watcher sees and the final call record. Each
// SIPp run must also exit 0: it saw every ACK, CANCEL and BYE it expected.
func TestCallLifecycle(t *testing.T) {
	type want struct {
		party    telephonyv1.TerminationParty
		cause    telephonyv1.TerminationCause
		last     int32
		q850     int32 // Reason header cause recorded with the termination; 0 = none
		answered bool
	}
	kill, finish := telephonyv1.TerminationParty_TERMINATION_PARTY_KILL, telephonyv1.TerminationParty_TERMINATION_PARTY_FINISH
	tests := []struct {
		name        string
		scenario    string
		keys        map[string]string
		transport   sipengine.Transport
		ringTimeout time.Duration
		maxDuration time.Duration
		setup       time.Duration
		act         action
		wantEvents  []string
		want        want
	}{
		{
			name: "answer then remote bye", scenario: "answer_remote_bye",
			wantEvents: seq(answered, []string{"< BYE", "state ended", "ended finish remote_hangup 200"}),
			want:       want{party: finish, cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_HANGUP, last: 200, q850: 16, answered: true},
		},
		{
			name: "answer then remote bye over tcp", scenario: "answer_remote_bye", transport: sipengine.TCP,
			wantEvents: seq(answered, []string{"< BYE", "state ended", "ended finish remote_hangup 200"}),
			want:       want{party: finish, cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_HANGUP, last: 200, q850: 16, answered: true},
		},
		{
			name: "answer then our hang-up", scenario: "answer_wait_bye",
			act:        hangUpOn(telephonyv1.CallState_CALL_STATE_ANSWERED),
			wantEvents: seq(answered, ourBye, []string{"ended kill hangup_requested 200"}),
			want:       want{party: kill, cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_HANGUP_REQUESTED, last: 200, answered: true},
		},
		{
			name: "max duration", scenario: "answer_wait_bye", maxDuration: time.Second,
			wantEvents: seq(answered, ourBye, []string{"ended kill max_duration 200"}),
			want:       want{party: kill, cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_MAX_DURATION, last: 200, answered: true},
		},
		{
			name: "ring timeout", scenario: "ring_forever", ringTimeout: 1500 * time.Millisecond,
			wantEvents: seq(ringing, cancelled, []string{"ended kill ring_timeout 180"}),
			want:       want{party: kill, cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_RING_TIMEOUT, last: 180},
		},
		{
			name: "ring timeout over tcp", scenario: "ring_forever", transport: sipengine.TCP, ringTimeout: 1500 * time.Millisecond,
			wantEvents: seq(ringing, cancelled, []string{"ended kill ring_timeout 180"}),
			want:       want{party: kill, cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_RING_TIMEOUT, last: 180},
		},
		{
			name: "hang-up while ringing", scenario: "ring_forever",
			act:        hangUpOn(telephonyv1.CallState_CALL_STATE_RINGING),
			wantEvents: seq(ringing, cancelled, []string{"ended kill hangup_requested 180"}),
			want:       want{party: kill, cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_HANGUP_REQUESTED, last: 180},
		},
		{
			name: "hang-up while ringing, provider deaf to cancel", scenario: "ring_deaf_to_cancel",
			act:        hangUpOn(telephonyv1.CallState_CALL_STATE_RINGING),
			wantEvents: seq(ringing, []string{"> CANCEL", "state ended", "ended kill hangup_requested 180"}),
			want:       want{party: kill, cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_HANGUP_REQUESTED, last: 180},
		},
		{
			name: "183 then 486", scenario: "progress_reject",
			keys: map[string]string{"code": "486", "reason": "Busy Here", "q850": "17"},
			wantEvents: []string{"> INVITE", "< 100 INVITE", "state trying", "< 183 INVITE", "state early_media",
				"< 486 INVITE", "state ended", "ended finish remote_rejected 486"},
			want: want{party: finish, cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_REJECTED, last: 486, q850: 17},
		},
		{
			name: "404", scenario: "reject", keys: map[string]string{"code": "404", "reason": "Not Found", "q850": "1"},
			wantEvents: rejectedWith("404"),
			want:       want{party: finish, cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_REJECTED, last: 404, q850: 1},
		},
		{
			name: "403", scenario: "reject", keys: map[string]string{"code": "403", "reason": "Forbidden", "q850": "21"},
			wantEvents: rejectedWith("403"),
			want:       want{party: finish, cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_REJECTED, last: 403, q850: 21},
		},
		{
			name: "480", scenario: "reject", keys: map[string]string{"code": "480", "reason": "Temporarily Unavailable", "q850": "18"},
			wantEvents: rejectedWith("480"),
			want:       want{party: finish, cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_REJECTED, last: 480, q850: 18},
		},
		{
			name: "503", scenario: "reject", keys: map[string]string{"code": "503", "reason": "Service Unavailable", "q850": "34"},
			wantEvents: rejectedWith("503"),
			want:       want{party: finish, cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_REJECTED, last: 503, q850: 34},
		},
		{
			name: "603", scenario: "reject", keys: map[string]string{"code": "603", "reason": "Decline", "q850": "21"},
			wantEvents: rejectedWith("603"),
			want:       want{party: finish, cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_REJECTED, last: 603, q850: 21},
		},
		{
			name: "407 challenge answered with credentials", scenario: "auth_407",
			act: hangUpOn(telephonyv1.CallState_CALL_STATE_ANSWERED),
			wantEvents: seq([]string{"> INVITE", "< 407 INVITE"}, answered, ourBye,
				[]string{"ended kill hangup_requested 200"}),
			want: want{party: kill, cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_HANGUP_REQUESTED, last: 200, answered: true},
		},
		{
			name: "provider never answers", scenario: "silence", setup: time.Second,
			wantEvents: []string{"> INVITE", "state ended", "ended kill setup_timeout 0"},
			want:       want{party: kill, cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_SETUP_TIMEOUT, last: 0},
		},
		{
			name: "200 crossing our cancel", scenario: "cancel_crossing_200",
			act: hangUpOn(telephonyv1.CallState_CALL_STATE_RINGING),
			wantEvents: seq(ringing, []string{"> CANCEL", "< 200 CANCEL", "< 200 INVITE", "> ACK", "state answered"},
				ourBye, []string{"ended kill hangup_requested 200"}),
			want: want{party: kill, cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_HANGUP_REQUESTED, last: 200, answered: true},
		},
		{
			name: "a dozen provisionals", scenario: "many_provisionals",
			act: hangUpOn(telephonyv1.CallState_CALL_STATE_ANSWERED),
			wantEvents: seq([]string{"> INVITE", "< 100 INVITE", "state trying"}, manyProvisionals(12),
				[]string{"< 200 INVITE", "> ACK", "state answered"}, ourBye, []string{"ended kill hangup_requested 200"}),
			want: want{party: kill, cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_HANGUP_REQUESTED, last: 200, answered: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			transport := tc.transport
			if transport == "" {
				transport = sipengine.UDP
			}
			uas := testenv.StartSIPp(t, tc.scenario, testenv.SIPpOptions{Transport: string(transport), Keys: tc.keys})
			st := startStack(t, stackConfig{setupTimeout: tc.setup, gateways: []sipengine.Gateway{{
				Name: "sipp", Address: uas.Addr(), Transport: transport, Username: "user", Password: "secret", FromUser: "15550001111",
			}}})
			req := &telephonyv1.PlaceCallRequest{Gateway: "sipp", To: "+1 555 0100 200", Labels: map[string]string{"agent_id": "7"}}
			if tc.ringTimeout > 0 {
				req.RingTimeout = durationpb.New(tc.ringTimeout)
			}
			if tc.maxDuration > 0 {
				req.MaxDuration = durationpb.New(tc.maxDuration)
			}
			placed, err := st.client.PlaceCall(context.Background(), req)
			if err != nil {
				t.Fatalf("PlaceCall: %v", err)
			}
			id := placed.GetCall().GetCallId()
			if got := placed.GetCall().GetInviteSentAt(); got == nil {
				t.Errorf("PlaceCall returned a call without invite_sent_at: the INVITE should be on its way")
			}
			evs, err := watch(t, st.client, id, 0, func(ev *telephonyv1.CallEvent) {
				if tc.act != nil {
					tc.act(t, st.client, ev)
				}
			})
			if err != nil {
				t.Fatalf("WatchCall ended with %v, want a clean end after `ended`", err)
			}
			if diff := cmp.Diff(tc.wantEvents, renderAll(evs)); diff != "" {
				t.Errorf("event history mismatch (-want +got):\n%s", diff)
			}
			checkNumbering(t, evs)

			got, err := st.client.GetCall(context.Background(), &telephonyv1.GetCallRequest{CallId: id})
			if err != nil {
				t.Fatalf("GetCall: %v", err)
			}
			c := got.GetCall()
			gotWant := want{
				party: c.GetTermination().GetParty(), cause: c.GetTermination().GetCause(),
				last: c.GetLastResponse().GetCode(), q850: c.GetTermination().GetReason().GetCause(),
				answered: c.GetAnsweredAt() != nil,
			}
			if gotWant != tc.want {
				t.Errorf("final call = %+v, want %+v", gotWant, tc.want)
			}
			if c.GetState() != telephonyv1.CallState_CALL_STATE_ENDED || c.GetEndedAt() == nil {
				t.Errorf("final call state %v ended_at %v, want ENDED with a time", c.GetState(), c.GetEndedAt())
			}
			if c.GetTo() != "15550100200" || c.GetFrom() != "15550001111" || c.GetLabels()["agent_id"] != "7" {
				t.Errorf("call numbers/labels = %q %q %v, want the normalised numbers and the labels", c.GetTo(), c.GetFrom(), c.GetLabels())
			}
			uas.Wait(t)
		})
	}
}

func manyProvisionals(n int) []string {
	var out []string
	for i := range n {
		if i%2 == 0 {
			out = append(out, "< 180 INVITE", "state ringing")
		} else {
			out = append(out, "< 183 INVITE", "state early_media")
		}
	}
	return out
}

// checkNumbering asserts sequences 1..n without gaps, each event stamped with its call's time.
func checkNumbering(t *testing.T, evs []*telephonyv1.CallEvent) {
	t.Helper()
	for i, ev := range evs {
		if ev.GetSequence() != uint64(i+1) {
			t.Fatalf("event %d has sequence %d, want %d", i, ev.GetSequence(), i+1)
		}
		if ev.GetTime() == nil {
			t.Fatalf("event %d has no time", i+1)
		}
	}
}
