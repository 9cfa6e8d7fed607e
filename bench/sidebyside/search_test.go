package main

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestSearch(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cfg       searchConfig
		limit     int // steps at or below it are clean
		wantRates []int
		want      searchResult // without Steps
	}{
		{
			name:      "double then bisect",
			cfg:       searchConfig{Start: 50, Max: 50000, Factor: 2, Bisect: 3},
			limit:     700,
			wantRates: []int{50, 100, 200, 400, 800, 600, 700, 750},
			want:      searchResult{Best: 700, FirstFailing: 750},
		},
		{
			name:      "bisection stops when 2% apart",
			cfg:       searchConfig{Start: 100, Max: 50000, Factor: 2, Bisect: 10},
			limit:     150,
			wantRates: []int{100, 200, 150, 175, 162, 156, 153},
			want:      searchResult{Best: 150, FirstFailing: 153},
		},
		{
			name:      "first step fails: go down",
			cfg:       searchConfig{Start: 800, Max: 50000, Factor: 4, Bisect: 1},
			limit:     60,
			wantRates: []int{800, 200, 50, 125},
			want:      searchResult{Best: 50, FirstFailing: 125},
		},
		{
			name:      "capped",
			cfg:       searchConfig{Start: 50, Max: 300, Factor: 2, Bisect: 3},
			limit:     1000,
			wantRates: []int{50, 100, 200, 300},
			want:      searchResult{Best: 300, Capped: true},
		},
		{
			name:      "nothing clean",
			cfg:       searchConfig{Start: 4, Max: 300, Factor: 2, Bisect: 3},
			limit:     0,
			wantRates: []int{4, 2, 1},
			want:      searchResult{FirstFailing: 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rates []int
			got, err := search(context.Background(), tc.cfg, func(_ context.Context, rate int) (stepResult, error) {
				rates = append(rates, rate)
				return stepResult{Rate: rate, Clean: rate <= tc.limit}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rates, tc.wantRates) {
				t.Errorf("rates tried: got %v, want %v", rates, tc.wantRates)
			}
			if len(got.Steps) != len(rates) {
				t.Errorf("steps kept: got %d, want %d", len(got.Steps), len(rates))
			}
			got.Steps = nil
			if got.Best != tc.want.Best || got.FirstFailing != tc.want.FirstFailing || got.Capped != tc.want.Capped {
				t.Errorf("search: got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestJudge(t *testing.T) {
	c := criteria{Pace: 0.95, MaxLag: time.Second}
	ok := stepResult{Rate: 100, Calls: 500, Successful: 500, AchievedCPS: 99, LagSeconds: 0.2}
	for _, tc := range []struct {
		name    string
		change  func(*stepResult)
		wantWhy string
	}{
		{name: "clean", change: func(*stepResult) {}},
		{name: "failed", change: func(s *stepResult) { s.Failed, s.Successful = 2, 498 }, wantWhy: "2 failed"},
		{name: "missing", change: func(s *stepResult) { s.Successful = 499 }, wantWhy: "499 of 500 succeeded"},
		{name: "provider", change: func(s *stepResult) { s.ProviderFailed = 3 }, wantWhy: "the provider counted 3 failed"},
		{name: "exit status", change: func(s *stepResult) { s.ExitCode = 255 }, wantWhy: "the caller exited with status 255"},
		{name: "slow pace", change: func(s *stepResult) { s.AchievedCPS = 90 }, wantWhy: "placed at 90 cps"},
		{name: "late", change: func(s *stepResult) { s.LagSeconds = 1.5 }, wantWhy: "ended 1.5 s late"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.change(&s)
			c.judge(&s)
			if s.Clean != (tc.wantWhy == "") || s.Why != tc.wantWhy {
				t.Errorf("judge: got clean %v, why %q, want why %q", s.Clean, s.Why, tc.wantWhy)
			}
		})
	}
}

func TestParseFlagsQuick(t *testing.T) {
	s, err := parseFlags([]string{"--quick", "--bisect", "3"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Step != 2*time.Second || s.Factor != 4 || s.LiveCalls != 2000 || s.Bisect != 3 {
		t.Errorf("--quick --bisect 3: got step %v, factor %v, live calls %d, bisect %d; want 2s, 4, 2000, 3 (explicit flags win)",
			s.Step, s.Factor, s.LiveCalls, s.Bisect)
	}
	if _, err := parseFlags([]string{"--phases", "sipp,nope"}, nil); err == nil {
		t.Error("--phases sipp,nope: got no error")
	}
}
