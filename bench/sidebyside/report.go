package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// The targets.
const (
	ratioTarget       = 0.5
	heapPerCallTarget = 8 << 10
)

// results is everything the run measured; its JSON is what docs/performance.md quotes.
type results struct {
	Machine  machine        `json:"machine"`
	Settings settingsView   `json:"settings"`
	SIPp     []searchResult `json:"sipp_searches,omitempty"`
	Service  []searchResult `json:"telephonyd_searches,omitempty"`
	Summary  summary        `json:"summary"`
	Live     *liveResult    `json:"live,omitempty"`
	Notes    []string       `json:"notes"`
	// Findings are what this run found that limits its figures.
	Findings []string `json:"findings"`
}

// settingsView is the settings as the JSON shows them.
type settingsView struct {
	Quick        bool    `json:"quick"`
	Repeat       int     `json:"repeat"`
	StartCPS     int     `json:"start_cps"`
	MaxCPS       int     `json:"max_cps"`
	Factor       float64 `json:"factor"`
	Bisect       int     `json:"bisect"`
	StepSeconds  float64 `json:"step_seconds"`
	HoldSeconds  float64 `json:"hold_seconds"`
	Pace         float64 `json:"pace"`
	MaxLagSec    float64 `json:"max_lag_seconds"`
	LiveCalls    int     `json:"live_calls"`
	LiveCPS      int     `json:"live_cps"`
	LiveHoldSec  float64 `json:"live_hold_seconds"`
	WarmWaitSec  float64 `json:"warm_wait_seconds"`
	SettleSec    float64 `json:"settle_seconds"`
	Transport    string  `json:"transport"`
	ServiceNotes string  `json:"telephonyd_config"`
}

// spread is a figure over the repeated searches.
type spread struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

func spreadOf(v []float64) spread {
	if len(v) == 0 {
		return spread{}
	}
	s := slices.Sorted(slices.Values(v))
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return spread{Min: s[0], Median: m, Max: s[len(s)-1], N: len(s)}
}

// summary holds the headline figures.
type summary struct {
	// SIPpCPS is L: SIPp's caller against the provider, calls per second at zero failures.
	SIPpCPS    spread `json:"sipp_uac_cps"`
	ServiceCPS spread `json:"telephonyd_cps"`
	// Ratio is telephonyd's figure over L, search by search.
	Ratio       spread  `json:"ratio"`
	RatioTarget float64 `json:"ratio_target"`
	RatioMet    *bool   `json:"ratio_met,omitempty"`
	// RatioCeiling is the ratio telephonyd would reach if it took no CPU at all: the
	// machine's CPUs over what the other processes of its run (callctl, Redis, the provider)
	// took per call at its best step, over L; search by search.
	RatioCeiling spread `json:"ratio_ceiling_free_telephonyd"`
	// Heap per live call against its target.
	HeapPerCallTarget int   `json:"heap_per_call_target_bytes"`
	HeapMet           *bool `json:"heap_per_call_met,omitempty"`
}

func (r *results) finish(set settings) {
	r.Findings = []string{}
	r.Settings = settingsView{
		Quick: set.Quick, Repeat: set.Repeat, StartCPS: set.StartCPS, MaxCPS: set.MaxCPS, Factor: set.Factor,
		Bisect: set.Bisect, StepSeconds: set.Step.Seconds(), HoldSeconds: set.Hold.Seconds(), Pace: set.Pace,
		MaxLagSec: set.MaxLag.Seconds(), LiveCalls: set.LiveCalls, LiveCPS: set.LiveCPS,
		LiveHoldSec: set.LiveHold.Seconds(), WarmWaitSec: set.WarmWait.Seconds(), SettleSec: set.Settle.Seconds(),
		Transport:    "UDP on 127.0.0.1",
		ServiceNotes: "one gateway, no limits, no keep-alive; records in a local redis-server; event_retention 10s; log level warn",
	}
	var l, t, ratio, ceiling []float64
	for i, s := range r.SIPp {
		l = append(l, float64(s.Best))
		if i >= len(r.Service) || s.Best == 0 {
			continue
		}
		ratio = append(ratio, float64(r.Service[i].Best)/float64(s.Best))
		if st := r.Service[i].bestStep(); st != nil {
			if ms := st.othersMS(); ms > 0 {
				ceiling = append(ceiling, float64(r.Machine.CPUs)*1000/ms/float64(s.Best))
			}
		}
	}
	for _, s := range r.Service {
		t = append(t, float64(s.Best))
	}
	r.Summary = summary{SIPpCPS: spreadOf(l), ServiceCPS: spreadOf(t), Ratio: spreadOf(ratio),
		RatioCeiling: spreadOf(ceiling), RatioTarget: ratioTarget, HeapPerCallTarget: heapPerCallTarget}
	if len(ratio) > 0 {
		met := r.Summary.Ratio.Median >= ratioTarget
		r.Summary.RatioMet = &met
	}
	if r.Live != nil && r.Live.Peak.Active > 0 {
		met := r.Live.HeapPerCall < heapPerCallTarget
		r.Summary.HeapMet = &met
	}
	r.Notes = append(r.Notes,
		"SIPp's caller and provider share the machine's CPUs, as callctl, telephonyd, redis-server and the provider do.",
		"A step is clean when every call succeeded (caller and provider agree), calls were placed at the target pace, and the last one ended in time.",
		"Per-call memory divides the growth over the baseline taken before any call (heap after a forced GC, RSS) by the calls live at the peak; it includes telephonyd's side of one WatchCall stream per call.",
		fmt.Sprintf("The growth check compares with a warm baseline, taken %.0f s after short warm-up calls, so that", set.WarmWait.Seconds())+" one-time growth (connection pools, caches) is not counted; "+
			"it allows 5% of the peak's growth (at least 2 MiB: map buckets, pool buffers) plus 0.5 KiB per peak goroutine (the runtime keeps their descriptors for reuse).")
	r.Notes = append(r.Notes, "CPU per call is each process's CPU time over the step (until the provider was idle again), "+
		"idle polling included, divided by the step's calls: meaningful near the limit, inflated at low rates.")
	if r.Live != nil && set.WarmWait < 32*time.Second {
		r.Findings = append(r.Findings, fmt.Sprintf("The warm baseline was taken %v after the warm-up, before sipgo's "+
			"transactions of those calls expire (32 s): it is high, and the growth check lenient.", set.WarmWait))
	}
	for _, s := range append(slices.Clone(r.SIPp), r.Service...) {
		if s.Capped {
			r.Findings = append(r.Findings, fmt.Sprintf("A search reached -max-cps %d with every step clean: its figure is a lower bound.", set.MaxCPS))
			break
		}
	}
	if l := r.Live; l != nil && !l.AfterEnd.Back && l.AfterSecondWave.Back {
		r.Findings = append(r.Findings, "After the end the heap stayed above the warm baseline by more than the allowance, "+
			"but a second wave of as many calls added nothing: it is kept by the peak (map buckets, goroutine descriptors), not per call.")
	}
	if l := r.Live; l != nil && !l.AfterSecondWave.Back {
		r.Findings = append(r.Findings, "A second wave of calls grew the heap or the goroutines again: growth per call.")
	}
	if l := r.Live; l != nil && !(l.AfterEnd.Back && l.AfterSecondWave.Back) {
		r.Findings = append(r.Findings, fmt.Sprintf("Heap profiles at each moment: %s "+
			"(go tool pprof -top -sample_index=inuse_space FILE).", l.profiles))
	}
	if r.Live != nil && !r.Live.Complete {
		r.Findings = append(r.Findings, fmt.Sprintf("Only %d of %d live calls were up at once; per-call figures divide by %d.",
			r.Live.Peak.Active, r.Live.Calls, r.Live.Peak.Active))
	}
}

// medianSearch is the search whose figure is the median one (the lower of two).
func medianSearch(s []searchResult) *searchResult {
	if len(s) == 0 {
		return nil
	}
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return s[a].Best - s[b].Best })
	return &s[idx[(len(s)-1)/2]]
}

// bestStep is the step at the search's figure.
func (s *searchResult) bestStep() *stepResult {
	for i := range s.Steps {
		if s.Steps[i].Clean && s.Steps[i].Rate == s.Best {
			return &s.Steps[i]
		}
	}
	return nil
}

func (r *results) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// printSummary writes the table to stdout, or to stderr when stdout gets the JSON.
func (r *results) printSummary(stderr, stdout io.Writer, asJSON bool) {
	w := stdout
	if asJSON {
		w = stderr
	}
	set := r.Settings
	fmt.Fprintf(w, "\nSide by side against one SIPp provider (bench/sipp/uas.xml, %s)\n", set.Transport)
	fmt.Fprintf(w, "machine: %s\n", r.Machine)
	fmt.Fprintf(w, "1-minute load average: %.2f before, %.2f after\n", r.Machine.Load1Before, r.Machine.Load1After)
	if len(r.SIPp)+len(r.Service) > 0 {
		fmt.Fprintf(w, "steps: rate × %gs calls, each held %gs by the provider; clean = no failed call (caller and provider),\n"+
			"  placed at ≥ %.0f%% of the rate, last call ended ≤ %gs late; search from %d cps ×%g, then %d bisections\n",
			set.StepSeconds, set.HoldSeconds, set.Pace*100, set.MaxLagSec, set.StartCPS, set.Factor, set.Bisect)
	}
	fmt.Fprintf(w, "CPUs are shared: SIPp caller + provider, and callctl + telephonyd + redis-server + provider, on the same %d CPUs\n\n",
		r.Machine.CPUs)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(r.SIPp)+len(r.Service) > 0 {
		fmt.Fprintf(tw, "calls per second at zero failures\tmin\tmedian\tmax\tsearches\t\n")
		row := func(name string, s spread, format string) {
			if s.N > 0 {
				fmt.Fprintf(tw, "%s\t"+format+"\t"+format+"\t"+format+"\t%d\t\n", name, s.Min, s.Median, s.Max, s.N)
			}
		}
		row("L: SIPp caller → provider", r.Summary.SIPpCPS, "%.0f")
		row("telephonyd (callctl load, gRPC, watcher per call)", r.Summary.ServiceCPS, "%.0f")
		row("ratio telephonyd / L", r.Summary.Ratio, "%.2f")
		row("ratio if telephonyd took no CPU (see below)", r.Summary.RatioCeiling, "%.2f")
		tw.Flush()
		if r.Summary.RatioMet != nil {
			fmt.Fprintf(w, "ratio target ≥ %.1f: %s\n", ratioTarget, metWord(*r.Summary.RatioMet))
		}
		if r.Summary.RatioCeiling.N > 0 {
			fmt.Fprintf(w, "ceiling: %d CPUs over the CPU per call of callctl, redis-server and the provider at telephonyd's best step, over L\n",
				r.Machine.CPUs)
		}
		r.printBestSteps(w)
	}
	if l := r.Live; l != nil {
		fmt.Fprintf(w, "\nlive calls: %d answered calls held open at once (placed at %d cps, held %.0f s by the provider)\n",
			l.Calls, l.CPS, l.HoldSeconds)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "\theap (after GC)\tRSS\tgoroutines\tlive calls\t\n")
		for _, row := range []struct {
			name string
			s    sample
		}{
			{"baseline (before any call)", l.Baseline}, {"warm baseline", l.Warm}, {"at the peak", l.Peak},
			{fmt.Sprintf("%.0f s after the end", l.AfterEndSeconds), l.AfterEnd.sample},
			{"after a second wave", l.AfterSecondWave.sample},
		} {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t\n", row.name, mib(row.s.HeapAlloc), mib(row.s.RSS), row.s.Goroutines, row.s.Active)
		}
		tw.Flush()
		fmt.Fprintf(w, "per live call: heap %.2f KiB (target < %d KiB: %s), RSS %.2f KiB, %.2f goroutines (the provider held %d)\n",
			l.HeapPerCall/1024, heapPerCallTarget>>10, metWord(l.HeapPerCall < heapPerCallTarget), l.RSSPerCall/1024,
			l.GoroutinesPerCall, l.ProviderLive)
		fmt.Fprintf(w, "  over the warm baseline: heap %.2f KiB, RSS %.2f KiB\n", l.WarmHeapPerCall/1024, l.WarmRSSPerCall/1024)
		for _, g := range []struct {
			when, than string
			g          growth
		}{
			{"after the calls ended and event_retention (10 s) passed", "the warm baseline", l.AfterEnd},
			{fmt.Sprintf("after a second wave of %d calls", l.Calls), "after the end (growth per call)", l.AfterSecondWave},
		} {
			verdict := "back near " + g.than
			if !g.g.Back {
				verdict = "NOT back near " + g.than
			}
			fmt.Fprintf(w, "%s: heap %+.2f MiB (allowed %+.2f), %+d goroutines (allowed +%d), RSS %+.1f MiB vs %s: %s\n",
				g.when, float64(g.g.HeapDelta)/(1<<20), float64(g.g.HeapAllowed)/(1<<20), g.g.GoroutineDelta, goroutineSlack,
				float64(g.g.RSSDelta)/(1<<20), g.than, verdict)
		}
	}
	for _, n := range r.Findings {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

// printBestSteps shows, for the median search of each caller, what its highest clean step
// cost: CPU per call by process, and the load tool's latencies.
func (r *results) printBestSteps(w io.Writer) {
	sipp, svc := medianSearch(r.SIPp), medianSearch(r.Service)
	var a, b *stepResult
	if sipp != nil {
		a = sipp.bestStep()
	}
	if svc != nil {
		b = svc.bestStep()
	}
	if a == nil && b == nil {
		return
	}
	fmt.Fprintf(w, "\nat the highest clean rate (median search)\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\tSIPp caller\ttelephonyd\t\n")
	cell := func(s *stepResult, f func(*stepResult) string) string {
		if s == nil {
			return "-"
		}
		return f(s)
	}
	both := func(name string, f func(*stepResult) string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", name, cell(a, f), cell(b, f))
	}
	both("rate × calls", func(s *stepResult) string { return fmt.Sprintf("%d × %d", s.Rate, s.Calls) })
	both("placed at, cps", func(s *stepResult) string { return fmt.Sprintf("%.0f", s.AchievedCPS) })
	both("lag, s", func(s *stepResult) string { return fmt.Sprintf("%+.2f", s.LagSeconds) })
	for _, p := range []string{"sipp_uac", "callctl", "telephonyd", "redis", "sipp_uas"} {
		both("CPU ms per call: "+p, func(s *stepResult) string {
			v, ok := s.CPUSeconds[p]
			if !ok {
				return "-"
			}
			return fmt.Sprintf("%.3f", v*1000/float64(s.Calls))
		})
	}
	if b != nil && b.RedisScripts > 0 {
		fmt.Fprintf(tw, "Redis scripts per call, their µs per call\t-\t%.1f, %.0f\t\n",
			float64(b.RedisScripts)/float64(b.Calls), float64(b.RedisScriptMicros)/float64(b.Calls))
	}
	if b != nil && len(b.Load) > 0 {
		var lr loadReport
		if json.Unmarshal(b.Load, &lr) == nil {
			lat := func(l latencies) string { return fmt.Sprintf("%.1f / %.1f / %.1f", l.P50, l.P99, l.Max) }
			fmt.Fprintf(tw, "PlaceCall ms p50 / p99 / max\t-\t%s\t\n", lat(lr.PlaceLatencyMS))
			fmt.Fprintf(tw, "setup ms p50 / p99 / max\t-\t%s\t\n", lat(lr.SetupMS))
			fmt.Fprintf(tw, "event delivery ms p50 / p99 / max\t-\t%s\t\n", lat(lr.EventMS))
		}
	}
	tw.Flush()
	var fails []string
	for _, s := range append(slices.Clone(r.SIPp), r.Service...) {
		for _, st := range s.Steps {
			if !st.Clean && st.Rate == s.FirstFailing {
				fails = append(fails, fmt.Sprintf("%d cps: %s", st.Rate, st.Why))
			}
		}
	}
	if len(fails) > 0 {
		fmt.Fprintf(w, "lowest failing steps: %s\n", strings.Join(fails, "; "))
	}
}

func metWord(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}
