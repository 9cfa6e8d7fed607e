package main

import (
	"context"
	"fmt"
	"math"
	"time"
)

// searchConfig says how to look for the highest clean rate.
type searchConfig struct {
	Start  int     // first rate tried, calls per second
	Max    int     // never try above this
	Factor float64 // multiply (or divide) the rate by this while every step is clean (or fails)
	Bisect int     // then this many steps between the highest clean and the lowest failing rate
}

// searchResult is the outcome of one search.
type searchResult struct {
	// Best is the highest rate whose step was clean; 0 if none was.
	Best int `json:"best_cps"`
	// FirstFailing is the lowest rate whose step was not clean; 0 if none failed (then Best
	// is only a lower bound: Capped).
	FirstFailing int  `json:"lowest_failing_cps"`
	Capped       bool `json:"capped"`
	// Steps are every step taken, in order.
	Steps []stepResult `json:"steps"`
}

// probe runs one step at rate and judges it.
type probe func(ctx context.Context, rate int) (stepResult, error)

// search finds the highest clean rate: from Start it multiplies by Factor while steps are
// clean (or divides while they fail) until it has a clean rate below a failing one, then
// bisects between them Bisect times, or until they are 1 cps or 2% apart.
func search(ctx context.Context, cfg searchConfig, run probe) (searchResult, error) {
	var res searchResult
	try := func(rate int) (bool, error) {
		s, err := run(ctx, rate)
		if err != nil {
			return false, err
		}
		res.Steps = append(res.Steps, s)
		if s.Clean {
			res.Best = max(res.Best, rate)
		} else if res.FirstFailing == 0 || rate < res.FirstFailing {
			res.FirstFailing = rate
		}
		return s.Clean, nil
	}
	rate := min(max(cfg.Start, 1), cfg.Max)
	for {
		clean, err := try(rate)
		if err != nil {
			return res, err
		}
		if res.Best != 0 && res.FirstFailing != 0 {
			break // bracketed
		}
		if clean {
			if rate >= cfg.Max {
				res.Capped = true
				return res, nil
			}
			rate = min(int(math.Ceil(float64(rate)*cfg.Factor)), cfg.Max)
		} else {
			if rate <= 1 {
				return res, nil // not even 1 cps is clean
			}
			rate = max(int(float64(rate)/cfg.Factor), 1)
		}
	}
	for range cfg.Bisect {
		lo, hi := res.Best, res.FirstFailing
		if hi-lo <= 1 || float64(hi-lo) <= 0.02*float64(lo) {
			break
		}
		if _, err := try(lo + (hi-lo)/2); err != nil {
			return res, err
		}
	}
	return res, nil
}

// criteria decide whether a step was clean.
type criteria struct {
	// Pace is the least share of the target rate at which calls must have been placed.
	Pace float64
	// MaxLag is how much longer than an instant call's lifetime (placing time, hold, the
	// caller's final wait) the step may take before its last call ended.
	MaxLag time.Duration
}

// judge sets s.Clean and, when it is not, s.Why: every call succeeded with the provider
// agreeing, at the target pace, and the last one ended in time.
func (c criteria) judge(s *stepResult) {
	s.Clean, s.Why = false, ""
	switch {
	case s.Failed > 0:
		s.Why = fmt.Sprintf("%d failed", s.Failed)
	case s.Successful < s.Calls:
		s.Why = fmt.Sprintf("%d of %d succeeded", s.Successful, s.Calls)
	case s.ProviderFailed > 0:
		s.Why = fmt.Sprintf("the provider counted %d failed", s.ProviderFailed)
	case s.ExitCode != 0:
		s.Why = fmt.Sprintf("the caller exited with status %d", s.ExitCode)
	case s.AchievedCPS < c.Pace*float64(s.Rate):
		s.Why = fmt.Sprintf("placed at %.0f cps", s.AchievedCPS)
	case s.LagSeconds > c.MaxLag.Seconds():
		s.Why = fmt.Sprintf("ended %.1f s late", s.LagSeconds)
	default:
		s.Clean = true
	}
}
