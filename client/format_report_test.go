package client

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	kill           = telephonyv1.TerminationParty_TERMINATION_PARTY_KILL
	finish         = telephonyv1.TerminationParty_TERMINATION_PARTY_FINISH
	remoteRejected = telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_REJECTED
	remoteHangup   = telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_HANGUP
	hangupAsked    = telephonyv1.TerminationCause_TERMINATION_CAUSE_HANGUP_REQUESTED
	ringTimeout    = telephonyv1.TerminationCause_TERMINATION_CAUSE_RING_TIMEOUT
	blocked        = telephonyv1.TerminationCause_TERMINATION_CAUSE_DIRECTION_BLOCKED
	transportError = telephonyv1.TerminationCause_TERMINATION_CAUSE_TRANSPORT_ERROR
)

func code(c int32, reason string, n int64, meaning, practice, gateway string) *telephonyv1.CodeCount {
	return &telephonyv1.CodeCount{
		Status: &telephonyv1.SipStatus{Code: c, Reason: reason}, Count: n,
		Meaning: meaning, Practice: practice, GatewayMeaning: gateway,
	}
}

func ms(n int64) *durationpb.Duration { return durationpb.New(time.Duration(n) * time.Millisecond) }

// Standard meanings and advice as the server sends them.
var (
	ok200 = func(n int64) *telephonyv1.CodeCount {
		return code(200, "OK", n, "The request succeeded: the callee answered.", "", "")
	}
	notFound404 = func(n int64, gateway string) *telephonyv1.CodeCount {
		return code(404, "Not Found", n, "The user does not exist at the domain in the Request-URI.",
			"Usually an unallocated number, a number in the wrong format, or a prefix the provider does not route for this trunk. Check the number as it was dialled (callctl get), then send the provider a sample with its Call-ID.",
			gateway)
	}
	busy486 = func(n int64) *telephonyv1.CodeCount {
		return code(486, "Busy Here", n, "The callee is reachable but busy.",
			"The callee is on another call or rejected it. Not a fault on either side; retry later.", "")
	}
	unavailable503 = func(n int64) *telephonyv1.CodeCount {
		return code(503, "Service Unavailable", n, "The server is temporarily unable to process the call.",
			"Provider overload or maintenance; if it lasts, ask the provider, and check the trunk's CPS limit.", "")
	}
)

// sipReport is a report over two gateways: carrier-a with two hourly periods, where a
// quarter of the calls end with 404, and carrier-b with one period.
func sipReport() *telephonyv1.GetSipReportResponse {
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	return &telephonyv1.GetSipReportResponse{Gateways: []*telephonyv1.GatewayReport{
		{
			Gateway: "carrier-a",
			Total: &telephonyv1.ReportFigures{
				Calls: 1200, Attempts: 1150, Answered: 460, Asr: 0.4, Ner: 0.925,
				Acd: durationpb.New(83 * time.Second), PddP50: ms(2100), PddP95: ms(6800), KillShare: 0.125,
				Codes: []*telephonyv1.CodeCount{
					ok200(460),
					notFound404(310, "Number not in our routing table; usually a prefix not bought on this trunk."),
					busy486(250),
					code(0, "", 100, "No response came.", "The INVITE went unanswered or could not be sent; see the causes.", ""),
					code(900, "Direction blocked", 50, "Ours: the number is outside the gateway's directions.", "Check callctl directions check.", ""),
					code(487, "Request Terminated", 30, "The request was cancelled (our CANCEL).", "", ""),
				},
				Parties: []*telephonyv1.PartyCount{{Party: finish, Count: 1050}, {Party: kill, Count: 150}},
				Causes: []*telephonyv1.CauseCount{
					{Cause: remoteRejected, Count: 590}, {Cause: remoteHangup, Count: 460},
					{Cause: ringTimeout, Count: 70}, {Cause: blocked, Count: 50}, {Cause: transportError, Count: 30},
				},
			},
			Periods: []*telephonyv1.PeriodReport{
				{Start: timestamppb.New(start), Figures: &telephonyv1.ReportFigures{
					Calls: 700, Attempts: 680, Answered: 300, Asr: 0.441, Ner: 0.95,
					Acd: durationpb.New(80 * time.Second), PddP50: ms(2000),
					Codes: []*telephonyv1.CodeCount{ok200(300), notFound404(150, "")},
				}},
				{Start: timestamppb.New(start.Add(time.Hour)), Figures: &telephonyv1.ReportFigures{
					Calls: 500, Attempts: 470, Answered: 160, Asr: 0.34, Ner: 0.89,
					Acd: durationpb.New(88 * time.Second), PddP50: ms(2300),
					Codes: []*telephonyv1.CodeCount{notFound404(160, ""), ok200(160)},
				}},
			},
		},
		{
			Gateway: "carrier-b",
			Total: &telephonyv1.ReportFigures{
				Calls: 40, Attempts: 40, Answered: 0, Asr: 0, Ner: 0.1,
				PddP50: ms(450), PddP95: ms(900), KillShare: 0,
				Codes:   []*telephonyv1.CodeCount{unavailable503(36), busy486(4)},
				Parties: []*telephonyv1.PartyCount{{Party: finish, Count: 40}},
				Causes:  []*telephonyv1.CauseCount{{Cause: remoteRejected, Count: 40}},
			},
			Periods: []*telephonyv1.PeriodReport{{Start: timestamppb.New(start), Figures: &telephonyv1.ReportFigures{Calls: 40}}},
		},
	}}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("got:\n%s\nwant (%s):\n%s", got, path, want)
	}
}

func TestFormatReport(t *testing.T) {
	got := FormatReport(sipReport())
	golden(t, "report.golden", got)
	for i, line := range strings.Split(got, "\n") {
		if n := utf8.RuneCountInString(line); n > reportWidth {
			t.Errorf("line %d: got %d columns, want at most %d: %q", i+1, n, reportWidth, line)
		}
		if strings.TrimRight(line, " ") != line {
			t.Errorf("line %d: trailing blanks: %q", i+1, line)
		}
	}
}

func TestFormatReportEdges(t *testing.T) {
	tests := []struct {
		name string
		resp *telephonyv1.GetSipReportResponse
		want string
	}{
		{name: "no gateways", resp: &telephonyv1.GetSipReportResponse{}, want: "no calls in this range\n"},
		{
			name: "only blocked calls: no attempts, no durations, a long reason",
			resp: &telephonyv1.GetSipReportResponse{Gateways: []*telephonyv1.GatewayReport{{
				Gateway: "carrier-c",
				Total: &telephonyv1.ReportFigures{
					Calls: 3, KillShare: 1,
					Codes: []*telephonyv1.CodeCount{code(900, "Direction blocked by the rules of carrier-c", 3, "", "", "")},
				},
				Periods: []*telephonyv1.PeriodReport{
					{Start: timestamppb.New(t0), Figures: &telephonyv1.ReportFigures{Calls: 1, Codes: []*telephonyv1.CodeCount{code(0, "", 1, "", "", "")}}},
					{Start: timestamppb.New(t0.Add(24 * time.Hour)), Figures: &telephonyv1.ReportFigures{Calls: 2}},
				},
			}}},
			want: strings.Join([]string{
				"gateway carrier-c",
				"  calls 3   attempts 0   answered 0   ASR -   NER -",
				"  ACD -   PDD p50 -, p95 -   kill share 100.0%",
				"",
				"  CODE  REASON                    CALLS   SHARE  MEANING",
				"  900   Direction blocked by th…      3  100.0%  -",
				"",
				"  By period (start, UTC):",
				"  PERIOD            CALLS  ASR  NER  ACD  PDD50  TOP CODE",
				"  2026-03-01 10:00      1    -    -    -      -  0 no response (100.0%)",
				"  2026-03-02 10:00      2    -    -    -      -  -",
				"",
			}, "\n"),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := FormatReport(tc.resp); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestWrapItems(t *testing.T) {
	tests := []struct {
		name  string
		items []string
		sep   string
		width int
		want  []string
	}{
		{name: "words", items: strings.Fields("one two three four"), sep: " ", width: 9, want: []string{"one two", "three", "four"}},
		{name: "a word longer than the line", items: []string{"a", "abcdefghijk", "b"}, sep: " ", width: 5, want: []string{"a", "abcdefghijk", "b"}},
		{name: "list keeps its commas", items: []string{"aa 1", "bb 2", "cc 3"}, sep: ", ", width: 11, want: []string{"aa 1, bb 2,", "cc 3"}},
		{name: "nothing", items: nil, sep: " ", width: 10, want: []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := wrapItems(tc.items, tc.sep, tc.width)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
