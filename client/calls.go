package client

import (
	"context"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// PlaceCall places an outbound call and returns it as the server accepted it (DIALING or
// later; ENDED if it was rejected before dialling). It is retried on Unavailable only when
// req.RequestId is set: without an idempotency key a retry could ring the callee twice.
// Errors are the server's status errors, unchanged.
func (c *Client) PlaceCall(ctx context.Context, req *telephonyv1.PlaceCallRequest) (*telephonyv1.Call, error) {
	resp, err := invoke(ctx, c, req.GetRequestId() != "", c.rpc.PlaceCall, req)
	if err != nil {
		return nil, err
	}
	return resp.GetCall(), nil
}

// HangUp ends a call (CANCEL before the answer, BYE after) and returns it, normally ENDED.
// HangUp is idempotent on the server, so it is retried on Unavailable.
func (c *Client) HangUp(ctx context.Context, callID string) (*telephonyv1.Call, error) {
	resp, err := invoke(ctx, c, true, c.rpc.HangUp, &telephonyv1.HangUpRequest{CallId: callID})
	if err != nil {
		return nil, err
	}
	return resp.GetCall(), nil
}

// GetCall returns one call; NotFound if the id is unknown. Retried on Unavailable.
func (c *Client) GetCall(ctx context.Context, callID string) (*telephonyv1.Call, error) {
	resp, err := invoke(ctx, c, true, c.rpc.GetCall, &telephonyv1.GetCallRequest{CallId: callID})
	if err != nil {
		return nil, err
	}
	return resp.GetCall(), nil
}

// ListCalls returns one page of calls, newest first. Retried on Unavailable.
func (c *Client) ListCalls(ctx context.Context, req *telephonyv1.ListCallsRequest) (*telephonyv1.ListCallsResponse, error) {
	return invoke(ctx, c, true, c.rpc.ListCalls, req)
}
