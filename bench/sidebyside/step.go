package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"time"
)

// stepResult is one bounded run at one rate: Calls calls placed at Rate, each held by the
// provider for the hold, all waited for.
type stepResult struct {
	Rate       int            `json:"target_cps"`
	Calls      int            `json:"calls"`
	Successful int            `json:"successful"`
	Failed     int            `json:"failed"`
	FailedBy   map[string]int `json:"failed_by,omitempty"`
	// ProviderCalls and ProviderFailed are the calls the SIPp provider saw during the step
	// and those it counted failed: a check on the caller's own count.
	ProviderCalls  int `json:"provider_calls"`
	ProviderFailed int `json:"provider_failed"`
	ExitCode       int `json:"caller_exit_status"`
	// AchievedCPS is the rate at which the calls were placed.
	AchievedCPS float64 `json:"achieved_cps"`
	WallSeconds float64 `json:"wall_seconds"`
	// LagSeconds is how much longer than an instant call's lifetime (Calls/Rate, the hold,
	// the caller's final wait) the step took until its last call ended.
	LagSeconds float64 `json:"lag_seconds"`
	// CPUSeconds is each process's CPU time over the step, until the provider was idle.
	CPUSeconds map[string]float64 `json:"cpu_seconds"`
	// RedisScripts and RedisScriptMicros are the Lua scripts Redis ran during a telephonyd
	// step, and its time in them (the commands they run and Lua's own work).
	RedisScripts      int64  `json:"redis_scripts,omitempty"`
	RedisScriptMicros int64  `json:"redis_script_usec,omitempty"`
	Clean             bool   `json:"clean"`
	Why               string `json:"why,omitempty"`
	// Load is `callctl load`'s JSON report, for telephonyd's steps.
	Load json.RawMessage `json:"load,omitempty"`
}

// othersMS is the CPU per call, in ms, of the processes serving a telephonyd step besides
// telephonyd (callctl, Redis, the provider); 0 for a SIPp step.
func (s *stepResult) othersMS() float64 {
	var ms float64
	for _, p := range []string{"callctl", "redis", "sipp_uas"} {
		v, ok := s.CPUSeconds[p]
		if !ok || s.Calls == 0 {
			return 0
		}
		ms += v * 1000 / float64(s.Calls)
	}
	return ms
}

// stepCalls is the number of calls a step at rate places: rate for the step's duration.
func (b *bench) stepCalls(rate int) int {
	return max(int(float64(rate)*b.set.Step.Seconds()), 1)
}

// settleLimit bounds the wait for a step's calls to be gone: calls that failed end after
// the provider's 10 s timeouts, held ones after the hold.
func (b *bench) settleLimit() time.Duration { return b.set.Hold + 45*time.Second }

// runSIPpStep places a step's calls with SIPp's own caller against the provider.
func (b *bench) runSIPpStep(ctx context.Context, u *uas, rate int) (stepResult, error) {
	count := b.stepCalls(rate)
	before, err := u.idle(ctx, time.Now(), b.settleLimit())
	if err != nil {
		return stepResult{}, err
	}
	uasCPU := u.cpuSeconds()
	b.steps++
	name := fmt.Sprintf("step%03d-sipp-uac", b.steps)
	stats := filepath.Join(b.cs.dir, name+".csv")
	instant := time.Duration(float64(count)/float64(rate)*float64(time.Second)) + b.set.Hold + uacTimewait
	var c *child
	for attempt := 1; ; attempt++ {
		ports, err := freeSIPpPorts()
		if err != nil {
			return stepResult{}, err
		}
		args := sippArgs(filepath.Join(b.root, "bench", "sipp", "uac.xml"), ports, stats, filepath.Join(b.cs.dir, name+"_errors.log"))
		args = append(args,
			"-r", strconv.Itoa(rate), "-rp", "1000", "-m", strconv.Itoa(count),
			"-l", strconv.Itoa(min(max(rate*int((b.set.Hold+15*time.Second).Seconds()), 1000), uasCallLimit)),
			"-recv_timeout", strconv.FormatInt((b.set.Hold+10*time.Second).Milliseconds(), 10),
			"-timeout", fmt.Sprintf("%ds", int((instant+30*time.Second).Seconds())), "-timeout_error",
			u.addr())
		if c, err = b.cs.start(name, "", "sipp", args...); err != nil {
			return stepResult{}, err
		}
		if err := c.wait(ctx); err != nil {
			return stepResult{}, err
		}
		// 254 is SIPp's "cannot bind": someone took a port first.
		if c.exitCode() != 254 || attempt == 3 {
			break
		}
	}
	after, err := u.idle(ctx, c.end, b.settleLimit())
	if err != nil {
		return stepResult{}, err
	}
	s := stepResult{
		Rate: rate, Calls: count, ExitCode: c.exitCode(), WallSeconds: c.wall().Seconds(),
		ProviderCalls: after.Incoming - before.Incoming, ProviderFailed: after.Failed - before.Failed,
		CPUSeconds: map[string]float64{"sipp_uac": c.cpuSeconds(), "sipp_uas": u.cpuSeconds() - uasCPU},
	}
	s.LagSeconds = s.WallSeconds - instant.Seconds()
	rows, err := parseSIPpStats(readFile(stats))
	if err != nil || len(rows) == 0 {
		return stepResult{}, fmt.Errorf("SIPp caller at %d cps (exit status %d): no statistics (%v)\n%s",
			rate, c.exitCode(), err, c.errTail(10))
	}
	last := rows[len(rows)-1]
	s.Successful, s.Failed = last.Successful, last.Failed
	if at, ok := placedBy(rows, count); ok && at > rows[0].Start {
		s.AchievedCPS = float64(count) / (at - rows[0].Start)
	}
	b.crit.judge(&s)
	return s, nil
}

// runServiceStep places a step's calls through telephonyd with `callctl load`.
func (b *bench) runServiceStep(ctx context.Context, svc *service, u *uas, rate int) (stepResult, error) {
	count := b.stepCalls(rate)
	if err := svc.idle(ctx, b.settleLimit()); err != nil {
		return stepResult{}, err
	}
	before, err := u.idle(ctx, time.Now(), b.settleLimit())
	if err != nil {
		return stepResult{}, err
	}
	svcCPU, redisCPU, uasCPU := svc.proc.cpuSeconds(), b.redis.cpuSeconds(), u.cpuSeconds()
	scripts, scriptUsec, err := redisScripts(b.redisAddr)
	if err != nil {
		return stepResult{}, fmt.Errorf("redis-server: %w", err)
	}
	b.steps++
	name := fmt.Sprintf("step%03d-callctl", b.steps)
	c, err := b.cs.start(name, "", b.callctl, b.loadArgs(svc, gatewayName, rate, count, b.set.Hold+20*time.Second)...)
	if err != nil {
		return stepResult{}, err
	}
	if err := waitTool(ctx, c, time.Duration(float64(count)/float64(rate)*float64(time.Second))+b.set.Hold+2*time.Minute); err != nil {
		return stepResult{}, err
	}
	report, raw, err := readLoad(c)
	if err != nil {
		return stepResult{}, err
	}
	after, err := u.idle(ctx, c.end, b.settleLimit())
	if err != nil {
		return stepResult{}, err
	}
	if err := svc.idle(ctx, b.settleLimit()); err != nil {
		return stepResult{}, err
	}
	scriptsAfter, scriptUsecAfter, err := redisScripts(b.redisAddr)
	if err != nil {
		return stepResult{}, fmt.Errorf("redis-server: %w", err)
	}
	instant := float64(count)/float64(rate) + b.set.Hold.Seconds()
	s := stepResult{
		Rate: rate, Calls: count, Successful: report.Successful, FailedBy: report.Failed,
		ProviderCalls: after.Incoming - before.Incoming, ProviderFailed: after.Failed - before.Failed,
		ExitCode: c.exitCode(), AchievedCPS: report.AchievedCPS,
		WallSeconds: c.wall().Seconds(), LagSeconds: c.wall().Seconds() - instant,
		CPUSeconds: map[string]float64{
			"telephonyd": svc.proc.cpuSeconds() - svcCPU, "callctl": c.cpuSeconds(),
			"redis": b.redis.cpuSeconds() - redisCPU, "sipp_uas": u.cpuSeconds() - uasCPU,
		},
		RedisScripts: scriptsAfter - scripts, RedisScriptMicros: scriptUsecAfter - scriptUsec,
		Load: raw,
	}
	for _, n := range report.Failed {
		s.Failed += n
	}
	b.crit.judge(&s)
	return s, nil
}
