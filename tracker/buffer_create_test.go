package tracker

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/internal/testenv"
)

// panickyCreator is a Memory that creates in batches and panics while told to.
type panickyCreator struct {
	*Memory
	panics atomic.Bool
}

func (p *panickyCreator) CreateMany(ctx context.Context, calls []*telephony.Call) []CreateResult {
	if p.panics.Load() {
		panic("CreateMany")
	}
	res := make([]CreateResult, len(calls))
	for i, c := range calls {
		res[i].Call, res[i].Created, res[i].Err = p.Memory.Create(ctx, c)
	}
	return res
}

// A store that panics in a batch fails that batch, and the Creates after it still work.
func TestBufferedCreateAfterPanic(t *testing.T) {
	s := &panickyCreator{Memory: NewMemory()}
	b := newBuffered(t, BufferConfig{}, s)
	s.panics.Store(true)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the store's panic did not reach the Create that ran it")
			}
		}()
		_, _, _ = b.Create(t.Context(), dialing("a", 1))
	}()
	s.panics.Store(false)
	done := make(chan error, 1)
	go func() {
		_, _, err := b.Create(t.Context(), dialing("b", 2))
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Create after a panic: %v", err)
		}
	case <-time.After(testenv.WaitFor):
		t.Fatal("Create after a panic is stuck behind the batch that panicked")
	}
}
