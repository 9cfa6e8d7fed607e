package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ccplane/telephony/client/clienttest"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// answered is the plan of a call the far side answers and ends after 5 ms.
func answered(string) fakePlan { return fakePlan{answer: true, talk: 5 * time.Millisecond} }

// loadJSON is the --json report as a script reads it.
type loadJSON struct {
	Attempted       int            `json:"attempted"`
	Answered        int            `json:"answered"`
	Successful      int            `json:"successful"`
	Failed          map[string]int `json:"failed"`
	TargetCPS       float64        `json:"target_cps"`
	Concurrency     int            `json:"concurrency"`
	AchievedCPS     float64        `json:"achieved_cps"`
	CompletedCPS    float64        `json:"completed_cps"`
	PlaceLatency    percentiles    `json:"place_latency_ms"`
	Setup           percentiles    `json:"setup_ms"`
	EventDelivery   percentiles    `json:"event_delivery_ms"`
	Events          int            `json:"events"`
	WatchAddr       string         `json:"watch_addr"`
	WallSeconds     float64        `json:"wall_seconds"`
	Service         *serviceUsage  `json:"service"`
	ToolCPUSeconds  *float64       `json:"tool_cpu_seconds"`
	PaceKept        bool           `json:"pace_kept"`
	PaceSlipSeconds float64        `json:"pace_slip_seconds"`
	Interrupted     bool           `json:"interrupted"`
}

// runLoadJSON runs callctl --json load with args and decodes its one line of output.
func runLoadJSON(t *testing.T, addr string, interrupts <-chan os.Signal, args ...string) (result, loadJSON) {
	t.Helper()
	r := runCLI(t, addr, nil, interrupts, append([]string{"--json", "load", "--gateway", "carrier-a"}, args...)...)
	var rep loadJSON
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("got exit %d stdout %q stderr %q (%v), want one JSON line", r.code, r.stdout, r.stderr, err)
	}
	return r, rep
}

func TestLoadCountAndNumbers(t *testing.T) {
	f := newLoadFake(answered)
	r := runCLI(t, f.serve(t), nil, nil, "load", "--gateway", "carrier-a", "--cps", "1000", "--count", "12", "--to-suffix", "200")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d stderr %q, want 0 and nothing", r.code, r.stderr)
	}
	placed, _, _ := f.counts()
	slices.Sort(placed)
	var want []string
	for n := 1; n <= 12; n++ {
		want = append(want, fmt.Sprintf("1555%02d200", n))
	}
	if diff := cmp.Diff(want, placed); diff != "" {
		t.Errorf("numbers placed (-want +got):\n%s", diff)
	}
	for _, line := range []string{`attempted +12`, `answered +12`, `successful +12`, `failed +0`,
		`started +[0-9.]+/s \(target 1000/s; starts up to \S+ late made up\)`, `setup time +p50 \S+ +p95 \S+ +p99 \S+ +max \S+`, `events +72 received, \d+ timed .*`} {
		if !regexp.MustCompile(`(?m)^` + line + `$`).MatchString(r.stdout) {
			t.Errorf("report: no line %q in\n%s", line, r.stdout)
		}
	}
}

func TestLoadPace(t *testing.T) {
	f := newLoadFake(answered)
	start := time.Now()
	r := runCLI(t, f.serve(t), nil, nil, "load", "--gateway", "carrier-a", "--cps", "100", "--count", "20")
	elapsed := time.Since(start)
	if r.code != 0 {
		t.Fatalf("exit %d stderr %q, want 0", r.code, r.stderr)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.placedAt) != 20 {
		t.Fatalf("got %d calls, want 20", len(f.placedAt))
	}
	// 19 intervals of 10 ms; the starts are never early, the arrivals jitter a little.
	if elapsed < 190*time.Millisecond {
		t.Errorf("run took %v, want at least 190ms", elapsed)
	}
	if span := f.placedAt[19].Sub(f.placedAt[0]); span < 180*time.Millisecond {
		t.Errorf("PlaceCalls arrived within %v, want about 190ms", span)
	}
}

func TestLoadConcurrency(t *testing.T) {
	f := newLoadFake(func(string) fakePlan { return fakePlan{answer: true, talk: 50 * time.Millisecond} })
	r, rep := runLoadJSON(t, f.serve(t), nil, "--concurrency", "3", "--count", "12")
	if r.code != 0 || rep.Successful != 12 || rep.Concurrency != 3 || rep.TargetCPS != 0 {
		t.Errorf("got exit %d and %+v, want 0 and 12 successful calls at concurrency 3", r.code, rep)
	}
	if _, maxLive, _ := f.counts(); maxLive != 3 {
		t.Errorf("calls in flight at most: got %d, want 3", maxLive)
	}
}

// failingPlan refuses every 5th call (ResourceExhausted) and lets every other 4th ring
// until its ring timeout; the rest are answered.
func failingPlan(to string) fakePlan {
	n, _ := strconv.Atoi(strings.TrimPrefix(to, "1555"))
	switch {
	case n%5 == 0:
		return fakePlan{refuse: status.Error(codes.ResourceExhausted, "gateway limit")}
	case n%4 == 0:
		return fakePlan{}
	}
	return answered(to)
}

func TestLoadFailures(t *testing.T) {
	addr := newLoadFake(failingPlan).serve(t)
	r, rep := runLoadJSON(t, addr, nil, "--cps", "1000", "--count", "20")
	if r.code != 1 || r.stderr != "callctl: load: 8 of 20 calls failed\n" {
		t.Errorf("got exit %d stderr %q, want 1 and the failure count", r.code, r.stderr)
	}
	if want := map[string]int{"rpc:ResourceExhausted": 4, "ring_timeout": 4}; !cmp.Equal(rep.Failed, want) {
		t.Errorf("failed: got %v, want %v", rep.Failed, want)
	}
	if rep.Attempted != 20 || rep.Answered != 12 || rep.Successful != 12 {
		t.Errorf("got %d attempted, %d answered, %d successful, want 20, 12, 12", rep.Attempted, rep.Answered, rep.Successful)
	}
	if rep.PlaceLatency.Count != 16 || rep.Setup.Count != 12 {
		t.Errorf("samples: got %d PlaceCall latencies and %d setup times, want 16 and 12", rep.PlaceLatency.Count, rep.Setup.Count)
	}

	r = runCLI(t, addr, nil, nil, "load", "--gateway", "carrier-a", "--cps", "1000", "--count", "20")
	if !regexp.MustCompile(`(?m)^failed +8\n  ring_timeout +4\n  rpc:ResourceExhausted +4\n`).MatchString(r.stdout) {
		t.Errorf("report: got\n%s\nwant the failures by cause", r.stdout)
	}
}

func TestLoadHold(t *testing.T) {
	f := newLoadFake(func(string) fakePlan { return fakePlan{answer: true} }) // the far side never hangs up
	r, rep := runLoadJSON(t, f.serve(t), nil, "--cps", "1000", "--count", "5", "--hold", "20ms")
	if r.code != 0 || rep.Successful != 5 || len(rep.Failed) != 0 {
		t.Errorf("got exit %d and %+v, want 0 and 5 successful calls", r.code, rep)
	}
	if _, _, hangUps := f.counts(); hangUps != 5 {
		t.Errorf("HangUps: got %d, want 5", hangUps)
	}
}

func TestLoadStuck(t *testing.T) {
	f := newLoadFake(func(string) fakePlan { return fakePlan{answer: true} })
	r, rep := runLoadJSON(t, f.serve(t), nil, "--cps", "1000", "--count", "3", "--timeout-call", "100ms")
	if want := map[string]int{outcomeStuck: 3}; r.code != 1 || !cmp.Equal(rep.Failed, want) || rep.Answered != 3 {
		t.Errorf("got exit %d and %+v, want 1 and 3 answered calls failed as %v", r.code, rep, want)
	}
	if _, _, hangUps := f.counts(); hangUps != 3 {
		t.Errorf("HangUps: got %d, want 3", hangUps)
	}
}

func TestLoadInterrupt(t *testing.T) {
	interrupts := make(chan os.Signal, 2)
	twoPlaced := make(chan struct{})
	var n atomic.Int32
	f := newLoadFake(func(string) fakePlan {
		if n.Add(1) == 2 {
			close(twoPlaced)
		}
		return fakePlan{answer: true} // never ends alone
	})
	addr := f.serve(t)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		<-twoPlaced
		interrupts <- os.Interrupt
	})
	r, rep := runLoadJSON(t, addr, interrupts, "--concurrency", "2", "--count", "50")
	if want := map[string]int{outcomeInterrupted: 2}; r.code != exitInterrupted || !rep.Interrupted || !cmp.Equal(rep.Failed, want) {
		t.Errorf("got exit %d and %+v, want %d and both calls failed as %v", r.code, rep, exitInterrupted, want)
	}
	if !strings.Contains(r.stderr, "interrupted: starting no more calls and hanging up the live ones") {
		t.Errorf("stderr: got %q, want the interrupt announced", r.stderr)
	}
	if placed, _, hangUps := f.counts(); len(placed) != 2 || hangUps != 2 || rep.Attempted != 2 {
		t.Errorf("got %d calls placed, %d attempted and %d hung up, want 2 each", len(placed), rep.Attempted, hangUps)
	}
}

func TestLoadJSONFields(t *testing.T) {
	addr := newLoadFake(answered).serve(t)
	r := runCLI(t, addr, nil, nil, "--json", "load", "--gateway", "carrier-a", "--cps", "50", "--count", "3", "--service-pid", strconv.Itoa(os.Getpid()))
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &fields); err != nil || r.code != 0 {
		t.Fatalf("got exit %d stdout %q (%v), want 0 and a JSON object", r.code, r.stdout, err)
	}
	want := []string{"achieved_cps", "answered", "attempted", "completed_cps", "concurrency", "event_delivery_ms", "events",
		"failed", "interrupted", "pace_kept", "pace_max_lag_ms", "pace_slip_seconds", "place_latency_ms", "service", "setup_ms", "successful",
		"target_cps", "tool_cpu_seconds", "wall_seconds", "watch_addr"}
	if got := slices.Sorted(maps.Keys(fields)); !cmp.Equal(got, want) {
		t.Errorf("fields: got %v, want %v", got, want)
	}
	if got := string(fields["failed"]); got != "{}" {
		t.Errorf("failed: got %s, want {}", got)
	}
	var rep loadJSON
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	switch {
	case rep.Attempted != 3 || rep.Answered != 3 || rep.Successful != 3 || rep.TargetCPS != 50:
		t.Errorf("calls: got %+v, want 3 attempted, answered and successful at 50 cps", rep)
	case rep.AchievedCPS <= 0 || rep.AchievedCPS > 51 || rep.CompletedCPS <= 0 || rep.WallSeconds < 0.04:
		t.Errorf("rates: got %v started and %v completed per second over %vs, want at most 50 and some", rep.AchievedCPS, rep.CompletedCPS, rep.WallSeconds)
	case rep.PlaceLatency.Count != 3 || rep.Setup.Count != 3 || rep.Events != 18:
		t.Errorf("samples: got %d PlaceCall, %d setup, %d events, want 3, 3, 18", rep.PlaceLatency.Count, rep.Setup.Count, rep.Events)
	case rep.EventDelivery.Count == 0 || rep.EventDelivery.Count > 18 || rep.EventDelivery.P50 > rep.EventDelivery.Max:
		t.Errorf("event delivery: got %+v, want some of the 18 events", rep.EventDelivery)
	case rep.Service == nil || rep.Service.PID != os.Getpid() || rep.Service.RSSBytes <= 0 || rep.Service.PeakRSSBytes < rep.Service.RSSBytes:
		t.Errorf("service: got %+v, want this test's process and its memory", rep.Service)
	case rep.ToolCPUSeconds == nil || *rep.ToolCPUSeconds < 0:
		t.Errorf("tool_cpu_seconds: got %v, want a figure", rep.ToolCPUSeconds)
	case rep.WatchAddr != addr:
		t.Errorf("watch_addr: got %q, want --addr %q", rep.WatchAddr, addr)
	}
}

// TestLoadWatchAddr runs the calls through one server and watches them through another,
// as a second instance of the service would: the first has no WatchCall, the second only
// WatchCall, so a call sent to the wrong one fails.
func TestLoadWatchAddr(t *testing.T) {
	f := newLoadFake(func(string) fakePlan { return fakePlan{answer: true} }) // only our --hold ends a call
	placer := serve(t, &clienttest.Service{PlaceCallFn: f.placeCall, HangUpFn: f.hangUp})
	var watches atomic.Int32
	watcher := serve(t, &clienttest.Service{WatchCallFn: func(req *telephonyv1.WatchCallRequest, st streamServer) error {
		watches.Add(1)
		return f.watchCall(req, st)
	}})
	r, rep := runLoadJSON(t, placer, nil, "--cps", "1000", "--count", "4", "--hold", "20ms", "--watch-addr", watcher)
	if r.code != 0 || rep.Successful != 4 || len(rep.Failed) != 0 {
		t.Errorf("got exit %d and %+v, want 0 and 4 successful calls", r.code, rep)
	}
	if rep.WatchAddr != watcher || rep.EventDelivery.Count == 0 {
		t.Errorf("got watch_addr %q and event delivery %+v, want %q and some timed events", rep.WatchAddr, rep.EventDelivery, watcher)
	}
	if placed, _, hangUps := f.counts(); len(placed) != 4 || hangUps != 4 || watches.Load() != 4 {
		t.Errorf("got %d PlaceCalls and %d HangUps on --addr, %d WatchCalls on --watch-addr, want 4 each", len(placed), hangUps, watches.Load())
	}

	r = runCLI(t, placer, nil, nil, "load", "--gateway", "carrier-a", "--cps", "1000", "--count", "1", "--hold", "20ms", "--watch-addr", watcher)
	if line := "watched through  " + watcher + "\n"; r.code != 0 || !strings.Contains(r.stdout, line) {
		t.Errorf("got exit %d and report\n%s\nwant 0 and the line %q", r.code, r.stdout, line)
	}
}

func TestLoadUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{name: "remote address", args: []string{"--addr", "192.0.2.1:50051", "load", "--gateway", "g", "--cps", "1"},
			wantStderr: "callctl: load: refusing --addr 192.0.2.1:50051: load places real calls, so it only runs against a service on this machine"},
		{name: "remote watch address", args: []string{"load", "--gateway", "g", "--cps", "1", "--watch-addr", "192.0.2.1:50051"},
			wantStderr: "callctl: load: refusing --watch-addr 192.0.2.1:50051: load places real calls"},
		{name: "empty watch address", args: []string{"load", "--gateway", "g", "--cps", "1", "--watch-addr", ""}, wantStderr: "load: --watch-addr is empty"},
		{name: "no gateway", args: []string{"load", "--cps", "1"}, wantStderr: "load: --gateway is required"},
		{name: "no mode", args: []string{"load", "--gateway", "g"}, wantStderr: "load: give one of --cps and --concurrency"},
		{name: "both modes", args: []string{"load", "--gateway", "g", "--cps", "1", "--concurrency", "2"}, wantStderr: "load: give one of --cps and --concurrency"},
		{name: "zero cps", args: []string{"load", "--gateway", "g", "--cps", "0"}, wantStderr: "load: --cps must be a number more than 0"},
		{name: "infinite cps", args: []string{"load", "--gateway", "g", "--cps", "+Inf"}, wantStderr: "load: --cps must be a number more than 0"},
		{name: "ramp without cps", args: []string{"load", "--gateway", "g", "--concurrency", "2", "--ramp", "1s"}, wantStderr: "load: --ramp needs --cps"},
		{name: "hold too long", args: []string{"load", "--gateway", "g", "--cps", "1", "--hold", "2m"}, wantStderr: "load: --hold must be shorter than --timeout-call"},
		{name: "letters", args: []string{"load", "--gateway", "g", "--cps", "1", "--to-prefix", "+1"}, wantStderr: "load: --to-prefix and --to-suffix must be digits only"},
		{name: "too many digits", args: []string{"load", "--gateway", "g", "--cps", "1", "--to-prefix", "1234567890", "--to-suffix", "12345678", "--count", "1000"},
			wantStderr: "load: numbers would have 22 digits (prefix, 4-digit counter, suffix); at most 20 are allowed"},
		{name: "argument", args: []string{"load", "--gateway", "g", "--cps", "1", "x"}, wantStderr: `load: unexpected argument "x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, "", nil, nil, tc.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.wantStderr) {
				t.Errorf("got exit %d stderr %q, want %d and %q", r.code, r.stderr, exitUsage, tc.wantStderr)
			}
		})
	}
}
