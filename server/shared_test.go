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

// TestSharedInstances runs three instances on one Redis: a call placed on A is watched on B
// from its start and on C from the middle, and hung up on C. Each watcher gets A's own
// events with A's numbering, and every instance answers for the call as A does.
func TestSharedInstances(t *testing.T) {
	uas := testenv.StartSIPp(t, "answer_wait_bye", testenv.SIPpOptions{})
	addr := testenv.StartRedis(t)
	gw := []sipengine.Gateway{{Name: "sipp", Address: uas.Addr()}}
	a := startStack(t, stackConfig{gateways: gw, sharedRedis: addr})
	b := startStack(t, stackConfig{gateways: gw, sharedRedis: addr})
	c := startStack(t, stackConfig{gateways: gw, sharedRedis: addr})

	placed, err := a.client.PlaceCall(t.Context(), &telephonyv1.PlaceCallRequest{Gateway: "sipp", To: "4951230200"})
	if err != nil {
		t.Fatal(err)
	}
	id := placed.GetCall().GetCallId()
	answered := make(chan uint64, 1)
	type result struct {
		evs []*telephonyv1.CallEvent
		err error
	}
	onA, onB := make(chan result, 1), make(chan result, 1)
	go func() {
		evs, err := watch(t, a.client, id, 0, func(ev *telephonyv1.CallEvent) {
			if ev.GetStateChanged().GetTo() == telephonyv1.CallState_CALL_STATE_ANSWERED {
				answered <- ev.GetSequence()
			}
		})
		onA <- result{evs, err}
	}()
	go func() {
		evs, err := watch(t, b.client, id, 0, nil)
		onB <- result{evs, err}
	}()
	var mid uint64
	select {
	case mid = <-answered:
	case <-t.Context().Done():
		t.Fatal("the call was never answered")
	}
	onC := make(chan result, 1)
	go func() {
		evs, err := watch(t, c.client, id, mid-1, nil)
		onC <- result{evs, err}
	}()
	hung, err := c.client.HangUp(t.Context(), &telephonyv1.HangUpRequest{CallId: id})
	if err != nil {
		t.Fatal(err)
	}
	final := hung.GetCall()
	if final.GetState() != telephonyv1.CallState_CALL_STATE_ENDED ||
		final.GetTermination().GetCause() != telephonyv1.TerminationCause_TERMINATION_CAUSE_HANGUP_REQUESTED ||
		final.GetLastResponse().GetCode() != 200 {
		t.Errorf("HangUp on C returned %v, want the call ended by our hang-up after its 200", final)
	}

	want := <-onA
	if want.err != nil {
		t.Fatalf("watch on A: %v", want.err)
	}
	if got := renderAll(want.evs); got[len(got)-1] != "ended kill hangup_requested 200" {
		t.Fatalf("A's history %q does not end with our hang-up", got)
	}
	for _, w := range []struct {
		name  string
		res   result
		after uint64
	}{{"B from the start", <-onB, 0}, {"C from the middle", <-onC, mid - 1}} {
		if w.res.err != nil {
			t.Errorf("watch on %s: %v, want a clean end after `ended`", w.name, w.res.err)
		}
		if diff := cmp.Diff(want.evs[w.after:], w.res.evs, protocmp.Transform()); diff != "" {
			t.Errorf("watch on %s differs from A's own events (-A +%s):\n%s", w.name, w.name, diff)
		}
	}
	for name, st := range map[string]*stack{"A": a, "B": b, "C": c} {
		got, err := st.client.GetCall(context.Background(), &telephonyv1.GetCallRequest{CallId: id})
		if err != nil {
			t.Errorf("GetCall on %s: %v", name, err)
			continue
		}
		if diff := cmp.Diff(want.evs[len(want.evs)-1].GetEnded().GetCall(), got.GetCall(), protocmp.Transform()); diff != "" {
			t.Errorf("GetCall on %s differs from the call in A's ended event:\n%s", name, diff)
		}
	}
	uas.Wait(t)
}
