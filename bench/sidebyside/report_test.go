package main

import (
	"math"
	"testing"
)

// The ceiling is what telephonyd would reach taking no CPU: the CPUs over what the others
// took per call at its best step, over L.
func TestRatioCeiling(t *testing.T) {
	r := results{
		Machine: machine{CPUs: 2},
		SIPp:    []searchResult{{Best: 4000}, {Best: 5000}},
		Service: []searchResult{
			{Best: 500, Steps: []stepResult{
				{Rate: 250, Calls: 1000, Clean: true, CPUSeconds: map[string]float64{"callctl": 9, "redis": 9, "sipp_uas": 9}},
				// 0.5 ms of the others per call: 4,000 CPS on 2 CPUs, 1.0 × L.
				{Rate: 500, Calls: 2000, Clean: true, CPUSeconds: map[string]float64{"telephonyd": 4, "callctl": 0.4, "redis": 0.2, "sipp_uas": 0.4}},
				{Rate: 750, Calls: 3000, Clean: false},
			}},
			// 1 ms per call: 2,000 CPS, 0.4 × L.
			{Best: 400, Steps: []stepResult{
				{Rate: 400, Calls: 2000, Clean: true, CPUSeconds: map[string]float64{"callctl": 1, "redis": 0.4, "sipp_uas": 0.6}},
			}},
		},
	}
	r.finish(settings{})
	got := r.Summary.RatioCeiling
	if got.N != 2 || math.Abs(got.Min-0.4) > 1e-9 || math.Abs(got.Max-1.0) > 1e-9 {
		t.Errorf("ceiling = %+v, want 0.4 and 1.0 over 2 searches", got)
	}
	if got := r.Summary.Ratio; got.N != 2 || math.Abs(got.Min-0.08) > 1e-9 || math.Abs(got.Max-0.125) > 1e-9 {
		t.Errorf("ratio = %+v, want 500/4000 and 400/5000", got)
	}
}
