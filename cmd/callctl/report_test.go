package main

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ccplane/telephony/client"
	"github.com/ccplane/telephony/client/clienttest"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

func utc(year int, month time.Month, day, hour, min int) *timestamppb.Timestamp {
	return timestamppb.New(time.Date(year, month, day, hour, min, 0, 0, time.UTC))
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{in: "2026-11-25", want: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)},
		{in: "2026-11-25T10:00", want: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)},
		{in: "2026-11-25T10:00:30", want: time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)},
		{in: "2026-11-25T10:00:00Z", want: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)},
		{in: "2026-11-25T10:00:00+01:00", want: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)},
		{in: "2026-11-25T10:00:00.250-05:00", want: time.Date(2026, 11, 25, 15, 0, 0, 250e6, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseTime(tc.in)
			if err != nil || !got.Equal(tc.want) {
				t.Errorf("parseTime(%q): got %v, %v, want %v", tc.in, got, err, tc.want)
			}
		})
	}
	for _, in := range []string{"", "2026-11-25 10:00", "25.11.2026", "2026-11-25T10", "yesterday", "2026-13-01"} {
		if _, err := parseTime(in); err == nil {
			t.Errorf("parseTime(%q): got nil error, want one", in)
		}
	}
}

func TestParseReport(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 37, 0, 0, time.UTC)
	const (
		hour = telephonyv1.ReportGranularity_REPORT_GRANULARITY_HOUR
		day  = telephonyv1.ReportGranularity_REPORT_GRANULARITY_DAY
	)
	tests := []struct {
		name string
		args []string
		want *telephonyv1.GetSipReportRequest
	}{
		{
			name: "default: the last 24h, to the server's now, server's granularity",
			want: &telephonyv1.GetSipReportRequest{From: utc(2026, 11, 24, 10, 37)},
		},
		{
			name: "last",
			args: []string{"--last", "6h", "--gateway", "carrier-a"},
			want: &telephonyv1.GetSipReportRequest{Gateway: "carrier-a", From: utc(2026, 11, 25, 4, 37)},
		},
		{
			name: "dates by day",
			args: []string{"--from", "2026-11-20", "--to", "2026-11-25", "--by", "day"},
			want: &telephonyv1.GetSipReportRequest{From: utc(2026, 11, 20, 0, 0), To: utc(2026, 11, 25, 0, 0), Granularity: day},
		},
		{
			name: "minutes and RFC 3339 by hour",
			args: []string{"--from", "2026-11-25T08:00", "--to=2026-11-25T10:30:00+01:00", "--by", "hour"},
			want: &telephonyv1.GetSipReportRequest{From: utc(2026, 11, 25, 8, 0), To: utc(2026, 11, 25, 9, 30), Granularity: hour},
		},
		{
			name: "from only: to the server's now",
			args: []string{"--from", "2026-11-25T00:00:00Z"},
			want: &telephonyv1.GetSipReportRequest{From: utc(2026, 11, 25, 0, 0)},
		},
		{
			name: "to only: the 24h before it",
			args: []string{"--to", "2026-11-20"},
			want: &telephonyv1.GetSipReportRequest{From: utc(2026, 11, 19, 0, 0), To: utc(2026, 11, 20, 0, 0)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseReport(tc.args, now)
			if err != nil {
				t.Fatalf("parseReport: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseReportUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantMsg string
	}{
		{name: "last and from", args: []string{"--last", "6h", "--from", "2026-11-25"}, wantMsg: "report: give --from or --last, not both"},
		{name: "last and to", args: []string{"--to", "2026-11-25", "--last", "6h"}, wantMsg: "report: give --to or --last, not both"},
		{name: "zero last", args: []string{"--last", "0s"}, wantMsg: "report: --last must be positive"},
		{name: "negative last", args: []string{"--last", "-1h"}, wantMsg: "report: --last must be positive"},
		{name: "last without unit", args: []string{"--last", "24"}, wantMsg: `invalid value "24" for flag -last`},
		{name: "unknown period", args: []string{"--by", "week"}, wantMsg: `report: --by: unknown period "week" (want hour or day)`},
		{name: "period in capitals", args: []string{"--by", "DAY"}, wantMsg: `unknown period "DAY"`},
		{
			name: "time with a space", args: []string{"--from", "2026-11-25 10:00"},
			wantMsg: `invalid value "2026-11-25 10:00" for flag -from: want RFC 3339 (2026-11-25T10:00:00Z), or 2026-11-25T10:00 or 2026-11-25 as UTC`,
		},
		{name: "bad to", args: []string{"--to", "tomorrow"}, wantMsg: `invalid value "tomorrow" for flag -to`},
		{name: "from after to", args: []string{"--from", "2026-11-26", "--to", "2026-11-25"}, wantMsg: "report: --from must be before --to"},
		{name: "empty range", args: []string{"--from", "2026-11-25", "--to", "2026-11-25T00:00:00Z"}, wantMsg: "report: --from must be before --to"},
		{name: "positional argument", args: []string{"carrier-a"}, wantMsg: `report: unexpected argument "carrier-a"`},
		{name: "json after the command", args: []string{"--json"}, wantMsg: "flag provided but not defined: -json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseReport(tc.args, t0)
			uerr, ok := errors.AsType[usageError](err)
			if !ok {
				t.Fatalf("got %v, want a usageError", err)
			}
			if uerr.command != "report" || !strings.Contains(uerr.msg, tc.wantMsg) {
				t.Errorf("got %q for %q, want a message containing %q for report", uerr.msg, uerr.command, tc.wantMsg)
			}
		})
	}
}

// reportServer is a fake ReportService that records requests and answers resp, or err.
type reportServer struct {
	resp *telephonyv1.GetSipReportResponse
	err  error

	mu   sync.Mutex
	reqs []*telephonyv1.GetSipReportRequest
}

func (s *reportServer) service() *clienttest.ReportService {
	return &clienttest.ReportService{
		GetSipReportFn: func(_ context.Context, r *telephonyv1.GetSipReportRequest) (*telephonyv1.GetSipReportResponse, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.reqs = append(s.reqs, r)
			return s.resp, s.err
		},
	}
}

func (s *reportServer) requests() []*telephonyv1.GetSipReportRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs
}

// oneGatewayReport is a small report: carrier-a over two days, a third of it 404.
func oneGatewayReport() *telephonyv1.GetSipReportResponse {
	figures := func(calls, answered, notFound int64) *telephonyv1.ReportFigures {
		return &telephonyv1.ReportFigures{
			Calls: calls, Attempts: calls, Answered: answered,
			Asr: float64(answered) / float64(calls), Ner: float64(calls-notFound) / float64(calls),
			Acd: durationpb.New(95 * time.Second), PddP50: durationpb.New(1800 * time.Millisecond),
			PddP95: durationpb.New(4 * time.Second), KillShare: 0.1,
			Codes: []*telephonyv1.CodeCount{
				{Status: &telephonyv1.SipStatus{Code: 200, Reason: "OK"}, Count: answered, Meaning: "The request succeeded."},
				{
					Status: &telephonyv1.SipStatus{Code: 404, Reason: "Not Found"}, Count: notFound,
					Meaning:        "The user does not exist at the domain in the Request-URI.",
					Practice:       "Usually an unallocated or wrongly formatted number.",
					GatewayMeaning: "Prefix not bought on this trunk.",
				},
			},
			Parties: []*telephonyv1.PartyCount{{Party: finish, Count: calls}},
			Causes:  []*telephonyv1.CauseCount{{Cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_REJECTED, Count: calls}},
		}
	}
	return &telephonyv1.GetSipReportResponse{Gateways: []*telephonyv1.GatewayReport{{
		Gateway: "carrier-a",
		Total:   figures(90, 60, 30),
		Periods: []*telephonyv1.PeriodReport{
			{Start: utc(2026, 11, 24, 0, 0), Figures: figures(30, 20, 10)},
			{Start: utc(2026, 11, 25, 0, 0), Figures: figures(60, 40, 20)},
		},
	}}}
}

const finish = telephonyv1.TerminationParty_TERMINATION_PARTY_FINISH

func TestReport(t *testing.T) {
	s := &reportServer{resp: oneGatewayReport()}
	addr := serve(t, &clienttest.Service{Reports: s.service()})

	r := runCLI(t, addr, nil, nil, "report", "--gateway", "carrier-a", "--from", "2026-11-24", "--to", "2026-11-26", "--by", "day")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("report: exit %d, stderr %q", r.code, r.stderr)
	}
	want := []*telephonyv1.GetSipReportRequest{{
		Gateway: "carrier-a", From: utc(2026, 11, 24, 0, 0), To: utc(2026, 11, 26, 0, 0),
		Granularity: telephonyv1.ReportGranularity_REPORT_GRANULARITY_DAY,
	}}
	if diff := cmp.Diff(want, s.requests(), protocmp.Transform()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if wantOut := client.FormatReport(oneGatewayReport()); r.stdout != wantOut {
		t.Errorf("stdout: got\n%s\nwant\n%s", r.stdout, wantOut)
	}
	for _, line := range []string{
		"  404   Not Found     30  33.3%  The user does not exist at the domain in the Request-URI.\n",
		"                                 on this gateway: Prefix not bought on this trunk.\n",
		"    404  Usually an unallocated or wrongly formatted number.\n",
		"  2026-11-25 00:00     60  66.7%  66.7%  1m35s  1.80s  200 OK (66.7%)\n",
	} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("stdout: got\n%s\nwant it to contain %q", r.stdout, line)
		}
	}

	// The clock of runCLI is t0 + 1 minute.
	r = runCLI(t, addr, nil, nil, "--json", "report", "--last", "6h")
	var got telephonyv1.GetSipReportResponse
	if err := protojson.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("--json report: got exit %d %q (%v), want one protojson line", r.code, r.stdout, err)
	}
	if diff := cmp.Diff(oneGatewayReport(), &got, protocmp.Transform()); diff != "" {
		t.Errorf("--json report (-want +got):\n%s", diff)
	}
	last := s.requests()[len(s.requests())-1]
	wantLast := &telephonyv1.GetSipReportRequest{From: timestamppb.New(t0.Add(time.Minute - 6*time.Hour))}
	if diff := cmp.Diff(wantLast, last, protocmp.Transform()); diff != "" {
		t.Errorf("--last 6h request (-want +got):\n%s", diff)
	}
}

func TestReportErrors(t *testing.T) {
	s := &reportServer{resp: &telephonyv1.GetSipReportResponse{}}
	addr := serve(t, &clienttest.Service{Reports: s.service()})

	r := runCLI(t, addr, nil, nil, "report")
	if r.code != 0 || r.stdout != "no calls in this range\n" {
		t.Errorf("empty report: got exit %d stdout %q, want 0 and no calls", r.code, r.stdout)
	}

	s.mu.Lock()
	s.err = status.Error(codes.NotFound, "gateway carrier-z not found")
	s.mu.Unlock()
	r = runCLI(t, addr, nil, nil, "report", "--gateway", "carrier-z")
	if want := "callctl: NotFound: gateway carrier-z not found\n"; r.code != 1 || r.stderr != want {
		t.Errorf("unknown gateway: got exit %d stderr %q, want 1 %q", r.code, r.stderr, want)
	}

	before := len(s.requests())
	r = runCLI(t, addr, nil, nil, "report", "--last", "24h", "--from", "2026-11-25")
	if r.code != exitUsage || !strings.HasPrefix(r.stderr, "callctl: report: give --from or --last, not both\n\nusage: callctl [global flags] report [flags]\n") {
		t.Errorf("--last with --from: got exit %d stderr %q, want 2 and the usage of report", r.code, r.stderr)
	}
	if n := len(s.requests()) - before; n != 0 {
		t.Errorf("requests after a usage error: got %d, want 0", n)
	}
}

func TestListFilters(t *testing.T) {
	var mu sync.Mutex
	var got []*telephonyv1.ListCallsRequest
	addr := serve(t, &clienttest.Service{
		ListCallsFn: func(_ context.Context, req *telephonyv1.ListCallsRequest) (*telephonyv1.ListCallsResponse, error) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, req)
			return &telephonyv1.ListCallsResponse{}, nil
		},
	})
	r := runCLI(t, addr, nil, nil, "list", "--code", "404", "--party", "finish")
	if r.code != 0 || r.stdout != "no calls\n" || r.stderr != "" {
		t.Fatalf("list: got exit %d stdout %q stderr %q, want 0 and no calls", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, addr, nil, nil, "list", "--code", "0", "--cause", "setup_timeout", "--from", "2026-11-25T10:00", "--to", "2026-11-25T11:00")
	if r.code != 0 {
		t.Fatalf("list: got exit %d stderr %q, want 0", r.code, r.stderr)
	}
	want := []*telephonyv1.ListCallsRequest{
		{LastCode: proto.Int32(404), Party: finish},
		{
			LastCode: proto.Int32(0), Cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_SETUP_TIMEOUT,
			CreatedAfter: utc(2026, 11, 25, 10, 0), CreatedBefore: utc(2026, 11, 25, 11, 0),
		},
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if len(got) == 2 && got[1].LastCode == nil {
		t.Error("--code 0: last_code not set on the wire, want set to 0")
	}
}

// The list usage spells out the causes by hand; it must name every one, and, like the
// report usage, fit in 100 columns.
func TestReportAndListUsage(t *testing.T) {
	list := runCLI(t, "", nil, nil, "help", "list")
	for v := range telephonyv1.TerminationCause_name {
		c := telephonyv1.TerminationCause(v)
		if c != telephonyv1.TerminationCause_TERMINATION_CAUSE_UNSPECIFIED && !strings.Contains(list.stdout, client.CauseName(c)) {
			t.Errorf("help list: cause %s not named", client.CauseName(c))
		}
	}
	report := runCLI(t, "", nil, nil, "help", "report")
	for name, r := range map[string]result{"list": list, "report": report} {
		if r.code != 0 {
			t.Errorf("help %s: exit %d, want 0", name, r.code)
		}
		for _, line := range strings.Split(r.stdout, "\n") {
			if n := len([]rune(line)); n > 100 {
				t.Errorf("help %s: line of %d columns, want at most 100: %q", name, n, line)
			}
		}
	}
}

func TestParseReportLabel(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	req, err := parseReport([]string{"--label", "campaign=spring"}, now)
	if err != nil || req.GetLabels()["campaign"] != "spring" || len(req.GetLabels()) != 1 {
		t.Errorf("--label campaign=spring: got %v, %v; want that one label", req.GetLabels(), err)
	}
	if _, err := parseReport([]string{"--label", "campaign=spring", "--label", "agent_id=7"}, now); err == nil {
		t.Error("two --label flags: got no error, want a usage error")
	}
}
