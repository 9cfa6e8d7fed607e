package tracker

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ccplane/telephony"
)

// benchCalls and benchWorkers: the records of 10,000 calls, written by 64 goroutines as
// that many live calls would.
const (
	benchCalls   = 10_000
	benchWorkers = 64
)

// BenchmarkRedisCallRecords writes the whole life of 10,000 calls to a Redis store (create,
// eight intermediate versions, the end and its aggregate) per op, and reports calls/s.
func BenchmarkRedisCallRecords(b *testing.B) {
	s := newRedisStore(b)
	b.ReportAllocs()
	var elapsed time.Duration
	round := 0
	for b.Loop() {
		round++
		ids := make(chan int, benchCalls) // every call of the round, queued up front
		for i := range benchCalls {
			ids <- i
		}
		close(ids)
		errs := make(chan error, benchWorkers) // at most one per worker
		start := time.Now()
		var wg sync.WaitGroup
		for range benchWorkers {
			wg.Go(func() {
				for i := range ids {
					var final *telephony.Call
					at := suiteT0.Add(time.Duration(i) * time.Millisecond)
					if err := runCall(b.Context(), s, fmt.Sprintf("bench-%d-%d", round, i), "gw-bench", at, &final); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		elapsed += time.Since(start)
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchCalls*round)/elapsed.Seconds(), "calls/s")
}
