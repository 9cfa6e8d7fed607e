package client

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ccplane/telephony/client/clienttest"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// reportsFake is a ReportService that records every request, fails the first ones with errs
// in turn, and then answers resp.
type reportsFake struct {
	errs []codes.Code
	resp *telephonyv1.GetSipReportResponse

	mu   sync.Mutex
	reqs []*telephonyv1.GetSipReportRequest
}

func (f *reportsFake) service() *clienttest.ReportService {
	return &clienttest.ReportService{
		GetSipReportFn: func(_ context.Context, r *telephonyv1.GetSipReportRequest) (*telephonyv1.GetSipReportResponse, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.reqs = append(f.reqs, r)
			if n := len(f.reqs); n <= len(f.errs) {
				return nil, status.Error(f.errs[n-1], "fake")
			}
			return f.resp, nil
		},
	}
}

func (f *reportsFake) requests() []*telephonyv1.GetSipReportRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs
}

func TestGetSipReport(t *testing.T) {
	req := &telephonyv1.GetSipReportRequest{
		Gateway:     "carrier-a",
		From:        timestamppb.New(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)),
		To:          timestamppb.New(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)),
		Granularity: telephonyv1.ReportGranularity_REPORT_GRANULARITY_DAY,
	}
	tests := []struct {
		name      string
		errs      []codes.Code
		wantCalls int
		wantCode  codes.Code
	}{
		{name: "answered", wantCalls: 1, wantCode: codes.OK},
		{name: "unavailable retried", errs: []codes.Code{codes.Unavailable, codes.Unavailable}, wantCalls: 3, wantCode: codes.OK},
		{name: "gives up after the attempt limit", errs: []codes.Code{codes.Unavailable, codes.Unavailable, codes.Unavailable}, wantCalls: 3, wantCode: codes.Unavailable},
		{name: "invalid argument not retried", errs: []codes.Code{codes.InvalidArgument}, wantCalls: 1, wantCode: codes.InvalidArgument},
		{name: "not found not retried", errs: []codes.Code{codes.NotFound}, wantCalls: 1, wantCode: codes.NotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &reportsFake{errs: tc.errs, resp: sipReport()}
			c := New(serve(t, &clienttest.Service{Reports: f.service()}), WithRetry(3, time.Millisecond))
			resp, err := c.GetSipReport(t.Context(), req)
			if got := status.Code(err); got != tc.wantCode {
				t.Fatalf("code: got %v, want %v (err %v)", got, tc.wantCode, err)
			}
			reqs := f.requests()
			if len(reqs) != tc.wantCalls {
				t.Fatalf("server calls: got %d, want %d", len(reqs), tc.wantCalls)
			}
			if diff := cmp.Diff(req, reqs[len(reqs)-1], protocmp.Transform()); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(sipReport(), resp, protocmp.Transform()); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGetSipReportUnsetIsUnimplemented(t *testing.T) {
	_, err := New(serve(t, &clienttest.Service{})).GetSipReport(t.Context(), &telephonyv1.GetSipReportRequest{})
	if got, want := status.Code(err), codes.Unimplemented; got != want {
		t.Errorf("code: got %v, want %v (err %v)", got, want, err)
	}
}
