package server_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ccplane/telephony/internal/testenv"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/sipengine"
)

// TestBadRequestsNameTheField checks that every invalid PlaceCall field is refused with
// INVALID_ARGUMENT, a message starting with the field and a detail naming it (the proto
// rules' violations, or the handler's BadRequest), before anything reaches SIP.
func TestBadRequestsNameTheField(t *testing.T) {
	st := startStack(t, stackConfig{gateways: []sipengine.Gateway{{Name: "gw", Address: "127.0.0.1:9"}}})
	ok := func() *telephonyv1.PlaceCallRequest {
		return &telephonyv1.PlaceCallRequest{Gateway: "gw", To: "15550100200"}
	}
	tests := []struct {
		name   string
		mutate func(*telephonyv1.PlaceCallRequest)
		field  string
	}{
		{name: "no gateway", mutate: func(r *telephonyv1.PlaceCallRequest) { r.Gateway = "" }, field: "gateway"},
		{name: "no number", mutate: func(r *telephonyv1.PlaceCallRequest) { r.To = "" }, field: "to"},
		{name: "sip uri as number", mutate: func(r *telephonyv1.PlaceCallRequest) { r.To = "sip:1@evil.example" }, field: "to"},
		{name: "crlf in number", mutate: func(r *telephonyv1.PlaceCallRequest) { r.To = "1555\r\nVia: x" }, field: "to"},
		{name: "too long", mutate: func(r *telephonyv1.PlaceCallRequest) { r.To = strings.Repeat("1", 21) }, field: "to"},
		{name: "bad caller id", mutate: func(r *telephonyv1.PlaceCallRequest) { r.From = "anonymous" }, field: "from"},
		{name: "non-X header", mutate: func(r *telephonyv1.PlaceCallRequest) { r.Headers = map[string]string{"Route": "<sip:x>"} }, field: `headers["Route"]`},
		{name: "header injection", mutate: func(r *telephonyv1.PlaceCallRequest) {
			r.Headers = map[string]string{"X-Tenant": "a\r\nBYE sip:x SIP/2.0"}
		}, field: `headers["X-Tenant"]`},
		{name: "negative ring timeout", mutate: func(r *telephonyv1.PlaceCallRequest) { r.RingTimeout = durationpb.New(-1) }, field: "ring_timeout"},
		{name: "max duration of a week", mutate: func(r *telephonyv1.PlaceCallRequest) { r.MaxDuration = durationpb.New(7 * 24 * 3600e9) }, field: "max_duration"},
		{name: "label key", mutate: func(r *telephonyv1.PlaceCallRequest) { r.Labels = map[string]string{"a b": "c"} }, field: `labels["a b"]`},
		{name: "sdp", mutate: func(r *telephonyv1.PlaceCallRequest) { r.SdpOffer = "hello" }, field: "sdp_offer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := ok()
			tc.mutate(req)
			_, err := st.client.PlaceCall(context.Background(), req)
			s := status.Convert(err)
			if s.Code() != codes.InvalidArgument {
				t.Fatalf("code %v (%v), want InvalidArgument", s.Code(), err)
			}
			if field := violatedField(s); field != tc.field || !strings.HasPrefix(s.Message(), tc.field+":") {
				t.Errorf("violation on %q, message %q; want field %q named", field, s.Message(), tc.field)
			}
		})
	}
}

func TestUnknownThingsAreNotFound(t *testing.T) {
	st := startStack(t, stackConfig{gateways: []sipengine.Gateway{{Name: "gw", Address: "127.0.0.1:9"}}})
	ctx := context.Background()
	_, err := st.client.PlaceCall(ctx, &telephonyv1.PlaceCallRequest{Gateway: "nope", To: "1555"})
	if got := status.Code(err); got != codes.NotFound {
		t.Errorf("PlaceCall on an unknown gateway: %v, want NotFound", err)
	}
	const id = "00000000-0000-0000-0000-000000000000"
	_, err = st.client.GetCall(ctx, &telephonyv1.GetCallRequest{CallId: id})
	if got := status.Code(err); got != codes.NotFound {
		t.Errorf("GetCall: %v, want NotFound", err)
	}
	_, err = st.client.HangUp(ctx, &telephonyv1.HangUpRequest{CallId: id})
	if got := status.Code(err); got != codes.NotFound {
		t.Errorf("HangUp: %v, want NotFound", err)
	}
	_, err = watch(t, st.client, id, 0, nil)
	if got := status.Code(err); got != codes.NotFound {
		t.Errorf("WatchCall: %v, want NotFound", err)
	}
	_, err = st.client.GetCall(ctx, &telephonyv1.GetCallRequest{})
	if got := status.Code(err); got != codes.InvalidArgument {
		t.Errorf("GetCall without id: %v, want InvalidArgument", err)
	}
}

// TestRequestIDPlacesOneCall checks idempotency: the same request_id returns the same call
// and the provider sees a single INVITE (TCP, so no retransmission blurs the count).
func TestRequestIDPlacesOneCall(t *testing.T) {
	uas := testenv.StartSIPp(t, "ring_forever", testenv.SIPpOptions{Transport: "tcp"})
	st := startStack(t, stackConfig{gateways: []sipengine.Gateway{{Name: "sipp", Address: uas.Addr(), Transport: sipengine.TCP}}})
	ctx := context.Background()
	req := &telephonyv1.PlaceCallRequest{Gateway: "sipp", To: "15550100180", RequestId: "crm-42",
		Labels: map[string]string{"campaign": "spring"}}
	first, err := st.client.PlaceCall(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	second, err := st.client.PlaceCall(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := first.GetCall().GetCallId(), second.GetCall().GetCallId(); a != b {
		t.Errorf("same request_id gave calls %s and %s, want one call", a, b)
	}
	list, err := st.client.ListCalls(ctx, &telephonyv1.ListCallsRequest{Labels: map[string]string{"campaign": "spring"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(list.GetCalls()); n != 1 {
		t.Errorf("ListCalls found %d calls, want 1", n)
	}
	// Hang up once it rings (the scenario expects its CANCEL after the 180), then again.
	id := first.GetCall().GetCallId()
	hangUp := hangUpOn(telephonyv1.CallState_CALL_STATE_RINGING)
	if _, err := watch(t, st.client, id, 0, func(ev *telephonyv1.CallEvent) { hangUp(t, st.client, ev) }); err != nil {
		t.Fatal(err)
	}
	hung, err := st.client.GetCall(ctx, &telephonyv1.GetCallRequest{CallId: id})
	if err != nil {
		t.Fatal(err)
	}
	if got := hung.GetCall().GetState(); got != telephonyv1.CallState_CALL_STATE_ENDED {
		t.Errorf("after HangUp the call is %v, want ENDED", got)
	}
	again, err := st.client.HangUp(ctx, &telephonyv1.HangUpRequest{CallId: id})
	if err != nil || again.GetCall().GetTermination().GetCause() != telephonyv1.TerminationCause_TERMINATION_CAUSE_HANGUP_REQUESTED {
		t.Errorf("second HangUp = %v, %v; want the same ended call", again.GetCall().GetTermination(), err)
	}
	uas.Wait(t)
	if n := strings.Count(uas.Messages(), "INVITE sip:"); n != 1 {
		t.Errorf("SIPp received %d INVITEs, want 1", n)
	}
}

// TestHealthAndReflection checks what grpcurl and load balancers rely on.
func TestHealthAndReflection(t *testing.T) {
	st := startStack(t, stackConfig{gateways: []sipengine.Gateway{{Name: "gw", Address: "127.0.0.1:9"}}})
	ctx := context.Background()
	res, err := healthpb.NewHealthClient(st.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "telephony.v1.CallService"})
	if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health of telephony.v1.CallService = %v, %v; want SERVING", res.GetStatus(), err)
	}
	stream, err := reflectionpb.NewServerReflectionClient(st.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !slices.Contains(names, "telephony.v1.CallService") {
		t.Errorf("reflection lists %v, want telephony.v1.CallService among them", names)
	}
}
