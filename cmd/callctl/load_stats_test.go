package main

import (
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

func TestHistogramPercentiles(t *testing.T) {
	var h histogram
	if got := h.percentile(0.5); got != 0 {
		t.Errorf("empty: got %v, want 0", got)
	}
	// 1 ms to 1000 ms, shuffled: the q-th percentile is q·1000 ms.
	for _, i := range rand.Perm(1000) {
		h.record(time.Duration(i+1) * time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.95, 950 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		// The top of the value's bucket: at most 1/128 above it.
		if got := h.percentile(tc.q); got < tc.want || got > tc.want+tc.want/subBuckets {
			t.Errorf("p%v: got %v, want %v to %v", 100*tc.q, got, tc.want, tc.want+tc.want/subBuckets)
		}
	}
	if s := h.summary(); s.Count != 1000 || s.Max != 1000 {
		t.Errorf("summary: got %+v, want 1000 samples, max 1000 ms", s)
	}

	var small histogram
	for _, d := range []time.Duration{3, 7, 7, -5} { // a negative sample counts as 0
		small.record(d)
	}
	if p50, p99 := small.percentile(0.5), small.percentile(0.99); p50 != 3 || p99 != 7 {
		t.Errorf("small values: got p50 %v p99 %v, want them exactly (3ns, 7ns)", p50, p99)
	}
}

func TestHistogramBuckets(t *testing.T) {
	values := []int64{0, 1, 255, 256, 257, 1000, 1 << 20, 123456789, 1<<62 + 12345, 1<<63 - 1}
	for range 1000 {
		values = append(values, rand.Int64N(1<<40))
	}
	for _, v := range values {
		i := bucket(v)
		if i >= len(histogram{}.counts) {
			t.Fatalf("bucket(%d) = %d, beyond the histogram", v, i)
		}
		top, below := bucketTop(i), int64(-1)
		if i > 0 {
			below = bucketTop(i - 1)
		}
		if v > top || v <= below || top-below > max(1, v/subBuckets+1) {
			t.Errorf("value %d: bucket %d holds (%d, %d], want it inside and no wider than 1/%d", v, i, below, top, subBuckets)
		}
	}
}

func TestPacerSchedule(t *testing.T) {
	steady := newPacer(100, 0, time.Time{})
	if got := steady.at(19); got != 190*time.Millisecond {
		t.Errorf("100/s: start 19 at %v, want 190ms", got)
	}
	// 100/s reached over 100 ms: 5 starts during the ramp, then 10 ms apart.
	ramp := newPacer(100, 100*time.Millisecond, time.Time{})
	for _, tc := range []struct {
		k    int
		want time.Duration
	}{{0, 0}, {1, 44721359}, {5, 100 * time.Millisecond}, {9, 140 * time.Millisecond}} {
		if got := ramp.at(tc.k); (got - tc.want).Abs() > time.Microsecond {
			t.Errorf("ramp: start %d at %v, want %v", tc.k, got, tc.want)
		}
	}
	for k := range 20 {
		if ramp.at(k+1) <= ramp.at(k) {
			t.Errorf("ramp: start %d at %v is not after start %d at %v", k+1, ramp.at(k+1), k, ramp.at(k))
		}
	}
}

// A pacer that falls behind catches up at once, as SIPp's caller does, unless it fell more
// than maxLag behind: then the schedule moves and the delay counts as slip.
func TestPacerCatchesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		never := make(chan time.Time)
		p := newPacer(100, 0, time.Now())
		defer p.stop()
		time.Sleep(55 * time.Millisecond) // the tool stalls: starts 0 to 5 are due
		for k := range 6 {
			if !p.wait(k, never, nil) {
				t.Fatalf("start %d: wait returned false", k)
			}
		}
		if p.slip != 0 || p.late != 0 || p.maxLag != 55*time.Millisecond {
			t.Errorf("after a 55 ms stall: slip %v over %d starts, largest lag %v; want the starts made up at once, 55ms late at most", p.slip, p.late, p.maxLag)
		}
		before := time.Now()
		if p.wait(6, never, nil); time.Since(before) != 5*time.Millisecond {
			t.Errorf("start 6 came %v after the catch-up, want on its schedule 5ms later", time.Since(before))
		}

		time.Sleep(maxLag + 30*time.Millisecond) // start 7 is due 10 ms after 6: 120 ms late
		p.wait(7, never, nil)
		if want := maxLag + 20*time.Millisecond; p.slip != want || p.late != 1 {
			t.Errorf("after a long stall: slip %v over %d starts, want %v over 1", p.slip, p.late, want)
		}
		before = time.Now()
		if p.wait(8, never, nil); time.Since(before) != 10*time.Millisecond {
			t.Errorf("start 8 came %v after start 7, want the moved schedule's 10ms", time.Since(before))
		}
	})
}

func TestClassify(t *testing.T) {
	const (
		remote = telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_HANGUP
		ours   = telephonyv1.TerminationCause_TERMINATION_CAUSE_HANGUP_REQUESTED
		ring   = telephonyv1.TerminationCause_TERMINATION_CAUSE_RING_TIMEOUT
	)
	tests := []struct {
		name     string
		answered bool
		cause    telephonyv1.TerminationCause
		why      string
		want     string
	}{
		{name: "far side hung up", answered: true, cause: remote, want: ""},
		{name: "our hold hang-up", answered: true, cause: ours, why: "hold", want: ""},
		{name: "hung up on interrupt", answered: true, cause: ours, why: outcomeInterrupted, want: outcomeInterrupted},
		{name: "far side ended before the interrupt's hang-up", answered: true, cause: remote, why: outcomeInterrupted, want: ""},
		{name: "someone else hung up", answered: true, cause: ours, want: "hangup_requested"},
		{name: "never answered", cause: ring, want: "ring_timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.answered, tc.cause, tc.why); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseProc(t *testing.T) {
	stat := "4242 (tele phony) d) S 1 4242 4242 0 -1 4194560 9000 0 0 0 1234 567 0 0 20 0 12 0 100 2000000 3000 " +
		"18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	if got, err := parseStatCPU([]byte(stat)); err != nil || got != 1234+567 {
		t.Errorf("stat: got %d (%v), want %d", got, err, 1234+567)
	}
	status := "Name:\ttelephonyd\nVmPeak:\t  900000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nThreads:\t12\n"
	if peak, rss, err := parseStatusRSS([]byte(status)); err != nil || peak != 50<<20 || rss != 40<<20 {
		t.Errorf("status: got peak %d rss %d (%v), want %d and %d", peak, rss, err, 50<<20, 40<<20)
	}
	if _, _, err := parseStatusRSS([]byte("Name:\tkthreadd\n")); err == nil {
		t.Error("status without VmRSS: got no error")
	}
	if got := clockTicks(); got < 1 {
		t.Errorf("clock ticks: got %d", got)
	}
}
