package tracker

import (
	"cmp"
	"container/list"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/internal/wait"
)

// BufferConfig configures a Buffered store. The zero value of every field is its default.
type BufferConfig struct {
	// Bound is the most calls whose latest record the buffer holds. When it is full, an
	// intermediate record gives way before a final one and the oldest before the newest;
	// reaching the bound and every final record dropped are logged at Error. Default 100,000.
	Bound int
	// WriteTimeout bounds each store write, so that an unreachable store holds an Update
	// (and so the call that made it) at most this long before the record is buffered.
	// Default 2 s.
	WriteTimeout time.Duration
	// RetryMin and RetryMax bound the wait between attempts to write the buffer to a store
	// that failed: RetryMin (default 100 ms), doubled after each failure up to RetryMax
	// (default 5 s).
	RetryMin, RetryMax time.Duration
	// Logger receives outages (Warn), recoveries (Info) and dropped records (Error).
	// Default: discard.
	Logger *slog.Logger
	// WriteBehind sends every Update to the buffer, for Run to write, so that no Update
	// waits for the store even while it works: a call's events are never held by store
	// round trips, and the versions of a call that arrive while an earlier one is being
	// written collapse into one write. Get and List answer the buffered versions as always;
	// Buckets writes the buffer before it reads.
	WriteBehind bool
	// Linger is how long Run waits, once woken by a buffered record, before it writes: the
	// versions a call goes through meanwhile collapse into one write (a call's 100, 180
	// and 200 come within milliseconds). The store gets each record up to this much later;
	// Get and List answer it from the buffer meanwhile, and Flush does not wait. Default 0.
	Linger time.Duration
}

// Validate reports negative values and a RetryMax below RetryMin.
func (c BufferConfig) Validate() error {
	if c.Bound < 0 || c.WriteTimeout < 0 || c.RetryMin < 0 || c.RetryMax < 0 || c.Linger < 0 {
		return fmt.Errorf("tracker: buffer config %+v has a negative value", c)
	}
	if c.RetryMax != 0 && c.RetryMax < cmp.Or(c.RetryMin, defaultRetryMin) {
		return fmt.Errorf("tracker: retry max %v is below retry min", c.RetryMax)
	}
	return nil
}

const (
	defaultBound        = 100_000
	defaultWriteTimeout = 2 * time.Second
	defaultRetryMin     = 100 * time.Millisecond
	defaultRetryMax     = 5 * time.Second
	// batchSize is how many records are written at once, buffered ones or those of
	// concurrent Creates: enough to empty a full buffer in seconds once the store is back,
	// few enough for one pipeline or connection pool.
	batchSize = 128
)

// Buffered is a Store that survives its store being unreachable. Create, Get, List and
// Buckets go to the store (Create must answer request-id idempotency there and then;
// concurrent Creates share its round trips when it can write many at once), but
// an Update the store cannot take (or every Update, with WriteBehind) is kept in a bounded
// local buffer, latest version per call, and written by Run, which retries with backoff
// while the store fails, or by Flush at shutdown. While the store is failing, Updates go straight to the buffer so that
// calls are not held by timeouts. Get and List answer the buffered version of a call
// whose latest record is still buffered. Buckets count a buffered final record once it is
// written. It is safe for concurrent use, but the Updates of one call must not overlap
// (the server writes each call from one goroutine, in order).
type Buffered struct {
	store Store
	cfg   BufferConfig
	log   *slog.Logger

	// writing is held by whoever writes buffered records (Run's loop or Flush), so that a
	// call's buffered versions are never written concurrently and out of order.
	writing sync.Mutex

	mu      sync.Mutex
	entries map[string]*entry
	final   list.List // entries holding an ended record, oldest first
	partial list.List // entries holding an intermediate record, oldest first
	down    bool      // the store failed last time: Updates go straight to the buffer
	full    bool      // the bound was reached since the buffer was last empty (logged once)
	dropped int64
	wake    chan struct{} // 1: one poke covers every record buffered
	// live holds, with WriteBehind, the calls created through this buffer that have not
	// ended: only their Updates are written behind. Any other Update is written through, so
	// that the store still answers for calls it does not know or that ended.
	live map[string]struct{}

	creates createQueue
}

// entry is the latest version of one call that the store does not have yet. Its call is
// never modified, only replaced, so readers may use it outside the lock.
type entry struct {
	call     *telephony.Call
	elem     *list.Element // in final or partial
	inflight bool          // being written: never evicted, lest an older version land after a newer one
}

// NewBuffered returns a Buffered over s. Run must run for buffered records to be written
// before Flush.
func NewBuffered(cfg BufferConfig, s Store) (*Buffered, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Bound = cmp.Or(cfg.Bound, defaultBound)
	cfg.WriteTimeout = cmp.Or(cfg.WriteTimeout, defaultWriteTimeout)
	cfg.RetryMin = cmp.Or(cfg.RetryMin, defaultRetryMin)
	cfg.RetryMax = cmp.Or(cfg.RetryMax, max(defaultRetryMax, cfg.RetryMin))
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Buffered{
		store:   s,
		cfg:     cfg,
		log:     log.With("component", "tracker"),
		entries: make(map[string]*entry),
		wake:    make(chan struct{}, 1),
		live:    make(map[string]struct{}),
	}, nil
}

// Update implements Store. It returns nil once the record is written or buffered, and the
// store's error only for a record it refuses (ErrNotFound, ErrInvalidCall).
func (b *Buffered) Update(ctx context.Context, c *telephony.Call) error {
	if err := validate(c); err != nil {
		return err
	}
	b.mu.Lock()
	_, live := b.live[c.ID]
	if c.Termination.Ended() {
		delete(b.live, c.ID)
	}
	if _, ok := b.entries[c.ID]; ok || b.down || live {
		// Behind a buffered version of the call, a direct write could land first and be
		// overwritten by the older one.
		b.putLocked(c.Clone())
		b.mu.Unlock()
		b.poke()
		return nil
	}
	b.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, b.cfg.WriteTimeout)
	err := b.store.Update(wctx, c)
	cancel()
	if err == nil || permanent(err) {
		return err
	}
	b.mu.Lock()
	b.putLocked(c.Clone())
	if ctx.Err() == nil { // the caller giving up says nothing about the store
		b.markDownLocked(ctx, err)
	}
	b.mu.Unlock()
	b.poke()
	return nil
}

// Get implements Store.
func (b *Buffered) Get(ctx context.Context, id string) (*telephony.Call, error) {
	var c *telephony.Call
	b.mu.Lock()
	if e := b.entries[id]; e != nil {
		c = e.call // replaced under the lock, never modified: cloned outside it
	}
	b.mu.Unlock()
	if c != nil {
		return c.Clone(), nil
	}
	return b.store.Get(ctx, id)
}

// Buckets implements Store: the store's, without the buffered final records (with
// WriteBehind, after writing the buffer, so that a report counts every call that ended).
func (b *Buffered) Buckets(ctx context.Context, gateway, label string, from, to time.Time) ([]Bucket, error) {
	if b.cfg.WriteBehind {
		if err := b.drain(ctx); err != nil {
			return nil, err
		}
	}
	return b.store.Buckets(ctx, gateway, label, from, to)
}

// Pending returns how many calls have a record waiting in the buffer.
func (b *Buffered) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.entries)
}

// Dropped returns how many records the buffer has dropped because it was full.
func (b *Buffered) Dropped() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}

// Run writes buffered records to the store until ctx ends: as soon as they are buffered
// while the store works, and after a backoff from RetryMin to RetryMax while it fails. It
// returns nil when ctx ends; records still buffered then are Flush's.
func (b *Buffered) Run(ctx context.Context) error {
	delay := b.cfg.RetryMin
	for {
		if err := b.drain(ctx); err == nil {
			delay = b.cfg.RetryMin
			select {
			case <-ctx.Done():
				return nil
			case <-b.wake:
			}
			if wait.Sleep(ctx, b.cfg.Linger) != nil {
				return nil
			}
			continue
		}
		// A failing store is retried on the backoff, not on every Update.
		if wait.Sleep(ctx, delay) != nil {
			return nil
		}
		delay = min(2*delay, b.cfg.RetryMax)
	}
}

// Flush writes every buffered record, retrying with backoff while the store fails, until
// the buffer is empty (nil) or ctx ends (an error saying how many records were not
// written). It is meant for shutdown, after the last Update.
func (b *Buffered) Flush(ctx context.Context) error {
	delay := b.cfg.RetryMin
	for {
		err := b.drain(ctx)
		if err == nil {
			return nil
		}
		if wait.Sleep(ctx, delay) != nil {
			return fmt.Errorf("tracker: flush: %w", err)
		}
		delay = min(2*delay, b.cfg.RetryMax)
	}
}

// drain writes buffered records, batchSize at a time, until none are left (nil) or a
// write fails.
func (b *Buffered) drain(ctx context.Context) error {
	b.writing.Lock()
	defer b.writing.Unlock()
	for {
		// A store that failed is probed with one record, not a batch of connection attempts.
		n := batchSize
		if b.isDown() {
			n = 1
		}
		batch := b.take(n)
		if len(batch) == 0 {
			return nil
		}
		wctx, cancel := context.WithTimeout(ctx, b.cfg.WriteTimeout)
		errs := b.writeBatch(wctx, batch)
		cancel()
		if err := b.settle(ctx, batch, errs); err != nil {
			return err
		}
	}
}

// batchUpdater is a store that writes many calls' records in one go; *Redis is one.
type batchUpdater interface {
	UpdateMany(ctx context.Context, calls []*telephony.Call) []error
}

// writeBatch writes distinct calls' records (their order does not matter): in one go if the
// store can, else concurrently.
func (b *Buffered) writeBatch(ctx context.Context, batch []*telephony.Call) []error {
	if bu, ok := b.store.(batchUpdater); ok {
		return bu.UpdateMany(ctx, batch)
	}
	errs := make([]error, len(batch))
	var wg sync.WaitGroup
	for i, c := range batch {
		wg.Go(func() { errs[i] = b.store.Update(ctx, c) })
	}
	wg.Wait()
	return errs
}

func (b *Buffered) isDown() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.down
}

// take marks up to n entries in flight, final records first, and returns their records.
func (b *Buffered) take(n int) []*telephony.Call {
	b.mu.Lock()
	defer b.mu.Unlock()
	var batch []*telephony.Call
	for _, l := range []*list.List{&b.final, &b.partial} {
		for el := l.Front(); el != nil && len(batch) < n; el = el.Next() {
			e := el.Value.(*entry)
			e.inflight = true
			batch = append(batch, e.call)
		}
	}
	return batch
}

// settle removes from the buffer the records of batch that were written (unless a newer
// version arrived meanwhile) or refused, and returns the first other error.
func (b *Buffered) settle(ctx context.Context, batch []*telephony.Call, errs []error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var failed error
	for i, c := range batch {
		e := b.entries[c.ID]
		if e != nil {
			e.inflight = false
		}
		err := errs[i]
		switch {
		case err != nil && !permanent(err):
			failed = cmp.Or(failed, err)
			continue
		case err != nil:
			b.log.ErrorContext(ctx, "buffered call record dropped: the store refused it", "call_id", c.ID, "err", err)
		}
		if e != nil && e.call == c {
			b.removeLocked(e)
		}
	}
	if failed != nil {
		if ctx.Err() == nil { // our own deadline says nothing about the store
			b.markDownLocked(ctx, failed)
		}
		return fmt.Errorf("tracker: %d call records buffered: %w", len(b.entries), failed)
	}
	if b.down {
		b.down = false
		b.log.InfoContext(ctx, "call store reachable again", "buffered", len(b.entries), "dropped", b.dropped)
	}
	if len(b.entries) == 0 {
		b.full = false
	}
	return nil
}

// markDownLocked sends Updates to the buffer until a write succeeds again.
func (b *Buffered) markDownLocked(ctx context.Context, err error) {
	if !b.down {
		b.down = true
		b.log.WarnContext(ctx, "call store unreachable: buffering call records", "err", err)
	}
}

func (b *Buffered) poke() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}
