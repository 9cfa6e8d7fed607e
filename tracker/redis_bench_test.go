package tracker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/internal/testenv"
)

// benchCalls and benchWorkers: the records of 10,000 calls, written by 64 goroutines as
// that many live calls would.
const (
	benchCalls   = 10_000
	benchWorkers = 64
)

// BenchmarkRedisCallRecords writes the whole life of 10,000 calls to a Redis store (create,
// eight intermediate versions, the end and its aggregate) per op, and reports calls/s:
// straight to Redis, and through a write-behind buffer (as telephonyd does), flushed before
// the round's clock stops.
func BenchmarkRedisCallRecords(b *testing.B) {
	b.Run("direct", func(b *testing.B) { benchCallRecords(b, newRedisStore(b), nil) })
	b.Run("write-behind", func(b *testing.B) {
		buf := newBuffered(b, BufferConfig{WriteBehind: true}, newRedisStore(b))
		testenv.Run(b, "buffer", buf.Run)
		benchCallRecords(b, buf, buf.Flush)
	})
}

func benchCallRecords(b *testing.B, s Store, flush func(context.Context) error) {
	rate, _ := benchRounds(b, func(round, i int) error {
		var final *telephony.Call
		at := suiteT0.Add(time.Duration(i) * time.Millisecond)
		return runCall(b.Context(), s, fmt.Sprintf("bench-%d-%d", round, i), "gw-bench", at, &final)
	}, flush)
	b.ReportMetric(rate, "calls/s")
}

// benchRounds runs each op as a round of benchCalls calls of call, spread over benchWorkers
// goroutines, then flush (if any), and returns the calls per second over every round and
// how many calls it made.
func benchRounds(b *testing.B, call func(round, i int) error, flush func(context.Context) error) (float64, int) {
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
					if err := call(round, i); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		if flush != nil {
			if err := flush(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
		elapsed += time.Since(start)
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	return float64(benchCalls*round) / elapsed.Seconds(), benchCalls * round
}

// BenchmarkRedisCreate creates 10,000 calls per op from 64 goroutines, as that many
// concurrent PlaceCalls would (each with a request id, on a store that owns its calls, as
// telephonyd's does), and reports creates/s and Redis round trips per create: straight to
// the store, and through Buffered, which batches concurrent Creates.
func BenchmarkRedisCreate(b *testing.B) {
	b.Run("direct", func(b *testing.B) {
		s, trips := newBenchCreateStore(b)
		benchCreate(b, s, trips)
	})
	b.Run("batched", func(b *testing.B) {
		s, trips := newBenchCreateStore(b)
		benchCreate(b, newBuffered(b, BufferConfig{}, s), trips)
	})
}

func newBenchCreateStore(b *testing.B) (*Redis, *tripHook) {
	c := newClient(b, testenv.StartRedis(b))
	h := &tripHook{}
	c.AddHook(h)
	return newRedis(b, RedisConfig{Now: suiteClock, Instance: "bench"}, c), h
}

func benchCreate(b *testing.B, s Store, trips *tripHook) {
	trips.trips.Store(0)
	rate, n := benchRounds(b, func(round, i int) error {
		id := fmt.Sprintf("bench-%d-%d", round, i)
		c := &telephony.Call{ID: id, RequestID: "req-" + id, Gateway: "gw-bench", From: "100", To: "79001234567",
			Labels: map[string]string{"campaign": "bench"}, State: telephony.StateDialing,
			CreatedAt: suiteT0.Add(time.Duration(i) * time.Millisecond)}
		_, _, err := s.Create(b.Context(), c)
		return err
	}, nil)
	b.ReportMetric(rate, "creates/s")
	b.ReportMetric(float64(trips.trips.Load())/float64(n), "trips/create")
}
