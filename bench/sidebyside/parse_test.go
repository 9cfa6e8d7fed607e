package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A -trace_stat file as SIPp 3.6.1 writes it, cut to the columns the bench reads plus one
// it does not; the last line is still being written.
const sippStatsFile = "StartTime;CurrentTime;OutgoingCall(C);IncomingCall(C);CurrentCall;SuccessfulCall(C);FailedCall(C);TargetRate\n" +
	"2026-11-25\t17:14:29.165805\t1795626869.165805;2026-11-25\t17:14:29.166000\t1795626869.166000;0;0;0;0;0;8000\n" +
	"2026-11-25\t17:14:29.165805\t1795626869.165805;2026-11-25\t17:14:30.168755\t1795626870.168755;8000;0;8000;0;0;8000\n" +
	"2026-11-25\t17:14:29.165805\t1795626869.165805;2026-11-25\t17:14:31.173164\t1795626871.173164;16032;0;9021;7011;0;8000\n" +
	"2026-11-25\t17:14:29.165805\t1795626869.165805;2026-11-25\t17:14:32.177193\t1795626872.177193;20000;0;0;19998;2;8000\n" +
	"2026-11-25\t17:14:29.165805\t1795626869.165805;2026-11-25\t17:14:33.1"

func TestParseSIPpStats(t *testing.T) {
	rows, err := parseSIPpStats(sippStatsFile)
	if err != nil {
		t.Fatal(err)
	}
	want := []sippRow{
		{Start: 1795626869.165805, Time: 1795626869.166},
		{Start: 1795626869.165805, Time: 1795626870.168755, Outgoing: 8000, Current: 8000},
		{Start: 1795626869.165805, Time: 1795626871.173164, Outgoing: 16032, Current: 9021, Successful: 7011},
		{Start: 1795626869.165805, Time: 1795626872.177193, Outgoing: 20000, Successful: 19998, Failed: 2},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("parseSIPpStats (-want +got):\n%s", diff)
	}
}

func TestParseSIPpStatsErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
	}{
		{name: "missing column", data: "StartTime;CurrentTime\n1;2\n"},
		{name: "short row", data: "StartTime;CurrentTime;OutgoingCall(C);IncomingCall(C);CurrentCall;SuccessfulCall(C);FailedCall(C)\n1;2;3\n"},
		{name: "not a number", data: "StartTime;CurrentTime;OutgoingCall(C);IncomingCall(C);CurrentCall;SuccessfulCall(C);FailedCall(C)\n1;2;x;0;0;0;0\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseSIPpStats(tc.data); err == nil {
				t.Errorf("parseSIPpStats(%q): got no error", tc.data)
			}
		})
	}
}

func TestPlacedBy(t *testing.T) {
	rows := []sippRow{
		{Time: 100, Outgoing: 0},
		{Time: 101, Outgoing: 1000},
		{Time: 102, Outgoing: 2000},
		{Time: 103, Outgoing: 2500},
		{Time: 104, Outgoing: 2500},
	}
	for _, tc := range []struct {
		name   string
		n      int
		want   float64
		wantOK bool
	}{
		{name: "on a row", n: 2000, want: 102, wantOK: true},
		{name: "between rows", n: 2250, want: 102.5, wantOK: true},
		{name: "first row", n: 0, want: 100, wantOK: true},
		{name: "never", n: 3000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := placedBy(rows, tc.n)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("placedBy(%d): got %v, %v, want %v, %v", tc.n, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestParseMetrics(t *testing.T) {
	body := `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 4024
process_resident_memory_bytes 1.17116928e+08
telephony_calls_active{gateway="sweep"} 0
telephony_calls_active{gateway="uas"} 2000
`
	got := parseMetrics(body)
	want := map[string]float64{
		"go_goroutines":                           4024,
		"process_resident_memory_bytes":           117116928,
		`telephony_calls_active{gateway="sweep"}`: 0,
		`telephony_calls_active{gateway="uas"}`:   2000,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseMetrics (-want +got):\n%s", diff)
	}
}

func TestParseMemStats(t *testing.T) {
	body := "heap profile: 1: 2 [3: 4] @ heap/1048576\n1: 2 [3: 4] @ 0x1 0x2\n#\t0x1\truntime.malg+0x1\n\n" +
		"# runtime.MemStats\n# Alloc = 9065208\n# HeapAlloc = 9065208\n# HeapInuse = 12812288\n# PauseNs = [1 2 3]\n"
	got := parseMemStats(body)
	want := map[string]int64{"Alloc": 9065208, "HeapAlloc": 9065208, "HeapInuse": 12812288}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseMemStats (-want +got):\n%s", diff)
	}
}

func TestParseProcStatCPU(t *testing.T) {
	// The command name may hold spaces and parentheses.
	stat := "4242 (tele phon)d) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 130 0 0 20 0 12 0 100 0 0"
	got, err := parseProcStatCPU(stat)
	if err != nil || got != 3.8 {
		t.Errorf("parseProcStatCPU: got %v, %v, want 3.8, nil", got, err)
	}
	if _, err := parseProcStatCPU("4242 (x) S 1"); err == nil {
		t.Error("parseProcStatCPU of a short line: got no error")
	}
}

func TestSpreadOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    []float64
		want spread
	}{
		{name: "none", want: spread{}},
		{name: "one", v: []float64{5}, want: spread{Min: 5, Median: 5, Max: 5, N: 1}},
		{name: "odd", v: []float64{9, 1, 5}, want: spread{Min: 1, Median: 5, Max: 9, N: 3}},
		{name: "even", v: []float64{4, 1, 2, 8}, want: spread{Min: 1, Median: 3, Max: 8, N: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := spreadOf(tc.v); got != tc.want {
				t.Errorf("spreadOf(%v): got %+v, want %+v", tc.v, got, tc.want)
			}
		})
	}
}
