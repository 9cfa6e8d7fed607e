package main

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/ccplane/telephony/internal/testenv"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// TestScaleOut runs three instances on one standalone Redis: see testScaleOut.
func TestScaleOut(t *testing.T) {
	testScaleOut(t, "redis://"+testenv.StartRedis(t)+"/0")
}

// TestScaleOutCluster is TestScaleOut on a 3-node Redis Cluster, the instances given all
// three nodes in their URL.
func TestScaleOutCluster(t *testing.T) {
	testScaleOut(t, clusterURL(t))
}

// clusterURL starts a 3-node Redis Cluster and returns a URL that names all three nodes.
func clusterURL(t *testing.T) string {
	nodes := testenv.StartRedisCluster(t, 3)
	return "redis+cluster://" + nodes[0] + "?addr=" + nodes[1] + "&addr=" + nodes[2]
}

// testScaleOut runs three instances A, B and C on redisURL and one provider that answers
// and holds the call until our BYE. A call placed on A is watched on A, on B from its first
// event (opened as soon as PlaceCall returns, when A has appended little or nothing to
// Redis) and on C from the answer on, and hung up on C. C's HangUp must end the call
// through its owner A (SIPp gets A's BYE) and return it ended; B's and C's streams must
// carry exactly A's events, as A numbers and renders them, and each must end cleanly after
// `ended`; every instance must answer GetCall with the same final call.
func testScaleOut(t *testing.T, redisURL string) {
	provider := testenv.StartSIPp(t, "answer_wait_bye", testenv.SIPpOptions{})
	var svcs []*testService
	var ins []*instance
	for _, name := range []string{"A", "B", "C"} {
		addr := freeAddr(t)
		svcs = append(svcs, startService(t, instanceConfig(addr, redisURL, "5s", provider.Addr()), addr))
		ins = append(ins, connect(t, name, addr))
	}
	a, b, c := ins[0], ins[1], ins[2]
	ctx := context.Background()

	placed, err := a.api.PlaceCall(ctx, &telephonyv1.PlaceCallRequest{Gateway: "carrier", To: "15550100180"})
	if err != nil {
		t.Fatal(err)
	}
	id := placed.GetCallId()
	onB := startWatch(t, b, id, 0)
	onA := startWatch(t, a, id, 0)
	answer := onA.await(t, "the answer", isState(telephonyv1.CallState_CALL_STATE_ANSWERED))
	from := answer.GetSequence() - 1
	onC := startWatch(t, c, id, from)
	// C follows the call before it is hung up, so that it sees the end live, not as history.
	onC.await(t, "the answer", isState(telephonyv1.CallState_CALL_STATE_ANSWERED))

	hung, err := c.api.HangUp(ctx, id)
	if err != nil {
		t.Fatalf("HangUp on C, not the owner: %v", err)
	}
	if hung.GetState() != telephonyv1.CallState_CALL_STATE_ENDED ||
		hung.GetTermination().GetParty() != telephonyv1.TerminationParty_TERMINATION_PARTY_KILL ||
		hung.GetTermination().GetCause() != telephonyv1.TerminationCause_TERMINATION_CAUSE_HANGUP_REQUESTED ||
		hung.GetLastResponse().GetCode() != 200 {
		t.Errorf("HangUp on C returned %v, want the call ended KILL / HANGUP_REQUESTED with last response 200", hung)
	}

	evA, evB, evC := onA.wait(t), onB.wait(t), onC.wait(t)
	provider.Wait(t) // it got a BYE for the call it held: from A, whose dialog it is
	for i, ev := range evA {
		if ev.GetSequence() != uint64(i)+1 {
			t.Fatalf("A's own stream is not numbered from 1 without gaps:\n%s", render(evA))
		}
	}
	ended := evA[len(evA)-1].GetEnded()
	if ended.GetTermination().GetCause() != telephonyv1.TerminationCause_TERMINATION_CAUSE_HANGUP_REQUESTED ||
		ended.GetCall().GetLastResponse().GetCode() != 200 ||
		!hasRequest(evA, "BYE", telephonyv1.MessageDirection_MESSAGE_DIRECTION_SENT) {
		t.Errorf("A's stream does not show our BYE and the end by HangUp:\n%s", render(evA))
	}
	if diff := cmp.Diff(evA, evB, protocmp.Transform()); diff != "" {
		t.Errorf("B's stream (from the start) differs from A's (-A +B):\n%s\nA:\n%sB:\n%s", diff, render(evA), render(evB))
	}
	if diff := cmp.Diff(evA[from:], evC, protocmp.Transform()); diff != "" {
		t.Errorf("C's stream (after %d) differs from A's (-A +C):\n%s\nA:\n%sC:\n%s", from, diff, render(evA), render(evC))
	}

	// The same final call wherever it is asked for, as HangUp and the `ended` event gave it.
	for _, in := range ins {
		got, err := in.api.GetCall(ctx, id)
		if err != nil {
			t.Errorf("GetCall on %s: %v", in.name, err)
			continue
		}
		if diff := cmp.Diff(hung, got, protocmp.Transform()); diff != "" {
			t.Errorf("GetCall on %s differs from HangUp's answer on C (-HangUp +GetCall):\n%s", in.name, diff)
		}
	}
	if diff := cmp.Diff(hung, ended.GetCall(), protocmp.Transform()); diff != "" {
		t.Errorf("the `ended` event's call differs from HangUp's answer (-HangUp +ended):\n%s", diff)
	}

	for _, s := range svcs {
		s.cancel() // all three shut down at once
	}
	for i, s := range svcs {
		s.stop(t)
		noErrorsLogged(t, ins[i].name, s.stderr.String())
	}
}

// TestOwnerKilled kills the owner A of three answered calls (SIGKILL: no shutdown, no BYE,
// its heartbeat just stops) and checks that each of the three ways of finding out (racing
// the periodic recovery) ends its call as KILL / LOST with the answer's 200 as last response, and ends its stream with the
// state change to ENDED and the `ended` event, on an instance that was not the owner:
//   - the first call is watched on B: B's stream ends within a bounded time, and GetCall
//     on B returns the call as the `ended` event has it;
//   - the second is hung up on B: HangUp returns it ended LOST;
//   - the third is left alone: the periodic recovery (B's, or C's, started after the kill)
//     ends it, and every instance then reads it ended LOST.
//
// Every heartbeat is 200 ms: A is dead 600 ms after its last beat, and B and C judge others
// once their own heartbeat has held 800 ms (before that, after an outage of Redis, every
// instance would look dead). B's own periodic recovery may then find a call first; whoever
// does, the call must end LOST and its stream with it.
func TestOwnerKilled(t *testing.T) {
	testOwnerKilled(t, "redis://"+testenv.StartRedis(t)+"/0")
}

// TestOwnerKilledCluster is TestOwnerKilled on a 3-node Redis Cluster.
func TestOwnerKilledCluster(t *testing.T) {
	testOwnerKilled(t, clusterURL(t))
}

func testOwnerKilled(t *testing.T, redisURL string) {
	provider := testenv.StartSIPp(t, "answer_wait_bye", testenv.SIPpOptions{Calls: 3})
	defer provider.Stop() // nobody will send the BYEs it waits for
	aAddr, bAddr, cAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	owner := startChild(t, instanceConfig(aAddr, redisURL, "200ms", provider.Addr()), aAddr)
	svcB := startService(t, instanceConfig(bAddr, redisURL, "200ms", provider.Addr()), bAddr)
	a, b := connect(t, "A", aAddr), connect(t, "B", bAddr)
	ctx := context.Background()

	var ids []string
	for range 3 {
		call, err := a.api.PlaceCall(ctx, &telephonyv1.PlaceCallRequest{Gateway: "carrier", To: "15550100180"})
		if err != nil {
			t.Fatalf("PlaceCall on A: %v\n%s", err, owner.stderr.String())
		}
		ids = append(ids, call.GetCallId())
	}
	onB := startWatch(t, b, ids[0], 0)
	onB.await(t, "the answer", isState(telephonyv1.CallState_CALL_STATE_ANSWERED))
	for _, id := range ids {
		// What B reads of the call (A writes records behind) says answered before A dies.
		testenv.Eventually(t, "call "+id+" answered, as B reads it", func() bool {
			c, err := b.api.GetCall(ctx, id)
			return err == nil && c.GetState() == telephonyv1.CallState_CALL_STATE_ANSWERED && c.GetLastResponse().GetCode() == 200
		})
	}

	killed := time.Now()
	owner.kill(t)
	noErrorsLogged(t, "A", owner.stderr.String())

	// 1. Found by a watcher.
	evs := onB.wait(t) // within testenv.WaitFor: well above the TTL + 2 × OwnerCheck
	t.Logf("B's watch ended %v after A was killed", time.Since(killed).Round(time.Millisecond))
	lost := checkLostEnd(t, "B's watch of the first call", evs)
	got, err := b.api.GetCall(ctx, ids[0])
	if err != nil {
		t.Fatalf("GetCall on B: %v", err)
	}
	if !endedLost(got) {
		t.Errorf("GetCall on B of the first call = %v, want ended KILL / LOST with last response 200", got)
	}
	if diff := cmp.Diff(lost.GetCall(), got, protocmp.Transform()); diff != "" {
		t.Errorf("GetCall on B differs from the `ended` event's call (-ended +GetCall):\n%s", diff)
	}

	// 2. Found by a HangUp.
	hung, err := b.api.HangUp(ctx, ids[1])
	if err != nil {
		t.Fatalf("HangUp on B of the dead owner's second call: %v", err)
	}
	if !endedLost(hung) {
		t.Errorf("HangUp on B of the second call = %v, want ended KILL / LOST with last response 200", hung)
	}
	checkLostEnd(t, "a watch of the second call after its HangUp", startWatch(t, b, ids[1], 0).wait(t))

	// 3. Found by the recovery of an instance that knew nothing of the call.
	svcC := startService(t, instanceConfig(cAddr, redisURL, "200ms", provider.Addr()), cAddr)
	testenv.Eventually(t, "the third call ended by C's recovery, as B reads it", func() bool {
		c, err := b.api.GetCall(ctx, ids[2])
		return err == nil && c.GetState() == telephonyv1.CallState_CALL_STATE_ENDED
	})
	if got, err := b.api.GetCall(ctx, ids[2]); err != nil || !endedLost(got) {
		t.Errorf("GetCall on B of the third call = %v, %v; want ended KILL / LOST with last response 200", got, err)
	}
	checkLostEnd(t, "a watch of the third call after its recovery", startWatch(t, b, ids[2], 0).wait(t))

	svcC.cancel() // both shut down at once
	svcB.stop(t)
	svcC.stop(t)
	noErrorsLogged(t, "B", svcB.stderr.String())
	noErrorsLogged(t, "C", svcC.stderr.String())
}

// checkLostEnd checks that a watched stream ends as the finder of a dead owner ends it:
// the state change from ANSWERED to ENDED, then `ended` KILL / LOST with the answer's 200
// as last response. It returns the `ended` event.
func checkLostEnd(t *testing.T, what string, evs []*telephonyv1.CallEvent) *telephonyv1.CallEndedEvent {
	t.Helper()
	n := len(evs)
	if n < 2 {
		t.Fatalf("%s: %d events, want the call's history and its end:\n%s", what, n, render(evs))
	}
	sc, ended := evs[n-2].GetStateChanged(), evs[n-1].GetEnded()
	if sc.GetFrom() != telephonyv1.CallState_CALL_STATE_ANSWERED || sc.GetTo() != telephonyv1.CallState_CALL_STATE_ENDED ||
		ended.GetTermination().GetParty() != telephonyv1.TerminationParty_TERMINATION_PARTY_KILL ||
		ended.GetTermination().GetCause() != telephonyv1.TerminationCause_TERMINATION_CAUSE_LOST ||
		!endedLost(ended.GetCall()) {
		t.Errorf("%s ends with\n%s\nwant state ANSWERED -> ENDED, then ended KILL / LOST with last response 200; events:\n%s",
			what, render(evs[n-2:]), render(evs))
	}
	return ended
}

// endedLost reports whether c is ended KILL / LOST after an answer (last response 200).
func endedLost(c *telephonyv1.Call) bool {
	return c.GetState() == telephonyv1.CallState_CALL_STATE_ENDED &&
		c.GetTermination().GetParty() == telephonyv1.TerminationParty_TERMINATION_PARTY_KILL &&
		c.GetTermination().GetCause() == telephonyv1.TerminationCause_TERMINATION_CAUSE_LOST &&
		c.GetLastResponse().GetCode() == 200
}

// hasRequest reports whether evs hold a request of method in direction dir.
func hasRequest(evs []*telephonyv1.CallEvent, method string, dir telephonyv1.MessageDirection) bool {
	for _, ev := range evs {
		if r := ev.GetRequest(); r.GetMethod() == method && r.GetDirection() == dir {
			return true
		}
	}
	return false
}
