package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ccplane/telephony/internal/wait"
)

// sample is telephonyd's memory and goroutines at one moment, the heap after a forced GC.
type sample struct {
	Seconds    float64 `json:"seconds"` // since the live phase started
	HeapAlloc  int64   `json:"heap_alloc_bytes"`
	HeapInuse  int64   `json:"heap_inuse_bytes"`
	RSS        int64   `json:"rss_bytes"`
	Goroutines int     `json:"goroutines"`
	Active     int     `json:"active_calls"`
}

// growth is a sample after the live calls ended, against an earlier one.
type growth struct {
	sample
	HeapDelta      int64 `json:"heap_delta_bytes"`
	GoroutineDelta int   `json:"goroutine_delta"`
	RSSDelta       int64 `json:"rss_delta_bytes"`
	// HeapAllowed is how much more heap than the earlier sample still counts as back (see
	// heapAllowance), or as no growth.
	HeapAllowed int64 `json:"heap_allowed_delta_bytes"`
	// Back is whether heap and goroutines are back near the earlier sample: at most
	// HeapAllowed more heap and goroutineSlack more goroutines.
	Back bool `json:"back_to_baseline"`
}

const (
	goroutineSlack = 5
	heapSlack      = 2 << 20
	// goroutineDescriptor bounds the size of the runtime's descriptor of a goroutine
	// (runtime.g, about 0.4 KiB), which the runtime keeps for reuse after the goroutine
	// exited: the peak's goroutines leave that much heap behind for good.
	goroutineDescriptor = 512
)

// heapAllowance is what the heap may keep above the warm baseline once the live calls are
// gone and still count as back: the larger of heapSlack and 5% of the peak's growth (maps
// keep the buckets the peak grew, pools their buffers), plus the descriptors of the peak's
// extra goroutines.
func heapAllowance(warm, peak sample) int64 {
	return max(heapSlack, (peak.HeapAlloc-warm.HeapAlloc)/20) + goroutineDescriptor*int64(max(peak.Goroutines-warm.Goroutines, 0))
}

// compare compares s with an earlier sample, allowing allowed more heap.
func compare(s, earlier sample, allowed int64) growth {
	g := growth{sample: s, HeapDelta: s.HeapAlloc - earlier.HeapAlloc, GoroutineDelta: s.Goroutines - earlier.Goroutines,
		RSSDelta: s.RSS - earlier.RSS, HeapAllowed: allowed}
	g.Back = g.HeapDelta <= g.HeapAllowed && g.GoroutineDelta <= goroutineSlack
	return g
}

// liveResult is the live-calls measurement.
type liveResult struct {
	Calls       int     `json:"calls"`
	CPS         int     `json:"cps"`
	HoldSeconds float64 `json:"hold_seconds"`
	// Baseline is taken before any call; Warm after a warm-up of short calls (LiveCPS for
	// 2 s through the sweep provider) and -warm-wait, so that what any load grows once
	// (connection pools, caches, map buckets) is in it, and nothing of those calls: their
	// event logs go after event_retention, sipgo's transactions after 64×T1 = 32 s (RFC 3261
	// timers J and M; the default -warm-wait is 35 s).
	Baseline sample `json:"baseline"`
	Warm     sample `json:"warm_baseline"`
	Peak     sample `json:"at_peak"`
	// ProviderLive is how many calls the SIPp provider held when Peak was taken.
	ProviderLive int `json:"provider_live_calls"`
	// Complete is false when fewer than Calls were live at once; per-call figures then
	// divide by Peak.Active.
	Complete bool `json:"complete"`
	// Per live call: the peak's growth over Baseline, divided by the live calls.
	HeapPerCall       float64 `json:"heap_bytes_per_call"`
	RSSPerCall        float64 `json:"rss_bytes_per_call"`
	GoroutinesPerCall float64 `json:"goroutines_per_call"`
	// The same over Warm: without what the first calls grow once.
	WarmHeapPerCall float64 `json:"heap_bytes_per_call_over_warm"`
	WarmRSSPerCall  float64 `json:"rss_bytes_per_call_over_warm"`
	// AfterEnd is taken once every call ended and event_retention passed, then every 2 s
	// until it is back near the warm baseline or -settle passed; AfterEndSeconds after the
	// end.
	AfterEnd        growth  `json:"after_end"`
	AfterEndSeconds float64 `json:"after_end_seconds"`
	// AfterSecondWave is taken after as many calls again (short ones, through a provider
	// that hangs up at once) and event_retention, against AfterEnd: what the peak grew (map
	// buckets, goroutine descriptors) is reused, so any growth beyond heapSlack is kept per
	// call, a leak (heapSlack over Calls: 200 bytes a call at 10,000).
	AfterSecondWave growth `json:"after_second_wave"`
	// Load is `callctl load`'s report for the live calls.
	Load json.RawMessage `json:"load,omitempty"`

	profiles string // the heap profiles' pattern
}

// takeSample forces a GC through the heap profile, which it keeps in profile, then reads
// the metrics.
func takeSample(ctx context.Context, svc *service, start time.Time, profile string) (sample, error) {
	mem, err := svc.heap(ctx, profile)
	if err != nil {
		return sample{}, err
	}
	m, err := svc.metrics(ctx)
	if err != nil {
		return sample{}, err
	}
	return sample{
		Seconds:    time.Since(start).Seconds(),
		HeapAlloc:  mem["HeapAlloc"],
		HeapInuse:  mem["HeapInuse"],
		RSS:        int64(m["process_resident_memory_bytes"]),
		Goroutines: int(m["go_goroutines"]),
		Active:     int(m[activeSeries]),
	}, nil
}

// runLive holds b.set.LiveCalls answered calls open through a fresh telephonyd and its own
// provider (holding each call for the live hold), and measures what they cost and whether
// it all comes back once they end.
func (b *bench) runLive(ctx context.Context) (*liveResult, error) {
	set := b.set
	r := &liveResult{Calls: set.LiveCalls, CPS: set.LiveCPS, HoldSeconds: set.LiveHold.Seconds(), profiles: b.profile("*")}
	u, err := startUAS(ctx, b.cs, b.root, "live-sipp-uas", set.LiveHold)
	if err != nil {
		return nil, err
	}
	defer u.proc.stop(5 * time.Second)
	sweep, err := startUAS(ctx, b.cs, b.root, "live-sipp-sweep", 100*time.Millisecond)
	if err != nil {
		return nil, err
	}
	defer sweep.proc.stop(5 * time.Second)
	svc, err := startService(ctx, b.cs, b.telephonyd, "live-telephonyd",
		[]gateway{{gatewayName, u.addr()}, {sweepGateway, sweep.addr()}}, b.redisURL())
	if err != nil {
		return nil, err
	}
	defer svc.stop()
	start := time.Now()
	if err := wait.Sleep(ctx, 2*time.Second); err != nil {
		return nil, err
	}
	if r.Baseline, err = takeSample(ctx, svc, start, b.profile("baseline")); err != nil {
		return nil, err
	}
	b.logf("live: baseline heap %s, RSS %s, %d goroutines; warming up with %d short calls",
		mib(r.Baseline.HeapAlloc), mib(r.Baseline.RSS), r.Baseline.Goroutines, 2*set.LiveCPS)
	if err := b.sweepCalls(ctx, svc, "live-callctl-warmup", set.LiveCPS, 2*set.LiveCPS); err != nil {
		return nil, err
	}
	if err := wait.Sleep(ctx, set.WarmWait); err != nil {
		return nil, err
	}
	if err := b.sweepCalls(ctx, svc, "live-callctl-sweep-warm", 1, 1); err != nil {
		return nil, err
	}
	if r.Warm, err = takeSample(ctx, svc, start, b.profile("warm")); err != nil {
		return nil, err
	}
	b.logf("live: warm baseline heap %s, RSS %s, %d goroutines; placing %d calls at %d cps, held %v",
		mib(r.Warm.HeapAlloc), mib(r.Warm.RSS), r.Warm.Goroutines, set.LiveCalls, set.LiveCPS, set.LiveHold)
	if err := b.holdLive(ctx, svc, u, r, start); err != nil {
		return nil, err
	}
	if err := svc.idle(ctx, time.Minute); err != nil {
		return nil, err
	}
	ended := time.Now()
	if err := wait.Sleep(ctx, eventRetention+2*time.Second); err != nil {
		return nil, err
	}
	for {
		s, err := takeSample(ctx, svc, start, b.profile("after-end"))
		if err != nil {
			return nil, err
		}
		r.AfterEnd, r.AfterEndSeconds = compare(s, r.Warm, heapAllowance(r.Warm, r.Peak)), time.Since(ended).Seconds()
		if r.AfterEnd.Back || time.Since(ended) > eventRetention+set.Settle {
			break
		}
		if err := wait.Sleep(ctx, 2*time.Second); err != nil {
			return nil, err
		}
	}
	b.logf("live: %.0f s after the calls ended: heap %+.2f MiB, %+d goroutines vs the warm baseline; a second wave of %d short calls",
		r.AfterEndSeconds, float64(r.AfterEnd.HeapDelta)/(1<<20), r.AfterEnd.GoroutineDelta, set.LiveCalls)

	if err := b.sweepCalls(ctx, svc, "live-callctl-second-wave", set.LiveCPS, set.LiveCalls); err != nil {
		return nil, err
	}
	// As after the warm-up: their event logs go after event_retention, sipgo's transactions
	// after 64×T1.
	waved := time.Now()
	if err := wait.Sleep(ctx, max(set.WarmWait, eventRetention+2*time.Second)); err != nil {
		return nil, err
	}
	for {
		s, err := takeSample(ctx, svc, start, b.profile("after-second-wave"))
		if err != nil {
			return nil, err
		}
		r.AfterSecondWave = compare(s, r.AfterEnd.sample, heapSlack)
		if r.AfterSecondWave.Back || time.Since(waved) > set.WarmWait+set.Settle {
			return r, nil
		}
		if err := wait.Sleep(ctx, 2*time.Second); err != nil {
			return nil, err
		}
	}
}

// sweepCalls places count calls at rate through the sweep provider, which hangs each up at
// once, and waits until telephonyd has none left.
func (b *bench) sweepCalls(ctx context.Context, svc *service, name string, rate, count int) error {
	c, err := b.cs.start(name, "", b.callctl, b.loadArgs(svc, sweepGateway, rate, count, 30*time.Second)...)
	if err != nil {
		return err
	}
	if err := waitTool(ctx, c, time.Duration(count/rate)*time.Second+time.Minute); err != nil {
		return err
	}
	report, _, err := readLoad(c)
	if err != nil {
		return err
	}
	if report.Successful < count {
		b.logf("live: %d of %d short calls failed (%v)", count-report.Successful, count, report.Failed)
	}
	return svc.idle(ctx, 30*time.Second)
}

// holdLive places the live calls, samples the peak once all are up, and waits until the
// provider has hung them all up.
func (b *bench) holdLive(ctx context.Context, svc *service, u *uas, r *liveResult, start time.Time) error {
	set := b.set
	ramp := time.Duration(float64(set.LiveCalls) / float64(set.LiveCPS) * float64(time.Second))
	tool, err := b.cs.start("live-callctl", "", b.callctl,
		b.loadArgs(svc, gatewayName, set.LiveCPS, set.LiveCalls, set.LiveHold+time.Minute)...)
	if err != nil {
		return err
	}
	defer tool.stop(5 * time.Second)

	// Wait until every call is live (or the tool gave up, or far too long passed).
	deadline := time.Now().Add(2*ramp + 30*time.Second)
	for n, next := 0, time.Now(); n < set.LiveCalls && !tool.exited() && time.Now().Before(deadline); {
		if err := wait.Sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
		if n, err = svc.active(ctx); err != nil {
			return err
		}
		if time.Now().After(next) {
			b.logf("live: %d calls live", n)
			next = time.Now().Add(5 * time.Second)
		}
	}
	// Let the calls go idle: the last answers, ACKs and watchers settle, and the engine
	// releases the INVITE transactions 64·T1 after each answer.
	b.logf("live: waiting %v for the calls to go idle", set.IdleWait)
	if err := wait.Sleep(ctx, set.IdleWait); err != nil {
		return err
	}
	if r.Peak, err = takeSample(ctx, svc, start, b.profile("peak")); err != nil {
		return err
	}
	r.ProviderLive = u.current()
	r.Complete = r.Peak.Active >= set.LiveCalls
	if n := float64(r.Peak.Active); n > 0 {
		r.HeapPerCall = float64(r.Peak.HeapAlloc-r.Baseline.HeapAlloc) / n
		r.RSSPerCall = float64(r.Peak.RSS-r.Baseline.RSS) / n
		r.GoroutinesPerCall = float64(r.Peak.Goroutines-r.Baseline.Goroutines) / n
		r.WarmHeapPerCall = float64(r.Peak.HeapAlloc-r.Warm.HeapAlloc) / n
		r.WarmRSSPerCall = float64(r.Peak.RSS-r.Warm.RSS) / n
	}
	b.logf("live: %d calls live (provider: %d): heap %s, RSS %s, %d goroutines; waiting for the provider to hang up",
		r.Peak.Active, r.ProviderLive, mib(r.Peak.HeapAlloc), mib(r.Peak.RSS), r.Peak.Goroutines)

	if err := waitTool(ctx, tool, set.LiveHold+ramp+2*time.Minute); err != nil {
		return err
	}
	_, r.Load, err = readLoad(tool)
	return err
}

// profile is where the heap profile of a live-phase moment is kept.
func (b *bench) profile(moment string) string {
	return filepath.Join(b.cs.dir, "live-heap-"+moment+".txt")
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
