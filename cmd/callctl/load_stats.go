package main

import (
	"fmt"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// subBucketBits sets the histogram's precision: 2^7 = 128 buckets per power of two, so a
// percentile is read within 1/128 (0.8%) of the true value.
const (
	subBucketBits = 7
	subBuckets    = 1 << subBucketBits
)

// histogram counts non-negative durations in log-linear buckets, as an HDR histogram does:
// one nanosecond wide below 2·subBuckets ns, then subBuckets buckets per power of two. Its
// memory is fixed (about 58 KB) whatever the number of samples, and recording is a few
// atomic operations, so every event of a long run can be timed without storing samples or taking a
// lock. The maximum is kept exactly. Safe for concurrent use.
type histogram struct {
	counts [(64 - subBucketBits) * subBuckets]atomic.Int64
	n      atomic.Int64
	max    atomic.Int64
}

// bucket returns the index of the bucket holding v (v >= 0): v itself while v < 2·subBuckets,
// then e·subBuckets + (v >> e), where e keeps v >> e within [subBuckets, 2·subBuckets).
func bucket(v int64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - subBucketBits - 1
	return e*subBuckets + int(v>>e)
}

// bucketTop returns the largest value bucket i holds.
func bucketTop(i int) int64 {
	if i < 2*subBuckets {
		return int64(i)
	}
	e := i/subBuckets - 1
	m := int64(i - e*subBuckets)
	return (m+1)<<e - 1
}

// record adds d; a negative d (clocks stepped between two stamps) counts as 0.
func (h *histogram) record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[bucket(v)].Add(1)
	h.n.Add(1)
	for {
		old := h.max.Load()
		if v <= old || h.max.CompareAndSwap(old, v) {
			return
		}
	}
}

// percentile returns the smallest recorded value that q (0 < q <= 1) of the samples do not
// exceed, as the top of its bucket (never above the maximum); 0 without samples.
func (h *histogram) percentile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := max(int64(math.Ceil(q*float64(n))), 1)
	var seen int64
	for i := range h.counts {
		if seen += h.counts[i].Load(); seen >= rank {
			return time.Duration(min(bucketTop(i), h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

// summary returns the histogram's count, percentiles and maximum in milliseconds.
func (h *histogram) summary() percentiles {
	return percentiles{
		Count: h.n.Load(),
		P50:   millis(h.percentile(0.50)),
		P95:   millis(h.percentile(0.95)),
		P99:   millis(h.percentile(0.99)),
		Max:   millis(time.Duration(h.max.Load())),
	}
}

// millis is d in milliseconds, to the microsecond.
func millis(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// loadStats collects what happens during a load run. Call goroutines use the histograms,
// event and ended; the other fields belong to the starter and are read once every call
// has ended.
type loadStats struct {
	place    histogram // PlaceCall sent → accepted
	setup    histogram // PlaceCall sent → 2xx to the INVITE received
	delivery histogram // event time → event received, for events after the watch began
	events   atomic.Int64
	// interrupted is set by the first interrupt.
	interrupted atomic.Bool

	origin, first, last, end time.Time // the starter began, first and last starts, all ended
	attempted                int
	slip                     time.Duration // how far the starts fell behind the --cps schedule
	lateStarts               int
	maxLag                   time.Duration // the latest start that was made up at once

	mu         sync.Mutex
	answered   int
	successful int
	completed  int            // calls whose ended event arrived
	lastEnd    time.Time      // when the last of them arrived
	failed     map[string]int // by outcome
}

func newLoadStats() *loadStats { return &loadStats{failed: map[string]int{}} }

// started counts a call started at t.
func (s *loadStats) started(t time.Time) {
	if s.first.IsZero() {
		s.first = t
	}
	s.last = t
	s.attempted++
}

// event counts an event received at now on a watch that began at watchFrom, and times its
// delivery if it happened after watchFrom.
func (s *loadStats) event(ev *telephonyv1.CallEvent, now, watchFrom time.Time) {
	s.events.Add(1)
	if ts := ev.GetTime(); ts != nil {
		if at := ts.AsTime(); !at.Before(watchFrom) {
			s.delivery.record(now.Sub(at))
		}
	}
}

// ended records a call's outcome ("" = success) at t; completed means its ended event came.
func (s *loadStats) ended(outcome string, answered, completed bool, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if answered {
		s.answered++
	}
	if outcome == "" {
		s.successful++
	} else {
		s.failed[outcome]++
	}
	if completed {
		s.completed++
		if t.After(s.lastEnd) {
			s.lastEnd = t
		}
	}
}

// loadReport is what the load command prints; --json prints it with these field names.
type loadReport struct {
	Attempted       int            `json:"attempted"`
	Answered        int            `json:"answered"`
	Successful      int            `json:"successful"`
	Failed          map[string]int `json:"failed"`      // by termination cause, "rpc:CODE", "watch:CODE", stuck, interrupted
	TargetCPS       float64        `json:"target_cps"`  // 0 with --concurrency
	Concurrency     int            `json:"concurrency"` // 0 with --cps
	AchievedCPS     float64        `json:"achieved_cps"`
	CompletedCPS    float64        `json:"completed_cps"`
	PlaceLatency    percentiles    `json:"place_latency_ms"`
	Setup           percentiles    `json:"setup_ms"`
	EventDelivery   percentiles    `json:"event_delivery_ms"`
	Events          int64          `json:"events"`
	WatchAddr       string         `json:"watch_addr"` // where the calls were watched: --watch-addr, else --addr
	WallSeconds     float64        `json:"wall_seconds"`
	Service         *serviceUsage  `json:"service,omitempty"`
	ToolCPUSeconds  *float64       `json:"tool_cpu_seconds,omitempty"` // nil where /proc/self/stat is missing
	PaceKept        bool           `json:"pace_kept"`
	PaceSlipSeconds float64        `json:"pace_slip_seconds"`
	PaceMaxLagMS    float64        `json:"pace_max_lag_ms"` // the latest a start came and was made up
	Interrupted     bool           `json:"interrupted"`
	Warnings        []string       `json:"warnings,omitempty"`
}

// percentiles summarises one histogram, in milliseconds.
type percentiles struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// serviceUsage is what the service's process used during the run (--service-pid).
type serviceUsage struct {
	PID          int     `json:"pid"`
	CPUSeconds   float64 `json:"cpu_seconds"`
	PeakRSSBytes int64   `json:"peak_rss_bytes"` // VmHWM at the end: the process's peak, not the run's
	RSSBytes     int64   `json:"rss_bytes"`      // VmRSS at the end
}

// report computes the figures of a finished run.
func (s *loadStats) report(o *loadOptions) *loadReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &loadReport{
		Attempted:       s.attempted,
		Answered:        s.answered,
		Successful:      s.successful,
		Failed:          s.failed,
		TargetCPS:       o.cps,
		Concurrency:     o.concurrency,
		PlaceLatency:    s.place.summary(),
		Setup:           s.setup.summary(),
		EventDelivery:   s.delivery.summary(),
		Events:          s.events.Load(),
		WallSeconds:     s.end.Sub(s.origin).Seconds(),
		PaceKept:        true,
		PaceSlipSeconds: s.slip.Seconds(),
		PaceMaxLagMS:    millis(s.maxLag),
		Interrupted:     s.interrupted.Load(),
	}
	// n starts make n-1 intervals: the rate between the first and the last start.
	if span := s.last.Sub(s.first); s.attempted > 1 && span > 0 {
		r.AchievedCPS = float64(s.attempted-1) / span.Seconds()
	}
	if span := s.lastEnd.Sub(s.first); s.completed > 0 && span > 0 {
		r.CompletedCPS = float64(s.completed) / span.Seconds()
	}
	if o.cps > 0 {
		// Timer jitter moves no schedule; a slip beyond one interval, or 1% of the
		// starting time, means this process could not start calls as fast as asked.
		allowed := max(seconds(1/o.cps), s.last.Sub(s.first)/100)
		if s.slip > allowed {
			r.PaceKept = false
			r.Warnings = append(r.Warnings, fmt.Sprintf(
				"callctl could not keep the pace: its starts fell %v behind the schedule of %g/s (%d starts late); it was short of CPU, so the achieved rate measures the tool, not the service",
				s.slip.Round(time.Millisecond), o.cps, s.lateStarts))
		}
	}
	return r
}
