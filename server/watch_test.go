package server_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/ccplane/telephony/internal/testenv"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/sipengine"
)

// TestWatchLateAndResumed checks that a watcher that connects after the call ended, and one
// that reconnects mid-call with after_sequence, see exactly the events they missed: the same
// events, numbered the same, as the watcher that was there from the start.
func TestWatchLateAndResumed(t *testing.T) {
	uas := testenv.StartSIPp(t, "answer_remote_bye", testenv.SIPpOptions{})
	st := startStack(t, stackConfig{gateways: []sipengine.Gateway{{Name: "sipp", Address: uas.Addr()}}})
	placed, err := st.client.PlaceCall(context.Background(), &telephonyv1.PlaceCallRequest{Gateway: "sipp", To: "15550100200"})
	if err != nil {
		t.Fatal(err)
	}
	id := placed.GetCall().GetCallId()

	// A watcher that drops out after the answer and comes back with the last sequence it saw.
	var firstPart []*telephonyv1.CallEvent
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := st.client.WatchCall(ctx, &telephonyv1.WatchCallRequest{CallId: id})
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			t.Fatalf("first watch: %v", err)
		}
		firstPart = append(firstPart, ev)
		if ev.GetStateChanged().GetTo() == telephonyv1.CallState_CALL_STATE_ANSWERED {
			break
		}
	}
	cancel()
	lastSeen := firstPart[len(firstPart)-1].GetSequence()
	rest, err := watch(t, st.client, id, lastSeen, nil)
	if err != nil {
		t.Fatalf("resumed watch: %v", err)
	}
	resumed := append(firstPart, rest...)
	uas.Wait(t)

	// A watcher that arrives after the end gets the whole history, then the stream closes.
	late, err := watch(t, st.client, id, 0, nil)
	if err != nil {
		t.Fatalf("late watch: %v", err)
	}
	if diff := cmp.Diff(late, resumed, protocmp.Transform()); diff != "" {
		t.Errorf("resumed watcher saw a different history than the late one (-late +resumed):\n%s", diff)
	}
	if got := render(late[len(late)-1]); got != "ended finish remote_hangup 200" {
		t.Errorf("last event %q, want the ended event", got)
	}
	checkNumbering(t, late)

	// From the middle of an ended call: exactly the tail.
	tail, err := watch(t, st.client, id, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(late[3:], tail, protocmp.Transform()); diff != "" {
		t.Errorf("watch after_sequence=3 mismatch (-want +got):\n%s", diff)
	}
}
