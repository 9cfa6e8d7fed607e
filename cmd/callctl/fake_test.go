package main

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

type streamServer = grpc.ServerStreamingServer[telephonyv1.CallEvent]

// fakeService is a CallService whose behaviour each test sets through function fields; a nil
// field answers Unimplemented.
type fakeService struct {
	telephonyv1.UnimplementedCallServiceServer
	placeCall func(context.Context, *telephonyv1.PlaceCallRequest) (*telephonyv1.PlaceCallResponse, error)
	watchCall func(*telephonyv1.WatchCallRequest, streamServer) error
	hangUp    func(context.Context, *telephonyv1.HangUpRequest) (*telephonyv1.HangUpResponse, error)
	getCall   func(context.Context, *telephonyv1.GetCallRequest) (*telephonyv1.GetCallResponse, error)
	listCalls func(context.Context, *telephonyv1.ListCallsRequest) (*telephonyv1.ListCallsResponse, error)
}

var errUnset = status.Error(codes.Unimplemented, "fake: not set")

func (f *fakeService) PlaceCall(ctx context.Context, req *telephonyv1.PlaceCallRequest) (*telephonyv1.PlaceCallResponse, error) {
	if f.placeCall == nil {
		return nil, errUnset
	}
	return f.placeCall(ctx, req)
}

func (f *fakeService) WatchCall(req *telephonyv1.WatchCallRequest, s streamServer) error {
	if f.watchCall == nil {
		return errUnset
	}
	return f.watchCall(req, s)
}

func (f *fakeService) HangUp(ctx context.Context, req *telephonyv1.HangUpRequest) (*telephonyv1.HangUpResponse, error) {
	if f.hangUp == nil {
		return nil, errUnset
	}
	return f.hangUp(ctx, req)
}

func (f *fakeService) GetCall(ctx context.Context, req *telephonyv1.GetCallRequest) (*telephonyv1.GetCallResponse, error) {
	if f.getCall == nil {
		return nil, errUnset
	}
	return f.getCall(ctx, req)
}

func (f *fakeService) ListCalls(ctx context.Context, req *telephonyv1.ListCallsRequest) (*telephonyv1.ListCallsResponse, error) {
	if f.listCalls == nil {
		return nil, errUnset
	}
	return f.listCalls(ctx, req)
}

// serve runs fake on a real grpc.Server on a free loopback port, stopped in t.Cleanup, and
// returns its address.
func serve(t *testing.T, fake *fakeService) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := grpc.NewServer()
	telephonyv1.RegisterCallServiceServer(srv, fake)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return lis.Addr().String()
}

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
