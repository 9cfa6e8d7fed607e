package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/ccplane/telephony/directions"
	"github.com/ccplane/telephony/internal/testenv"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/sipengine"
)

// TestBlockedNumberNeverDialled checks the toll-fraud control end to end: a number outside
// the gateway's directions is refused with PERMISSION_DENIED and DIRECTION_BLOCKED details,
// recorded as 900 / KILL / DIRECTION_BLOCKED, and never reaches the provider; an allowed
// number on the same gateway dials as usual.
func TestBlockedNumberNeverDialled(t *testing.T) {
	uas := testenv.StartSIPp(t, "answer_remote_bye", testenv.SIPpOptions{Transport: "tcp"})
	st := startStack(t, stackConfig{
		gateways: []sipengine.Gateway{{Name: "sipp", Address: uas.Addr(), Transport: sipengine.TCP}},
		rules: map[string][]directions.Rule{"sipp": {
			{Prefix: "7", Action: directions.ActionAllow},
			{Prefix: "7809", Action: directions.ActionDeny},
		}},
	})
	ctx := context.Background()

	_, err := st.client.PlaceCall(ctx, &telephonyv1.PlaceCallRequest{Gateway: "sipp", To: "+7 (809) 555-01-02"})
	s := status.Convert(err)
	if s.Code() != codes.PermissionDenied {
		t.Fatalf("PlaceCall of a premium number: %v, want PermissionDenied", err)
	}
	var info *errdetails.ErrorInfo
	for _, d := range s.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if info.GetReason() != "DIRECTION_BLOCKED" || info.GetMetadata()["number"] != "78095550102" ||
		info.GetMetadata()["rule"] != "7809:deny" || info.GetMetadata()["gateway"] != "sipp" {
		t.Fatalf("ErrorInfo = %v, want DIRECTION_BLOCKED for 78095550102 by 7809:deny on sipp", info)
	}
	id := info.GetMetadata()["call_id"]
	got, err := st.client.GetCall(ctx, &telephonyv1.GetCallRequest{CallId: id})
	if err != nil {
		t.Fatalf("GetCall of the blocked call: %v", err)
	}
	c := got.GetCall()
	if c.GetLastResponse().GetCode() != 900 || c.GetLastResponse().GetReason() != "Direction blocked" ||
		c.GetTermination().GetParty() != telephonyv1.TerminationParty_TERMINATION_PARTY_KILL ||
		c.GetTermination().GetCause() != telephonyv1.TerminationCause_TERMINATION_CAUSE_DIRECTION_BLOCKED ||
		c.GetInviteSentAt() != nil {
		t.Errorf("blocked call record = %v, want 900 Direction blocked, kill/direction_blocked, no INVITE", c)
	}
	evs, err := watch(t, st.client, id, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"state ended", "ended kill direction_blocked 900"}, renderAll(evs)); diff != "" {
		t.Errorf("blocked call events (-want +got):\n%s", diff)
	}

	// The allowed number: dialled, answered, ended by the provider.
	placed, err := st.client.PlaceCall(ctx, &telephonyv1.PlaceCallRequest{Gateway: "sipp", To: "74951234567"})
	if err != nil {
		t.Fatalf("PlaceCall of an allowed number: %v", err)
	}
	evs, err = watch(t, st.client, placed.GetCall().GetCallId(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if last := render(evs[len(evs)-1]); last != "ended finish remote_hangup 200" {
		t.Errorf("allowed call ended %q, want finish/remote_hangup/200", last)
	}
	uas.Wait(t)
	trace := uas.Messages()
	if n := strings.Count(trace, "INVITE sip:"); n != 1 || strings.Contains(trace, "78095550102") {
		t.Errorf("SIPp saw %d INVITEs (blocked number present: %v), want exactly the allowed one", n, strings.Contains(trace, "78095550102"))
	}
	list, err := st.client.ListCalls(ctx, &telephonyv1.ListCallsRequest{Gateway: "sipp"})
	if err != nil || len(list.GetCalls()) != 2 {
		t.Errorf("ListCalls = %d calls, %v; want both calls, the blocked one included", len(list.GetCalls()), err)
	}
}

// TestDirectionService edits and checks a gateway's rules through the API.
func TestDirectionService(t *testing.T) {
	st := startStack(t, stackConfig{
		gateways: []sipengine.Gateway{{Name: "gw", Address: "127.0.0.1:9"}},
		rules:    map[string][]directions.Rule{"gw": nil},
	})
	ctx := context.Background()
	allow := telephonyv1.DirectionAction_DIRECTION_ACTION_ALLOW
	deny := telephonyv1.DirectionAction_DIRECTION_ACTION_DENY
	check := func(number string) *telephonyv1.CheckDirectionResponse {
		t.Helper()
		res, err := st.directions.CheckDirection(ctx, &telephonyv1.CheckDirectionRequest{Gateway: "gw", Number: number})
		if err != nil {
			t.Fatalf("CheckDirection(%s): %v", number, err)
		}
		return res
	}
	if res := check("74951234567"); res.GetAllowed() || res.GetMatchedRule() != nil {
		t.Errorf("a gateway without rules allowed %v: it must dial nothing", res)
	}

	set, err := st.directions.SetDirections(ctx, &telephonyv1.SetDirectionsRequest{Gateway: "gw", Rules: []*telephonyv1.DirectionRule{
		{Prefix: "7", Action: allow}, {Prefix: "7809", Action: deny},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if set.GetDirections().GetVersion() == 0 || len(set.GetDirections().GetRules()) != 2 {
		t.Errorf("SetDirections returned %v, want two rules and a version", set.GetDirections())
	}
	if res := check("+7 495 123-45-67"); !res.GetAllowed() || res.GetNormalizedNumber() != "74951234567" ||
		!cmp.Equal(res.GetMatchedRule(), &telephonyv1.DirectionRule{Prefix: "7", Action: allow}, protocmp.Transform()) {
		t.Errorf("check 7495… = %v, want allowed by 7", res)
	}
	if res := check("78091234567"); res.GetAllowed() || res.GetMatchedRule().GetPrefix() != "7809" {
		t.Errorf("check 7809… = %v, want blocked by 7809", res)
	}

	if _, err := st.directions.AddRules(ctx, &telephonyv1.AddRulesRequest{Gateway: "gw", Rules: []*telephonyv1.DirectionRule{
		{Prefix: "78095", Action: allow},
	}}); err != nil {
		t.Fatal(err)
	}
	if res := check("78095550102"); !res.GetAllowed() {
		t.Errorf("after adding 78095 allow, 78095… = %v, want allowed (longest prefix)", res)
	}
	rm, err := st.directions.RemoveRules(ctx, &telephonyv1.RemoveRulesRequest{Gateway: "gw", Prefixes: []string{"7", "78095"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []*telephonyv1.DirectionRule{{Prefix: "7809", Action: deny}}
	if diff := cmp.Diff(want, rm.GetDirections().GetRules(), protocmp.Transform()); diff != "" {
		t.Errorf("rules after RemoveRules (-want +got):\n%s", diff)
	}
	list, err := st.directions.ListDirections(ctx, &telephonyv1.ListDirectionsRequest{Gateway: "gw"})
	if err != nil || !cmp.Equal(want, list.GetDirections().GetRules(), protocmp.Transform()) {
		t.Errorf("ListDirections = %v, %v; want %v", list.GetDirections().GetRules(), err, want)
	}

	bad := []struct {
		name string
		call func() error
		code codes.Code
		msg  string
	}{
		{name: "letters in a prefix", code: codes.InvalidArgument, msg: "rules[0]", call: func() error {
			_, err := st.directions.SetDirections(ctx, &telephonyv1.SetDirectionsRequest{Gateway: "gw",
				Rules: []*telephonyv1.DirectionRule{{Prefix: "7a", Action: allow}}})
			return err
		}},
		{name: "no action", code: codes.InvalidArgument, msg: "rules[1]", call: func() error {
			_, err := st.directions.SetDirections(ctx, &telephonyv1.SetDirectionsRequest{Gateway: "gw",
				Rules: []*telephonyv1.DirectionRule{{Prefix: "7", Action: allow}, {Prefix: "8"}}})
			return err
		}},
		{name: "duplicate prefix", code: codes.InvalidArgument, msg: "rules[1]", call: func() error {
			_, err := st.directions.SetDirections(ctx, &telephonyv1.SetDirectionsRequest{Gateway: "gw",
				Rules: []*telephonyv1.DirectionRule{{Prefix: "7", Action: allow}, {Prefix: "7", Action: deny}}})
			return err
		}},
		{name: "bad number", code: codes.InvalidArgument, msg: "number", call: func() error {
			_, err := st.directions.CheckDirection(ctx, &telephonyv1.CheckDirectionRequest{Gateway: "gw", Number: "7#1"})
			return err
		}},
		{name: "unknown gateway", code: codes.NotFound, msg: "nope", call: func() error {
			_, err := st.directions.ListDirections(ctx, &telephonyv1.ListDirectionsRequest{Gateway: "nope"})
			return err
		}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			s := status.Convert(tc.call())
			if s.Code() != tc.code || !strings.Contains(s.Message(), tc.msg) {
				t.Errorf("got %v %q, want %v naming %q", s.Code(), s.Message(), tc.code, tc.msg)
			}
		})
	}
	// Nothing of the refused changes got in.
	list, _ = st.directions.ListDirections(ctx, &telephonyv1.ListDirectionsRequest{Gateway: "gw"})
	if !cmp.Equal(want, list.GetDirections().GetRules(), protocmp.Transform()) {
		t.Errorf("rules after refused changes = %v, want %v", list.GetDirections().GetRules(), want)
	}
}
