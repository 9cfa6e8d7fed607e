package clienttest

import (
	"context"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// ReportService is a ReportService whose behaviour each test sets through function fields;
// a nil field answers Unimplemented. Serve registers it from Service.Reports.
type ReportService struct {
	telephonyv1.UnimplementedReportServiceServer
	GetSipReportFn func(context.Context, *telephonyv1.GetSipReportRequest) (*telephonyv1.GetSipReportResponse, error)
}

// GetSipReport implements telephonyv1.ReportServiceServer.
func (s *ReportService) GetSipReport(ctx context.Context, r *telephonyv1.GetSipReportRequest) (*telephonyv1.GetSipReportResponse, error) {
	return call(s.GetSipReportFn, ctx, r)
}

var _ telephonyv1.ReportServiceServer = (*ReportService)(nil)
