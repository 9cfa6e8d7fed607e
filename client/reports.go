package client

import (
	"context"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// GetSipReport returns the SIP-response report of req's range, one GatewayReport per gateway
// with calls in it, as the server computed it. It only reads, so it is retried on
// Unavailable. Errors are the server's status errors, unchanged: InvalidArgument (range or
// granularity), NotFound (gateway), Unavailable (the record store cannot be reached).
func (c *Client) GetSipReport(ctx context.Context, req *telephonyv1.GetSipReportRequest) (*telephonyv1.GetSipReportResponse, error) {
	return invoke(ctx, c, true, c.reports.GetSipReport, req)
}
