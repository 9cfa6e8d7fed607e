package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ccplane/telephony/internal/testenv"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/simulator"
	"github.com/ccplane/telephony/sipengine"
)

// refusedCall checks that PlaceCall was refused with code and an ErrorInfo of reason, and
// that the call it names was recorded as ended by us with sipCode, before any INVITE; it
// returns the call's id.
func refusedCall(t *testing.T, st *stack, err error, code codes.Code, reason string, sipCode int32, cause telephonyv1.TerminationCause) string {
	t.Helper()
	s := status.Convert(err)
	var info *errdetails.ErrorInfo
	for _, d := range s.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if s.Code() != code || info.GetReason() != reason || info.GetMetadata()["sip_code"] != fmt.Sprint(sipCode) {
		t.Fatalf("PlaceCall = %v (details %v), want %v with ErrorInfo %s and sip_code %d", err, info, code, reason, sipCode)
	}
	id := info.GetMetadata()["call_id"]
	got, err := st.client.GetCall(context.Background(), &telephonyv1.GetCallRequest{CallId: id})
	if err != nil {
		t.Fatalf("GetCall of the refused call: %v", err)
	}
	c := got.GetCall()
	if c.GetLastResponse().GetCode() != sipCode || c.GetTermination().GetCause() != cause ||
		c.GetTermination().GetParty() != telephonyv1.TerminationParty_TERMINATION_PARTY_KILL || c.GetInviteSentAt() != nil {
		t.Errorf("refused call record = %v, want %d / KILL / %v and no INVITE", c, sipCode, cause)
	}
	evs, err := watch(t, st.client, id, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantEnd := fmt.Sprintf("ended kill %s %d", strings.ToLower(strings.TrimPrefix(cause.String(), "TERMINATION_CAUSE_")), sipCode)
	if diff := cmp.Diff([]string{"state ended", wantEnd}, renderAll(evs)); diff != "" {
		t.Errorf("refused call events (-want +got):\n%s", diff)
	}
	return id
}

// listGateway returns the named gateway as ListGateways shows it.
func listGateway(t *testing.T, st *stack, name string) *telephonyv1.Gateway {
	t.Helper()
	res, err := st.gateways.ListGateways(context.Background(), &telephonyv1.ListGatewaysRequest{})
	if err != nil {
		t.Fatalf("ListGateways: %v", err)
	}
	for _, g := range res.GetGateways() {
		if g.GetName() == name {
			return g
		}
	}
	t.Fatalf("ListGateways has no %q: %v", name, res)
	return nil
}

// TestGatewayConcurrencyLimit fills a gateway's only slot with an answered call: the next
// PlaceCall is refused with RESOURCE_EXHAUSTED / GATEWAY_LIMIT and recorded as 901, the
// provider never sees it (SIPp takes exactly one call), and the metrics count it.
func TestGatewayConcurrencyLimit(t *testing.T) {
	uas := testenv.StartSIPp(t, "answer_wait_bye", testenv.SIPpOptions{})
	st := startStack(t, stackConfig{gateways: []sipengine.Gateway{{Name: "sipp", Address: uas.Addr(), MaxConcurrentCalls: 1}}})
	ctx := context.Background()

	first, err := st.client.PlaceCall(ctx, &telephonyv1.PlaceCallRequest{Gateway: "sipp", To: "4951230001"})
	if err != nil {
		t.Fatalf("first PlaceCall: %v", err)
	}
	_, err = st.client.PlaceCall(ctx, &telephonyv1.PlaceCallRequest{Gateway: "sipp", To: "4951230002"})
	refusedCall(t, st, err, codes.ResourceExhausted, "GATEWAY_LIMIT", 901, telephonyv1.TerminationCause_TERMINATION_CAUSE_GATEWAY_LIMIT)

	gw := listGateway(t, st, "sipp")
	if gw.GetActiveCalls() != 1 || gw.GetMaxConcurrentCalls() != 1 || gw.GetState() != telephonyv1.GatewayState_GATEWAY_STATE_UNMONITORED {
		t.Errorf("ListGateways sipp = %v, want 1 active of 1, unmonitored", gw)
	}
	hangUp := hangUpOn(telephonyv1.CallState_CALL_STATE_ANSWERED)
	if _, err := watch(t, st.client, first.GetCall().GetCallId(), 0, func(ev *telephonyv1.CallEvent) { hangUp(t, st.client, ev) }); err != nil {
		t.Fatal(err)
	}
	uas.Wait(t)
	testenv.Eventually(t, "the slot to be free", func() bool { return listGateway(t, st, "sipp").GetActiveCalls() == 0 })

	const want = `
# HELP telephony_calls_ended_total Calls ended, by gateway, last SIP response code (9XX: ours, 0: none), party (kill/finish) and cause.
# TYPE telephony_calls_ended_total counter
telephony_calls_ended_total{cause="gateway_limit",code="901",gateway="sipp",party="kill"} 1
telephony_calls_ended_total{cause="hangup_requested",code="200",gateway="sipp",party="kill"} 1
# HELP telephony_calls_started_total Calls whose first INVITE was sent, by gateway.
# TYPE telephony_calls_started_total counter
telephony_calls_started_total{gateway="sipp"} 1
# HELP telephony_calls_active Calls whose INVITE was sent and that have not ended, by gateway.
# TYPE telephony_calls_active gauge
telephony_calls_active{gateway="sipp"} 0
`
	if err := testutil.GatherAndCompare(st.metrics, strings.NewReader(want),
		"telephony_calls_ended_total", "telephony_calls_started_total", "telephony_calls_active"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(st.metrics, "telephony_setup_seconds"); n != 1 {
		t.Errorf("setup time histograms: %d series, want 1 (the answered call)", n)
	}
}

// TestGatewayDownAndUp points a gateway at a port where nobody answers: its OPTIONS probes
// fail, it is shown down, and calls to it are refused at once with 903 / GATEWAY_DOWN. Once
// a provider answers on that port it is up again and calls go through.
func TestGatewayDownAndUp(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "udp"))
	st := startStack(t, stackConfig{
		gateways:  []sipengine.Gateway{{Name: "flaky", Address: addr, KeepAlive: 100 * time.Millisecond}},
		keepAlive: sipengine.TrunksConfig{ProbeTimeout: 200 * time.Millisecond, DownAfter: 2, UpAfter: 1},
	})
	ctx := context.Background()
	testenv.Eventually(t, "the gateway to be down", func() bool {
		return listGateway(t, st, "flaky").GetState() == telephonyv1.GatewayState_GATEWAY_STATE_DOWN
	})
	start := time.Now()
	_, err := st.client.PlaceCall(ctx, &telephonyv1.PlaceCallRequest{Gateway: "flaky", To: "4951230003"})
	if took := time.Since(start); took > time.Second {
		t.Errorf("PlaceCall to a down gateway took %v; it should fail fast", took)
	}
	refusedCall(t, st, err, codes.Unavailable, "GATEWAY_DOWN", 903, telephonyv1.TerminationCause_TERMINATION_CAUSE_GATEWAY_DOWN)

	testenv.StartSimulator(t, simulator.Config{Listen: addr, RingDelay: 10 * time.Millisecond, AnswerDelay: 10 * time.Millisecond})
	testenv.Eventually(t, "the gateway to be up", func() bool {
		return listGateway(t, st, "flaky").GetState() == telephonyv1.GatewayState_GATEWAY_STATE_UP
	})
	if gw := listGateway(t, st, "flaky"); gw.GetLastProbeStatus().GetCode() != 200 || gw.GetStateSince() == nil {
		t.Errorf("gateway back up = %v, want last probe 200 and a state_since", gw)
	}
	placed, err := st.client.PlaceCall(ctx, &telephonyv1.PlaceCallRequest{Gateway: "flaky", To: "4950000486"})
	if err != nil {
		t.Fatalf("PlaceCall once the gateway is up: %v", err)
	}
	evs, err := watch(t, st.client, placed.GetCall().GetCallId(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if last := render(evs[len(evs)-1]); last != "ended finish remote_rejected 486" {
		t.Errorf("call after recovery ended %q, want the simulator's 486", last)
	}
}
