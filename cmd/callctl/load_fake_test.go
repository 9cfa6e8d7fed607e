package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ccplane/telephony/client/clienttest"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// fakePlan is how the fake provider treats one call.
type fakePlan struct {
	refuse error         // PlaceCall answers it
	answer bool          // false: rings until the ring timeout (ringFor), or our hang-up
	talk   time.Duration // answered: the far side hangs up after talk; 0 = only our hang-up ends it
}

// ringFor is how long an unanswered fake call rings before it ends in a ring timeout.
const ringFor = 10 * time.Millisecond

// loadFake is a CallService for load runs: every call plays INVITE, 100, 180, then as its
// plan (chosen by the dialled number) says. It counts the calls in flight from PlaceCall
// to just before their ended event, as callctl sees them.
type loadFake struct {
	plan func(to string) fakePlan

	mu       sync.Mutex
	calls    map[string]*fakeCall
	placed   []string    // numbers, in PlaceCall order
	placedAt []time.Time // when each PlaceCall arrived
	live     int
	maxLive  int
	hangUps  int
}

type fakeCall struct {
	plan   fakePlan
	once   sync.Once
	hungUp chan struct{} // closed by the first HangUp
}

func newLoadFake(plan func(to string) fakePlan) *loadFake {
	return &loadFake{plan: plan, calls: map[string]*fakeCall{}}
}

// serve runs the fake on a loopback gRPC server and returns its address.
func (f *loadFake) serve(t *testing.T) string {
	return serve(t, &clienttest.Service{PlaceCallFn: f.placeCall, WatchCallFn: f.watchCall, HangUpFn: f.hangUp})
}

func (f *loadFake) placeCall(_ context.Context, req *telephonyv1.PlaceCallRequest) (*telephonyv1.PlaceCallResponse, error) {
	plan := f.plan(req.GetTo())
	f.mu.Lock()
	defer f.mu.Unlock()
	f.placed = append(f.placed, req.GetTo())
	f.placedAt = append(f.placedAt, time.Now())
	if plan.refuse != nil {
		return nil, plan.refuse
	}
	id := fmt.Sprintf("call-%d", len(f.placed))
	f.calls[id] = &fakeCall{plan: plan, hungUp: make(chan struct{})}
	f.live++
	f.maxLive = max(f.maxLive, f.live)
	return &telephonyv1.PlaceCallResponse{Call: &telephonyv1.Call{CallId: id, To: req.GetTo(), State: telephonyv1.CallState_CALL_STATE_DIALING}}, nil
}

func (f *loadFake) hangUp(_ context.Context, req *telephonyv1.HangUpRequest) (*telephonyv1.HangUpResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls[req.GetCallId()]
	if c == nil {
		return nil, status.Error(codes.NotFound, "no such call")
	}
	f.hangUps++
	c.once.Do(func() { close(c.hungUp) })
	return &telephonyv1.HangUpResponse{Call: &telephonyv1.Call{CallId: req.GetCallId()}}, nil
}

func (f *loadFake) watchCall(req *telephonyv1.WatchCallRequest, st streamServer) error {
	id := req.GetCallId()
	f.mu.Lock()
	c := f.calls[id]
	f.mu.Unlock()
	if c == nil {
		return status.Error(codes.NotFound, "no such call")
	}
	var seq uint64
	send := func(ev *telephonyv1.CallEvent) error {
		seq++
		if seq <= req.GetAfterSequence() {
			return nil
		}
		ev.CallId, ev.Sequence, ev.Time = id, seq, timestamppb.Now()
		return st.Send(ev)
	}
	request := func(method string, dir telephonyv1.MessageDirection) error {
		return send(&telephonyv1.CallEvent{Kind: &telephonyv1.CallEvent_Request{Request: &telephonyv1.SipRequestEvent{Method: method, Direction: dir}}})
	}
	response := func(code int32) error {
		return send(&telephonyv1.CallEvent{Kind: &telephonyv1.CallEvent_Response{Response: &telephonyv1.SipResponseEvent{
			Status: &telephonyv1.SipStatus{Code: code}, CseqMethod: "INVITE"}}})
	}
	sent, received := telephonyv1.MessageDirection_MESSAGE_DIRECTION_SENT, telephonyv1.MessageDirection_MESSAGE_DIRECTION_RECEIVED
	if err := request("INVITE", sent); err != nil {
		return err
	}
	for _, code := range []int32{100, 180} {
		if err := response(code); err != nil {
			return err
		}
	}
	var farEnd <-chan time.Time // nil: the far side never ends the call
	cause := telephonyv1.TerminationCause_TERMINATION_CAUSE_RING_TIMEOUT
	if c.plan.answer {
		if err := response(200); err != nil {
			return err
		}
		cause = telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_HANGUP
		if c.plan.talk > 0 {
			farEnd = time.After(c.plan.talk)
		}
	} else {
		farEnd = time.After(ringFor)
	}
	select {
	case <-farEnd:
		method, dir := "BYE", received
		if !c.plan.answer {
			method, dir = "CANCEL", sent
		}
		if err := request(method, dir); err != nil {
			return err
		}
	case <-c.hungUp:
		cause = telephonyv1.TerminationCause_TERMINATION_CAUSE_HANGUP_REQUESTED
		if err := request("BYE", sent); err != nil {
			return err
		}
	case <-st.Context().Done():
		return nil
	}
	f.mu.Lock()
	f.live--
	f.mu.Unlock()
	return send(&telephonyv1.CallEvent{Kind: &telephonyv1.CallEvent_Ended{Ended: &telephonyv1.CallEndedEvent{
		Termination: &telephonyv1.Termination{Cause: cause}}}})
}

// counts returns the numbers placed, the most calls in flight at once, and the hang-ups.
func (f *loadFake) counts() (placed []string, maxLive, hangUps int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.placed...), f.maxLive, f.hangUps
}
