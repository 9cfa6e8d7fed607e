package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ccplane/telephony/internal/testenv"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/sipengine"
)

// TestSipReport places a mixed batch of calls through SIPp providers, with call records in
// a real redis-server, and checks the report an operator would read: exact counts by code,
// party and cause, ASR, NER, and ACD and PDD within what the scenarios' pauses allow.
func TestSipReport(t *testing.T) {
	answered := testenv.StartSIPp(t, "answer_remote_bye", testenv.SIPpOptions{})
	busy := testenv.StartSIPp(t, "reject", testenv.SIPpOptions{Keys: map[string]string{"code": "486", "reason": "Busy Here", "q850": "17"}})
	missing := testenv.StartSIPp(t, "reject", testenv.SIPpOptions{Keys: map[string]string{"code": "404", "reason": "Not Found", "q850": "1"}})
	ringing := testenv.StartSIPp(t, "ring_forever", testenv.SIPpOptions{})
	st := startStack(t, stackConfig{redisRecords: true, gateways: []sipengine.Gateway{
		{Name: "a-answer", Address: answered.Addr()}, {Name: "b-busy", Address: busy.Addr()},
		{Name: "c-missing", Address: missing.Addr()}, {Name: "d-ringing", Address: ringing.Addr()},
	}})
	ctx := context.Background()
	from := time.Now().Add(-time.Minute)
	for _, gw := range []string{"a-answer", "b-busy", "c-missing", "d-ringing"} {
		campaign := "spring"
		if gw == "c-missing" {
			campaign = "autumn"
		}
		placed, err := st.client.PlaceCall(ctx, &telephonyv1.PlaceCallRequest{Gateway: gw, To: "15550100200",
			RingTimeout: durationpb.New(time.Second), Labels: map[string]string{"campaign": campaign, "crm": gw}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := watch(t, st.client, placed.GetCall().GetCallId(), 0, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, uas := range []*testenv.SIPp{answered, busy, missing, ringing} {
		uas.Wait(t)
	}

	res, err := st.reports.GetSipReport(ctx, &telephonyv1.GetSipReportRequest{From: timestamppb.New(from)})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		gateway           string
		calls, attempts   int64
		answered          int64
		asr, ner, kill    float64
		code              int32
		party             telephonyv1.TerminationParty
		cause             telephonyv1.TerminationCause
		practiceMentioned bool
	}
	kill, finish := telephonyv1.TerminationParty_TERMINATION_PARTY_KILL, telephonyv1.TerminationParty_TERMINATION_PARTY_FINISH
	want := []row{
		{gateway: "a-answer", calls: 1, attempts: 1, answered: 1, asr: 1, ner: 1, code: 200, party: finish,
			cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_HANGUP, practiceMentioned: true},
		{gateway: "b-busy", calls: 1, attempts: 1, ner: 1, code: 486, party: finish,
			cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_REJECTED, practiceMentioned: true},
		{gateway: "c-missing", calls: 1, attempts: 1, code: 404, party: finish,
			cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_REJECTED, practiceMentioned: true},
		{gateway: "d-ringing", calls: 1, attempts: 1, ner: 1, kill: 1, code: 180, party: kill,
			cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_RING_TIMEOUT, practiceMentioned: true},
	}
	var got []row
	for _, g := range res.GetGateways() {
		f := g.GetTotal()
		r := row{gateway: g.GetGateway(), calls: f.GetCalls(), attempts: f.GetAttempts(), answered: f.GetAnswered(),
			asr: f.GetAsr(), ner: f.GetNer(), kill: f.GetKillShare()}
		if len(f.GetCodes()) == 1 {
			r.code = f.GetCodes()[0].GetStatus().GetCode()
			r.practiceMentioned = f.GetCodes()[0].GetPractice() != ""
		}
		if len(f.GetParties()) == 1 {
			r.party = f.GetParties()[0].GetParty()
		}
		if len(f.GetCauses()) == 1 {
			r.cause = f.GetCauses()[0].GetCause()
		}
		got = append(got, r)

		switch g.GetGateway() {
		case "a-answer":
			// The scenario holds the call 500 ms after its ACK; its 180 follows the 100 by 50 ms.
			if acd := f.GetAcd().AsDuration(); acd < 400*time.Millisecond || acd > 2*time.Second {
				t.Errorf("ACD %v, want about 500 ms", acd)
			}
			fallthrough
		case "d-ringing":
			if pdd := f.GetPddP95().AsDuration(); pdd <= 0 || pdd > 500*time.Millisecond {
				t.Errorf("%s: PDD p95 %v, want the scenario's ~50 ms within the histogram's 100 ms", g.GetGateway(), pdd)
			}
		}
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(row{})); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}

	// The same calls through ListCalls' filters.
	code404, code0 := int32(404), int32(0)
	lists := []struct {
		name string
		req  *telephonyv1.ListCallsRequest
		want int
	}{
		{name: "last code 404", req: &telephonyv1.ListCallsRequest{LastCode: &code404}, want: 1},
		{name: "no response at all", req: &telephonyv1.ListCallsRequest{LastCode: &code0}, want: 0},
		{name: "ended by us", req: &telephonyv1.ListCallsRequest{Party: kill}, want: 1},
		{name: "rejected", req: &telephonyv1.ListCallsRequest{Cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_REJECTED}, want: 2},
		{name: "created before the batch", req: &telephonyv1.ListCallsRequest{CreatedBefore: timestamppb.New(from)}, want: 0},
		{name: "campaign and party", req: &telephonyv1.ListCallsRequest{Party: finish,
			Labels: map[string]string{"campaign": "spring"}}, want: 2},
	}
	for _, tc := range lists {
		res, err := st.client.ListCalls(ctx, tc.req)
		if err != nil || len(res.GetCalls()) != tc.want {
			t.Errorf("ListCalls %s: %d calls, %v; want %d", tc.name, len(res.GetCalls()), err, tc.want)
		}
	}

	// One campaign: the same figures, without the call of the other campaign.
	spring, err := st.reports.GetSipReport(ctx, &telephonyv1.GetSipReportRequest{From: timestamppb.New(from),
		Labels: map[string]string{"campaign": "spring"}})
	if err != nil {
		t.Fatal(err)
	}
	var springGateways []string
	for _, g := range spring.GetGateways() {
		springGateways = append(springGateways, g.GetGateway())
	}
	if diff := cmp.Diff([]string{"a-answer", "b-busy", "d-ringing"}, springGateways); diff != "" {
		t.Errorf("gateways in the spring campaign's report (-want +got):\n%s", diff)
	}
	_, err = st.reports.GetSipReport(ctx, &telephonyv1.GetSipReportRequest{From: timestamppb.New(from),
		Labels: map[string]string{"crm": "a-answer"}})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("report by a label that is not aggregated: %v, want InvalidArgument", err)
	}

	_, err = st.reports.GetSipReport(ctx, &telephonyv1.GetSipReportRequest{})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("report without from: %v, want InvalidArgument", err)
	}
	_, err = st.reports.GetSipReport(ctx, &telephonyv1.GetSipReportRequest{Gateway: "nope", From: timestamppb.New(from)})
	if status.Code(err) != codes.NotFound {
		t.Errorf("report of an unknown gateway: %v, want NotFound", err)
	}
}
