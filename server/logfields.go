package server

import (
	"context"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"google.golang.org/grpc"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// The request and response shapes that name a call or a gateway.
type (
	hasCallID  interface{ GetCallId() string }
	hasGateway interface{ GetGateway() string }
	hasCall    interface{ GetCall() *telephonyv1.Call }
)

// addCallFields puts the call id and gateway a request or response names into the fields
// the logging interceptor writes when the RPC finishes, so that an operator can grep one
// call's API traffic next to its SIP log lines.
func addCallFields(ctx context.Context, msg any) {
	var f logging.Fields
	if m, ok := msg.(hasCallID); ok && m.GetCallId() != "" {
		f = append(f, "call_id", m.GetCallId())
	}
	if m, ok := msg.(hasGateway); ok && m.GetGateway() != "" {
		f = append(f, "gateway_id", m.GetGateway())
	}
	if len(f) > 0 {
		logging.AddFields(ctx, f)
	}
}

// callFieldsUnary adds the call fields of the request, and of the call a response carries
// (PlaceCall's new call id).
func callFieldsUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	addCallFields(ctx, req)
	resp, err := handler(ctx, req)
	if r, ok := resp.(hasCall); ok && r.GetCall() != nil {
		addCallFields(ctx, r.GetCall())
	}
	return resp, err
}

// callFieldsStream adds the call fields of a stream's first request (WatchCall's call id).
func callFieldsStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, &fieldStream{ServerStream: ss})
}

type fieldStream struct {
	grpc.ServerStream
	seen bool
}

func (s *fieldStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil && !s.seen {
		s.seen = true
		addCallFields(s.Context(), m)
	}
	return err
}
