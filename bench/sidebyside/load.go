package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// loadReport is the part of `callctl --json load`'s report the bench reads; the whole
// report is kept as it came.
type loadReport struct {
	Attempted      int            `json:"attempted"`
	Answered       int            `json:"answered"`
	Successful     int            `json:"successful"`
	Failed         map[string]int `json:"failed"`
	TargetCPS      float64        `json:"target_cps"`
	AchievedCPS    float64        `json:"achieved_cps"`
	CompletedCPS   float64        `json:"completed_cps"`
	PlaceLatencyMS latencies      `json:"place_latency_ms"`
	SetupMS        latencies      `json:"setup_ms"`
	EventMS        latencies      `json:"event_delivery_ms"`
	Events         int            `json:"events"`
	WallSeconds    float64        `json:"wall_seconds"`
	Service        struct {
		CPUSeconds   float64 `json:"cpu_seconds"`
		PeakRSSBytes int64   `json:"peak_rss_bytes"`
		RSSBytes     int64   `json:"rss_bytes"`
	} `json:"service"`
	ToolCPUSeconds float64 `json:"tool_cpu_seconds"`
	PaceKept       bool    `json:"pace_kept"`
}

// latencies are a distribution's percentiles, in milliseconds.
type latencies struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// loadArgs is callctl's command line for count calls at rate through svc's gateway gw, each
// waited for until the provider hangs up (--hold 0) and failed after callTimeout.
func (b *bench) loadArgs(svc *service, gw string, rate, count int, callTimeout time.Duration) []string {
	args := []string{"--json", "--addr", svc.grpcAddr, "load", "--gateway", gw,
		"--cps", strconv.Itoa(rate), "--count", strconv.Itoa(count), "--hold", "0s",
		// --count ends the starts; --duration (default 1m) must not end them first.
		"--duration", (time.Duration(count/rate+30) * time.Second).String(),
		"--service-pid", strconv.Itoa(svc.proc.pid()), "--timeout-call", callTimeout.String()}
	if b.set.ToPrefix != "" {
		args = append(args, "--to-prefix", b.set.ToPrefix)
	}
	return args
}

// waitTool waits for callctl, at most limit: the tool bounds every call itself, so a run
// that outlasts that is stuck.
func waitTool(ctx context.Context, c *child, limit time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if err := c.wait(wctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("callctl load did not finish within %v; stopped it\n%s", limit, c.errTail(10))
	}
	return nil
}

// readLoad reads the report an exited callctl printed. Exit status 0 (every call
// succeeded) and 1 (some failed) come with a report; anything else is a broken run.
func readLoad(c *child) (loadReport, json.RawMessage, error) {
	out, exitCode, errTail := c.output(), c.exitCode(), c.errTail(10)
	if exitCode != 0 && exitCode != 1 {
		return loadReport{}, nil, fmt.Errorf("callctl load exited with status %d\n%s", exitCode, errTail)
	}
	// The report is the last line that is a JSON object.
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		line := bytes.TrimSpace(lines[i])
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var r loadReport
		if err := json.Unmarshal(line, &r); err != nil {
			return loadReport{}, nil, fmt.Errorf("callctl load report: %w\n%s", err, line)
		}
		return r, json.RawMessage(line), nil
	}
	return loadReport{}, nil, fmt.Errorf("callctl load (exit status %d) printed no JSON report\n%s", exitCode, errTail)
}
