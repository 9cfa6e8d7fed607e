package client

import (
	"context"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// ListGateways returns the server's gateways, sorted by name, with their keep-alive state,
// limits and load. It only reads, so it is retried on Unavailable.
func (c *Client) ListGateways(ctx context.Context) ([]*telephonyv1.Gateway, error) {
	resp, err := invoke(ctx, c, true, c.gateways.ListGateways, &telephonyv1.ListGatewaysRequest{})
	return resp.GetGateways(), err
}
