package tracker

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ccplane/telephony"
)

// bucketsOf adds up calls' counters per gateway and hour, as the stores do, and returns the
// buckets newest first so that BuildReport cannot rely on their order.
func bucketsOf(specs []callSpec) []Bucket {
	var out []Bucket
	for _, s := range specs {
		c := s.call()
		i := slices.IndexFunc(out, func(b Bucket) bool { return b.Gateway == c.Gateway && b.Hour.Equal(HourOf(c)) })
		if i < 0 {
			out = append(out, Bucket{Gateway: c.Gateway, Hour: HourOf(c), Counters: map[string]int64{}})
			i = len(out) - 1
		}
		for k, v := range Counters(c) {
			out[i].Counters[k] += v
		}
	}
	slices.Reverse(out)
	return out
}

var testMeanings = Meanings{"gw-b": {480: "channel capacity of our trunk exceeded: lower the gateway's concurrency limit"}}

func TestReportFigures(t *testing.T) {
	r := BuildReport(ReportQuery{Gateway: "gw-a", From: h10, To: h11}, bucketsOf(mixedBatch()), testMeanings)
	if len(r.Gateways) != 1 || len(r.Gateways[0].Periods) != 1 {
		t.Fatalf("got %v gateways, want 1 with 1 period", len(r.Gateways))
	}
	s := r.Gateways[0].Periods[0].Stats
	type codeCount struct{ Code, Count int64 }
	var codes []codeCount
	for _, c := range s.Codes {
		codes = append(codes, codeCount{int64(c.Code), c.Count})
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{name: "calls", got: s.Calls, want: int64(11)},
		{name: "attempts exclude 9XX", got: s.Attempts, want: int64(10)},
		{name: "answered", got: s.Answered, want: int64(3)},
		{name: "blocked", got: s.Blocked, want: int64(1)},
		{name: "ASR", got: s.ASR, want: 0.3},
		{name: "NER", got: s.NER, want: 0.6},
		{name: "ACD", got: s.ACD, want: 30016666666 * time.Nanosecond},
		{name: "PDD calls", got: s.PDDCalls, want: int64(5)},
		{name: "kill share", got: s.KillShare, want: 6.0 / 11},
		{name: "parties", got: s.Parties, want: []PartyCount{{telephony.PartyKill, 6}, {telephony.PartyFinish, 5}}},
		{name: "codes, most frequent first", got: codes, want: []codeCount{{200, 3}, {0, 2}, {180, 1}, {404, 1}, {486, 1}, {503, 1}, {603, 1}, {900, 1}}},
		{name: "causes", got: s.Causes, want: []CauseCount{{telephony.CauseRemoteRejected, 4}, {telephony.CauseHangupRequested, 2},
			{telephony.CauseRingTimeout, 1}, {telephony.CauseSetupTimeout, 1}, {telephony.CauseTransportError, 1},
			{telephony.CauseRemoteHangup, 1}, {telephony.CauseDirectionBlocked, 1}}},
		{name: "period bounds", got: []time.Time{r.Gateways[0].Periods[0].Start, r.Gateways[0].Periods[0].End}, want: []time.Time{h10, h11}},
		{name: "gateway total is the one period", got: r.Gateways[0].Total.Calls, want: int64(11)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.got); diff != "" {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
	// The histogram only knows a delay to its bucket: 100 ms wide below 2 s, 250 ms to 5 s.
	pdd := []struct {
		name           string
		got, want, tol time.Duration
	}{
		{name: "PDD p50", got: s.PDD50, want: 1100 * milli, tol: 100 * milli},
		{name: "PDD p95", got: s.PDD95, want: 3400 * milli, tol: 250 * milli},
	}
	for _, tc := range pdd {
		t.Run(tc.name, func(t *testing.T) {
			if d := tc.got - tc.want; d.Abs() >= tc.tol {
				t.Errorf("got %v, want %v ± %v", tc.got, tc.want, tc.tol)
			}
		})
	}
}

func TestReportPDDQuantile(t *testing.T) {
	hist := func(counts map[int]int64) *[pddBuckets]int64 {
		var h [pddBuckets]int64
		for i, n := range counts {
			h[i] = n
		}
		return &h
	}
	tests := []struct {
		name string
		hist *[pddBuckets]int64
		q    float64
		want time.Duration
	}{
		{name: "empty", hist: hist(nil), q: 0.5, want: 0},
		{name: "one call sits mid-bucket", hist: hist(map[int]int64{11: 1}), q: 0.5, want: 1150 * milli},
		{name: "spread over a bucket", hist: hist(map[int]int64{0: 10}), q: 0.5, want: 45 * milli},
		{name: "p95 interpolates in its bucket", hist: hist(map[int]int64{0: 19, 42: 1}), q: 0.95, want: 97368421}, // 100 ms × 18.5/19
		{name: "p100 in a wide bucket", hist: hist(map[int]int64{0: 19, 42: 1}), q: 1, want: 10500 * milli},
		{name: "beyond 30 s reads 30 s", hist: hist(map[int]int64{62: 3}), q: 0.5, want: 30 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := pddQuantile(tc.hist, tc.q); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReportCodesExplained(t *testing.T) {
	r := BuildReport(ReportQuery{}, bucketsOf(mixedBatch()), testMeanings)
	find := func(s Stats, code int) CodeCount {
		for _, c := range s.Codes {
			if c.Code == code {
				return c
			}
		}
		t.Fatalf("code %d missing", code)
		return CodeCount{}
	}
	std := Explain(480)
	tests := []struct {
		name  string
		got   CodeCount
		wantG string
	}{
		{name: "gw-b's own meaning beside the standard one", got: find(r.Gateways[1].Total, 480), wantG: testMeanings["gw-b"][480]},
		{name: "gw-a has none", got: find(r.Gateways[0].Total, 480), wantG: ""},
		{name: "the all-gateways total has none", got: find(r.Total, 480), wantG: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := CodeCount{Code: 480, Reason: "Temporarily Unavailable", Count: tc.got.Count, Share: tc.got.Share,
				Meaning: std.Meaning, Practice: std.Practice, GatewayMeaning: tc.wantG}
			if tc.got != want {
				t.Errorf("got %+v, want %+v", tc.got, want)
			}
		})
	}
	if c := find(r.Total, 480); c.Count != 2 || c.Share != 2.0/17 {
		t.Errorf("got 480 count %v share %v, want 2 and %v", c.Count, c.Share, 2.0/17)
	}
}

func TestReportGrouping(t *testing.T) {
	type period struct {
		gateway    string
		start, end time.Time
		calls      int64
	}
	tests := []struct {
		name      string
		query     ReportQuery
		want      []period
		wantTotal int64
	}{
		{name: "hourly, open range", query: ReportQuery{Gateway: "gw-a"},
			want: []period{{"gw-a", h10, h11, 11}, {"gw-a", h11, h11.Add(time.Hour), 2}, {"gw-a", d2h09, d2h09.Add(time.Hour), 1}}, wantTotal: 14},
		{name: "daily", query: ReportQuery{Gateway: "gw-a", Granularity: Daily},
			want: []period{{"gw-a", day1, day2, 13}, {"gw-a", day2, day2.Add(24 * time.Hour), 1}}, wantTotal: 14},
		{name: "To is exclusive", query: ReportQuery{Gateway: "gw-a", From: h11, To: d2h09},
			want: []period{{"gw-a", h11, h11.Add(time.Hour), 2}}, wantTotal: 2},
		{name: "From is rounded down to the hour", query: ReportQuery{Gateway: "gw-a", From: h10.Add(30 * time.Minute), To: h11},
			want: []period{{"gw-a", h10, h11, 11}}, wantTotal: 11},
		{name: "From inclusive", query: ReportQuery{Gateway: "gw-a", From: d2h09, To: d2h09.Add(time.Hour)},
			want: []period{{"gw-a", d2h09, d2h09.Add(time.Hour), 1}}, wantTotal: 1},
		{name: "daily over part of a day", query: ReportQuery{Gateway: "gw-a", From: h11, Granularity: Daily},
			want: []period{{"gw-a", day1, day2, 2}, {"gw-a", day2, day2.Add(24 * time.Hour), 1}}, wantTotal: 3},
		{name: "all gateways, daily", query: ReportQuery{Granularity: Daily},
			want: []period{{"gw-a", day1, day2, 13}, {"gw-a", day2, day2.Add(24 * time.Hour), 1}, {"gw-b", day1, day2, 3}}, wantTotal: 17},
		{name: "one gateway", query: ReportQuery{Gateway: "gw-b", From: day1, To: day2},
			want: []period{{"gw-b", h10, h11, 3}}, wantTotal: 3},
		{name: "unknown gateway", query: ReportQuery{Gateway: "gw-x"}, wantTotal: 0},
		{name: "range without calls", query: ReportQuery{From: day2.Add(10 * time.Hour)}, wantTotal: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := BuildReport(tc.query, bucketsOf(mixedBatch()), nil)
			var got []period
			for _, g := range r.Gateways {
				for _, p := range g.Periods {
					got = append(got, period{g.Gateway, p.Start, p.End, p.Calls})
				}
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(period{})); diff != "" {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if r.Total.Calls != tc.wantTotal {
				t.Errorf("got total %v, want %v", r.Total.Calls, tc.wantTotal)
			}
			if math.IsNaN(r.Total.ASR) || math.IsNaN(r.Total.NER) || math.IsNaN(r.Total.KillShare) {
				t.Errorf("got ratios %v %v %v, want numbers", r.Total.ASR, r.Total.NER, r.Total.KillShare)
			}
		})
	}
}

func TestReportBucketsAsStoresReturnThem(t *testing.T) {
	want := BuildReport(ReportQuery{}, bucketsOf(mixedBatch()), testMeanings)
	tests := []struct {
		name   string
		change func([]Bucket) []Bucket
	}{
		{name: "any order", change: func(b []Bucket) []Bucket { slices.Reverse(b); return b }},
		{name: "an hour split in two buckets", change: func(b []Bucket) []Bucket {
			half := Bucket{Gateway: b[0].Gateway, Hour: b[0].Hour.In(time.FixedZone("X", 7200)), Counters: map[string]int64{}}
			for k, v := range b[0].Counters {
				half.Counters[k] = v / 2
				b[0].Counters[k] = v - v/2
			}
			return append(b, half)
		}},
		{name: "unknown counters are skipped", change: func(b []Bucket) []Bucket {
			for _, k := range []string{"future", "pdd:999", "pdd:-1", "code:x", "party:other"} {
				b[0].Counters[k] = 5
			}
			return append(b, Bucket{Gateway: "gw-a", Hour: h10})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := BuildReport(ReportQuery{}, tc.change(bucketsOf(mixedBatch())), testMeanings)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("report changed (-want +got):\n%s", diff)
			}
		})
	}
}

// benchBuckets is 50 gateways × 30 days of hourly buckets, 28 calls each: 1,008,000 calls.
func benchBuckets() []Bucket {
	specs := mixedBatch()
	templates := make([]map[string]int64, 16)
	for i := range templates {
		templates[i] = map[string]int64{}
		for j := range 28 {
			s := specs[(i*7+j)%len(specs)]
			s.pdd += time.Duration(i*j%40) * 50 * milli // spread the delays over the histogram
			for k, v := range Counters(s.call()) {
				templates[i][k] += v
			}
		}
	}
	var out []Bucket
	for g := range 50 {
		for h := range 24 * 30 {
			out = append(out, Bucket{Gateway: fmt.Sprintf("gw-%02d", g), Hour: day1.Add(time.Duration(h) * time.Hour),
				Counters: templates[(g+h)%len(templates)]})
		}
	}
	return out
}

func BenchmarkBuildReport(b *testing.B) {
	buckets := benchBuckets()
	for _, g := range []struct {
		name string
		gran Granularity
	}{{"hourly", Hourly}, {"daily", Daily}} {
		b.Run(g.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := BuildReport(ReportQuery{Granularity: g.gran}, buckets, testMeanings)
				if r.Total.Calls != 50*24*30*28 {
					b.Fatalf("got %v calls, want %v", r.Total.Calls, 50*24*30*28)
				}
			}
		})
	}
}
