package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// printLoadReport writes the report as one JSON object (--json) or as aligned lines.
func (a *app) printLoadReport(r *loadReport) error {
	if a.global.json {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode load report: %w", err)
		}
		_, err = a.stdout.Write(append(b, '\n'))
		return err
	}
	_, err := fmt.Fprint(a.stdout, formatLoadReport(r))
	return err
}

// formatLoadReport lays the report out as label/value lines, failures by outcome, the most
// frequent first.
func formatLoadReport(r *loadReport) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	row := func(label string, cells ...string) {
		fmt.Fprintf(tw, "%s\t%s\n", label, strings.Join(cells, "\t"))
	}
	row("attempted", fmt.Sprint(r.Attempted))
	row("answered", fmt.Sprint(r.Answered))
	row("successful", fmt.Sprint(r.Successful))
	row("failed", fmt.Sprint(r.Attempted-r.Successful))
	causes := slices.SortedFunc(maps.Keys(r.Failed), func(x, y string) int {
		return cmp.Or(cmp.Compare(r.Failed[y], r.Failed[x]), cmp.Compare(x, y))
	})
	for _, c := range causes {
		row("  "+c, fmt.Sprint(r.Failed[c]))
	}
	if r.TargetCPS > 0 {
		row("started", fmt.Sprintf("%.2f/s (target %g/s; starts up to %s late made up)", r.AchievedCPS, r.TargetCPS, msText(r.PaceMaxLagMS)))
	} else {
		row("started", fmt.Sprintf("%.2f/s (%d in flight)", r.AchievedCPS, r.Concurrency))
	}
	row("completed", fmt.Sprintf("%.2f/s", r.CompletedCPS))
	row("place latency", percentileCells(r.PlaceLatency)...)
	row("setup time", percentileCells(r.Setup)...)
	row("event delivery", percentileCells(r.EventDelivery)...)
	row("events", fmt.Sprintf("%d received, %d timed (those after the watch began)", r.Events, r.EventDelivery.Count))
	row("watched through", r.WatchAddr)
	if s := r.Service; s != nil {
		row("service cpu", fmt.Sprintf("%.2fs (pid %d)", s.CPUSeconds, s.PID))
		row("service rss", fmt.Sprintf("%s now, %s peak", mib(s.RSSBytes), mib(s.PeakRSSBytes)))
	}
	if r.ToolCPUSeconds != nil {
		row("tool cpu", fmt.Sprintf("%.2fs", *r.ToolCPUSeconds))
	}
	row("wall time", fmt.Sprintf("%.2fs", r.WallSeconds))
	_ = tw.Flush()
	if r.Interrupted {
		b.WriteString("interrupted: the run stopped early\n")
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}

// percentileCells renders a summary as cells: p50, p95, p99 and max, or "-" without samples.
func percentileCells(p percentiles) []string {
	if p.Count == 0 {
		return []string{"-"}
	}
	return []string{"p50 " + msText(p.P50), "p95 " + msText(p.P95), "p99 " + msText(p.P99), "max " + msText(p.Max)}
}

// msText renders milliseconds as a duration to three significant digits: 312µs, 1.21ms, 2.3s.
func msText(ms float64) string {
	d := time.Duration(ms * float64(time.Millisecond))
	unit := time.Duration(1)
	for d/unit >= 1000 {
		unit *= 10
	}
	return d.Round(unit).String()
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
