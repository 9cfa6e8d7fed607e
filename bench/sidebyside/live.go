package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"
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

// growth is a sample after the live calls ended, against the baseline.
type growth struct {
	sample
	HeapDelta      int64 `json:"heap_delta_bytes"`
	GoroutineDelta int   `json:"goroutine_delta"`
	RSSDelta       int64 `json:"rss_delta_bytes"`
	// Back is whether heap and goroutines are back near the baseline: at most goroutineSlack
	// goroutines more, and the heap within heapSlack or 5% of the peak's growth.
	Back bool `json:"back_to_baseline"`
}

// Back near the baseline allows for pools and buffers the load grew (Redis connections).
const (
	goroutineSlack = 5
	heapSlack      = 2 << 20
)

func compare(s, baseline, peak sample) growth {
	g := growth{sample: s, HeapDelta: s.HeapAlloc - baseline.HeapAlloc,
		GoroutineDelta: s.Goroutines - baseline.Goroutines, RSSDelta: s.RSS - baseline.RSS}
	g.Back = g.HeapDelta <= max(heapSlack, (peak.HeapAlloc-baseline.HeapAlloc)/20) && g.GoroutineDelta <= goroutineSlack
	return g
}

// liveResult is the live-calls measurement.
type liveResult struct {
	Calls       int     `json:"calls"`
	CPS         int     `json:"cps"`
	HoldSeconds float64 `json:"hold_seconds"`
	Baseline    sample  `json:"baseline"`
	Peak        sample  `json:"at_peak"`
	// ProviderLive is how many calls the SIPp provider held when Peak was taken.
	ProviderLive int `json:"provider_live_calls"`
	// Complete is false when fewer than Calls were live at once; per-call figures then
	// divide by Peak.Active.
	Complete          bool    `json:"complete"`
	HeapPerCall       float64 `json:"heap_bytes_per_call"`
	RSSPerCall        float64 `json:"rss_bytes_per_call"`
	GoroutinesPerCall float64 `json:"goroutines_per_call"`
	// AfterEnd is taken once every call ended and event_retention passed, then every 2 s
	// until it is back near the baseline or -settle passed; AfterEndSeconds after the end.
	AfterEnd        growth  `json:"after_end"`
	AfterEndSeconds float64 `json:"after_end_seconds"`
	// AfterNextCall is taken after one more call (through a provider that hangs up at once):
	// what the service frees only when a new call comes.
	AfterNextCall growth `json:"after_next_call"`
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
		[]gateway{{gatewayName, u.addr()}, {sweepGateway, sweep.addr()}}, b.redisURL)
	if err != nil {
		return nil, err
	}
	defer svc.stop()
	start := time.Now()
	if err := sleep(ctx, 2*time.Second); err != nil {
		return nil, err
	}
	if r.Baseline, err = takeSample(ctx, svc, start, b.profile("baseline")); err != nil {
		return nil, err
	}
	b.logf("live: baseline heap %s, RSS %s, %d goroutines; placing %d calls at %d cps, held %v",
		mib(r.Baseline.HeapAlloc), mib(r.Baseline.RSS), r.Baseline.Goroutines, set.LiveCalls, set.LiveCPS, set.LiveHold)
	if err := b.holdLive(ctx, svc, u, r, start); err != nil {
		return nil, err
	}
	if err := svc.idle(ctx, time.Minute); err != nil {
		return nil, err
	}
	ended := time.Now()
	if err := sleep(ctx, eventRetention+2*time.Second); err != nil {
		return nil, err
	}
	for {
		s, err := takeSample(ctx, svc, start, b.profile("after-end"))
		if err != nil {
			return nil, err
		}
		r.AfterEnd, r.AfterEndSeconds = compare(s, r.Baseline, r.Peak), time.Since(ended).Seconds()
		if r.AfterEnd.Back || time.Since(ended) > eventRetention+set.Settle {
			break
		}
		if err := sleep(ctx, 2*time.Second); err != nil {
			return nil, err
		}
	}
	b.logf("live: %.0f s after the calls ended: heap %+.2f MiB, %+d goroutines vs the baseline; one more call",
		r.AfterEndSeconds, float64(r.AfterEnd.HeapDelta)/(1<<20), r.AfterEnd.GoroutineDelta)

	c, err := b.cs.start("live-callctl-sweep", "", b.callctl, b.loadArgs(svc, sweepGateway, 1, 1, 30*time.Second)...)
	if err != nil {
		return nil, err
	}
	if err := waitTool(ctx, c, time.Minute); err != nil {
		return nil, err
	}
	if _, _, err := readLoad(c); err != nil {
		return nil, err
	}
	if err := svc.idle(ctx, 30*time.Second); err != nil {
		return nil, err
	}
	s, err := takeSample(ctx, svc, start, b.profile("after-next-call"))
	if err != nil {
		return nil, err
	}
	r.AfterNextCall = compare(s, r.Baseline, r.Peak)
	return r, nil
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
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
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
	// Let the last answers, ACKs and watchers settle.
	if err := sleep(ctx, 2*time.Second); err != nil {
		return err
	}
	if r.Peak, err = takeSample(ctx, svc, start, b.profile("peak")); err != nil {
		return err
	}
	r.ProviderLive = u.current()
	r.Complete = r.Peak.Active >= set.LiveCalls
	if n := r.Peak.Active; n > 0 {
		r.HeapPerCall = float64(r.Peak.HeapAlloc-r.Baseline.HeapAlloc) / float64(n)
		r.RSSPerCall = float64(r.Peak.RSS-r.Baseline.RSS) / float64(n)
		r.GoroutinesPerCall = float64(r.Peak.Goroutines-r.Baseline.Goroutines) / float64(n)
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
