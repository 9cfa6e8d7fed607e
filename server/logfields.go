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

// callFields holds the call id and gateway an RPC names, for the line logged when the RPC
// finishes, so that an operator can grep one call's API traffic next to its SIP log lines.
// For unary RPCs, callFieldsScope puts an empty one into the context before the logging
// interceptor and callFieldsUnary fills it in after; the logger reads it through
// logging.WithFieldsFromContext once the RPC is done. (logging.AddFields would copy the
// interceptor's whole field list into a new slice for each RPC.) Streams are logged by
// streamLogger, which keeps its own.
type callFields struct{ callID, gateway string }

type callFieldsKey struct{}

// list returns the fields to log.
func (f *callFields) list() logging.Fields {
	var out logging.Fields
	if f.callID != "" {
		out = append(out, "call_id", f.callID)
	}
	if f.gateway != "" {
		out = append(out, "gateway_id", f.gateway)
	}
	return out
}

// add fills in the call id and gateway msg names, if any. An RPC's handler runs in one
// goroutine, and the logger reads the fields after it returned, so no lock is needed.
func (f *callFields) add(msg any) {
	if m, ok := msg.(hasCallID); ok && m.GetCallId() != "" {
		f.callID = m.GetCallId()
	}
	if m, ok := msg.(hasGateway); ok && m.GetGateway() != "" {
		f.gateway = m.GetGateway()
	}
}

// logFields is the logging interceptor's WithFieldsFromContext: the RPC's call fields.
func logFields(ctx context.Context) logging.Fields {
	if f, ok := ctx.Value(callFieldsKey{}).(*callFields); ok {
		return f.list()
	}
	return nil
}

// callFieldsScope goes before the logging interceptor.
func callFieldsScope(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	return handler(context.WithValue(ctx, callFieldsKey{}, &callFields{}), req)
}

// callFieldsUnary adds the call fields of the request, and of the call a response carries
// (PlaceCall's new call id).
func callFieldsUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	f, ok := ctx.Value(callFieldsKey{}).(*callFields)
	if !ok {
		return handler(ctx, req)
	}
	f.add(req)
	resp, err := handler(ctx, req)
	if r, ok := resp.(hasCall); ok && r.GetCall() != nil {
		f.add(r.GetCall())
	}
	return resp, err
}
