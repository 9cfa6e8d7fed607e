package server_test

import (
	"context"
	"strings"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/sipengine"
)

// violatedField returns the field named by an InvalidArgument's first violation: from the
// buf.validate.Violations of the proto rules, or from the BadRequest of a handler's check.
func violatedField(s *status.Status) string {
	for _, d := range s.Details() {
		switch d := d.(type) {
		case *validate.Violations:
			if len(d.GetViolations()) > 0 {
				return protovalidate.FieldPathString(d.GetViolations()[0].GetField())
			}
		case *errdetails.BadRequest:
			if len(d.GetFieldViolations()) > 0 {
				return d.GetFieldViolations()[0].GetField()
			}
		}
	}
	return ""
}

// TestProtoRules sends requests that break a rule of the .proto files to each service, unary
// and streaming, and checks that the validation interceptor refuses them with the field named
// in the message and in the violations.
func TestProtoRules(t *testing.T) {
	st := startStack(t, stackConfig{gateways: []sipengine.Gateway{{Name: "gw", Address: "127.0.0.1:9"}}})
	ctx := context.Background()
	tests := []struct {
		name  string
		call  func() error
		field string
	}{
		{name: "page size above 1000", field: "page_size", call: func() error {
			_, err := st.client.ListCalls(ctx, &telephonyv1.ListCallsRequest{PageSize: 1001})
			return err
		}},
		{name: "undefined state", field: "state", call: func() error {
			_, err := st.client.ListCalls(ctx, &telephonyv1.ListCallsRequest{State: 42})
			return err
		}},
		{name: "last code above 999", field: "last_code", call: func() error {
			_, err := st.client.ListCalls(ctx, &telephonyv1.ListCallsRequest{LastCode: proto.Int32(1000)})
			return err
		}},
		{name: "control character in a call id", field: "call_id", call: func() error {
			_, err := st.client.GetCall(ctx, &telephonyv1.GetCallRequest{CallId: "c\n1"})
			return err
		}},
		{name: "call id too long", field: "call_id", call: func() error {
			_, err := st.client.HangUp(ctx, &telephonyv1.HangUpRequest{CallId: strings.Repeat("c", 65)})
			return err
		}},
		{name: "watch without a call id", field: "call_id", call: func() error {
			_, err := watch(t, st.client, "", 0, nil)
			return err
		}},
		{name: "no rules to add", field: "rules", call: func() error {
			_, err := st.directions.AddRules(ctx, &telephonyv1.AddRulesRequest{Gateway: "gw"})
			return err
		}},
		{name: "prefix with a plus", field: "prefixes[0]", call: func() error {
			_, err := st.directions.RemoveRules(ctx, &telephonyv1.RemoveRulesRequest{Gateway: "gw", Prefixes: []string{"+7"}})
			return err
		}},
		{name: "report without from", field: "from", call: func() error {
			_, err := st.reports.GetSipReport(ctx, &telephonyv1.GetSipReportRequest{})
			return err
		}},
		{name: "report by two labels", field: "labels", call: func() error {
			_, err := st.reports.GetSipReport(ctx, &telephonyv1.GetSipReportRequest{From: timestamppb.Now(),
				Labels: map[string]string{"campaign": "spring", "agent_id": "7"}})
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := status.Convert(tc.call())
			if s.Code() != codes.InvalidArgument {
				t.Fatalf("code %v (%v), want InvalidArgument", s.Code(), s.Message())
			}
			if field := violatedField(s); field != tc.field || !strings.HasPrefix(s.Message(), tc.field+": ") {
				t.Errorf("violation on %q, message %q; want field %q named", field, s.Message(), tc.field)
			}
		})
	}
}

// TestProtoRulesReportEveryViolation checks that one refusal lists every broken rule, in the
// message and in the detail.
func TestProtoRulesReportEveryViolation(t *testing.T) {
	st := startStack(t, stackConfig{gateways: []sipengine.Gateway{{Name: "gw", Address: "127.0.0.1:9"}}})
	_, err := st.client.PlaceCall(context.Background(), &telephonyv1.PlaceCallRequest{})
	s := status.Convert(err)
	const want = "gateway: value is required; to: value is required"
	if s.Code() != codes.InvalidArgument || s.Message() != want {
		t.Errorf("got %v %q, want InvalidArgument %q", s.Code(), s.Message(), want)
	}
	var rules []string
	for _, d := range s.Details() {
		if v, ok := d.(*validate.Violations); ok {
			for _, v := range v.GetViolations() {
				rules = append(rules, protovalidate.FieldPathString(v.GetField())+" "+v.GetRuleId())
			}
		}
	}
	if got := strings.Join(rules, ", "); got != "gateway required, to required" {
		t.Errorf("violations %q, want gateway and to required", got)
	}
}
