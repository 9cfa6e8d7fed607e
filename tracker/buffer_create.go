package tracker

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ccplane/telephony"
)

// batchCreator is a store that creates many calls in one go; *Redis is one.
type batchCreator interface {
	CreateMany(ctx context.Context, calls []*telephony.Call) []CreateResult
}

// createQueue combines concurrent Creates into batches, with no goroutine of its own: the
// caller that finds no batch being written writes its call at once, and the callers that
// arrive meanwhile queue up for the first of them to write together when it ends. So an
// idle store costs a Create no wait, and a busy one takes a round trip per step for many.
type createQueue struct {
	mu      sync.Mutex
	writing bool         // a batch is being written
	waiting []*createReq // arrived while it was, oldest first
}

// createReq is one Create in a createQueue.
type createReq struct {
	call     *telephony.Call
	deadline time.Time // of the caller's context; zero for none
	// Set before done is closed: the Create's result, or, when the caller is to write the
	// next batch, that batch (its own Create first).
	res  CreateResult
	lead []*createReq
	done chan struct{}
}

// Create implements Store: it is the store's Create, but concurrent Creates share its round
// trips when it creates many at once (Redis), in batches of at most batchSize, with the
// guarantees of its CreateMany. A Create whose ctx has ended, or ends while it is queued
// behind a batch being written, returns ctx's error, having written nothing. Once its call
// is being written, it waits for the outcome rather than leave a call written that its
// caller was told had failed: a batch is cut short only once the deadlines of all its
// callers have passed, never by a cancellation.
func (b *Buffered) Create(ctx context.Context, c *telephony.Call) (*telephony.Call, bool, error) {
	if err := validate(c); err != nil {
		return nil, false, err
	}
	var res CreateResult
	if bc, ok := b.store.(batchCreator); ok {
		res = b.createBatched(ctx, bc, c)
	} else {
		res.Call, res.Created, res.Err = b.store.Create(ctx, c)
	}
	if res.Created && b.cfg.WriteBehind && !c.Termination.Ended() {
		b.mu.Lock()
		b.live[c.ID] = struct{}{}
		b.mu.Unlock()
	}
	return res.Call, res.Created, res.Err
}

func (b *Buffered) createBatched(ctx context.Context, bc batchCreator, c *telephony.Call) CreateResult {
	if err := ctx.Err(); err != nil {
		return CreateResult{Err: fmt.Errorf("tracker: create call %s: %w", c.ID, err)}
	}
	req := &createReq{call: c, done: make(chan struct{})}
	req.deadline, _ = ctx.Deadline()
	q := &b.creates
	q.mu.Lock()
	if !q.writing {
		q.writing = true
		q.mu.Unlock()
		b.writeCreates(ctx, bc, []*createReq{req})
		return req.res
	}
	q.waiting = append(q.waiting, req)
	q.mu.Unlock()
	select {
	case <-req.done:
	case <-ctx.Done():
		q.mu.Lock()
		i := slices.Index(q.waiting, req)
		if i >= 0 {
			q.waiting = slices.Delete(q.waiting, i, i+1)
		}
		q.mu.Unlock()
		if i >= 0 {
			return CreateResult{Err: fmt.Errorf("tracker: create call %s: %w", c.ID, ctx.Err())}
		}
		<-req.done // taken into a batch already
	}
	if req.lead != nil {
		b.writeCreates(ctx, bc, req.lead)
	}
	return req.res
}

// writeCreates writes batch, whose first Create is the caller's, hands the Creates queued
// meanwhile to the first of them to write next, and answers the others of batch. Should
// CreateMany panic, the queue is still handed on and the batch answered with an error before
// the panic goes on up the caller's stack: a bug fails one batch, not every later Create.
func (b *Buffered) writeCreates(ctx context.Context, bc batchCreator, batch []*createReq) {
	var results []CreateResult
	defer func() {
		if results == nil {
			results = make([]CreateResult, len(batch))
			for i, r := range batch {
				results[i].Err = fmt.Errorf("tracker: create call %s: batch failed", r.call.ID)
			}
		}
		b.handOver()
		for i, r := range batch {
			r.res = results[i]
			if i > 0 {
				close(r.done)
			}
		}
	}()
	calls := make([]*telephony.Call, len(batch))
	for i, r := range batch {
		calls[i] = r.call
	}
	wctx, cancel := batchContext(ctx, batch)
	defer cancel()
	results = bc.CreateMany(wctx, calls)
}

// handOver gives the Creates queued while a batch was written to the first of them to
// write, or marks the queue idle.
func (b *Buffered) handOver() {
	q := &b.creates
	q.mu.Lock()
	n := min(len(q.waiting), batchSize)
	next := slices.Clone(q.waiting[:n])
	q.waiting = slices.Delete(q.waiting, 0, n)
	q.writing = n > 0
	q.mu.Unlock()
	if n > 0 {
		next[0].lead = next
		close(next[0].done)
	}
}

// batchContext is the context a batch is written in: ctx (its first caller's) without its
// cancellation, so that no caller giving up cuts the others' Creates short, but with the
// latest of the callers' deadlines if they all have one, so that like a Create of one call
// it stops once no caller can use its outcome.
func batchContext(ctx context.Context, batch []*createReq) (context.Context, context.CancelFunc) {
	ctx = context.WithoutCancel(ctx)
	var last time.Time
	for _, r := range batch {
		if r.deadline.IsZero() {
			return ctx, func() {}
		}
		if r.deadline.After(last) {
			last = r.deadline
		}
	}
	return context.WithDeadline(ctx, last)
}
