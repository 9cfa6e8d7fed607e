package tracker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony"
)

// RedisConfig configures a Redis store. The zero value of every field is its default.
type RedisConfig struct {
	// Retention is how long a record is kept after its last write (the TTL of its key), how
	// long a call stays in the listing indexes (trimmed by creation time), and how long an
	// hourly aggregate is kept after its last increment. Default 30 days.
	Retention time.Duration
	// ListScan bounds the index entries one List reads, so that a filter matching few calls
	// cannot make one request read a month of calls: past it, List returns the page it has
	// (perhaps empty) with a cursor to go on from. Default 10,000.
	ListScan int
	// Logger receives index writes that failed (Warn) and the calls of dead instances ended
	// (Warn, Info per call). Default: discard.
	Logger *slog.Logger
	// Now is the clock that retention trims by, and the end time of calls RecoverLost ends.
	// Default time.Now.
	Now func() time.Time
	// Instance is this process's instance id, fresh for each process start (a UUID): the
	// calls it creates are its own until they end, and are ended as lost by another
	// instance if it dies first (see RunOwnership). With it, RunOwnership must run for as
	// long as the process has calls. Default "": calls are owned by no one.
	Instance string
	// ReportLabels are the label keys whose values get report buckets of their own (see
	// Store.Buckets): "campaign", "agent_id", never a key with a value per call. Keys are
	// label keys as the server accepts them (letters, digits, '_', '-', '.', at most 63
	// bytes); a key given twice counts once. Every instance sharing the Redis should have
	// the same list: a call is counted into the label buckets of the instance that counts
	// it. Default none.
	ReportLabels []string
}

// Validate reports a negative Retention or ListScan, or an invalid ReportLabels key.
func (c RedisConfig) Validate() error {
	if c.Retention < 0 {
		return fmt.Errorf("tracker: retention %v is negative", c.Retention)
	}
	if c.ListScan < 0 {
		return fmt.Errorf("tracker: list scan %d is negative", c.ListScan)
	}
	_, err := reportLabelKeys(c.ReportLabels)
	return err
}

const defaultListScan = 10_000

// claimWait is how long a Create whose request id is claimed by a call without a record
// waits for that record before taking the claim over. The claimant writes its record right
// after claiming, so a record still missing after this means its Create failed half-way.
const claimWait = time.Second

// Redis is a Store in Redis (standalone, Sentinel or Cluster), shared by every instance
// and surviving restarts as far as Redis persists. See the package doc for the keys. It is
// safe for concurrent use.
type Redis struct {
	c         redis.UniversalClient
	log       *slog.Logger
	now       func() time.Time
	retention time.Duration
	ttl       string // retention in milliseconds, the scripts' argument
	scan      int
	claimWait time.Duration // claimWait; tests shorten it
	owner     *ownership
	labels    []string // report label keys

	create, update, count, takeover *redis.Script
}

// NewRedis returns a Store on c. The caller keeps ownership of c.
func NewRedis(cfg RedisConfig, c redis.UniversalClient) (*Redis, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Redis{
		c:         c,
		log:       cfg.Logger,
		now:       cfg.Now,
		retention: cmp.Or(cfg.Retention, DefaultRetention),
		scan:      cmp.Or(cfg.ListScan, defaultListScan),
		claimWait: claimWait,
		create:    redis.NewScript(createScript),
		update:    redis.NewScript(updateScript),
		count:     redis.NewScript(countScript),
		takeover:  redis.NewScript(takeoverScript),
		owner:     newOwnership(cfg.Instance),
	}
	r.labels, _ = reportLabelKeys(cfg.ReportLabels) // validated above
	r.ttl = strconv.FormatInt(r.retention.Milliseconds(), 10)
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.log = r.log.With("component", "tracker")
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

// Create implements Store. With a request id, the claim (callreq:{rid}) is taken first,
// then the record written, then the call added to the indexes. Failing to index does not
// fail Create, since the record and the claim exist and the caller must dial: the call is
// logged (Warn), and indexed again when it ends.
func (r *Redis) Create(ctx context.Context, c *telephony.Call) (*telephony.Call, bool, error) {
	if err := validate(c); err != nil {
		return nil, false, err
	}
	if c.RequestID != "" {
		owner, err := r.claim(ctx, c)
		if err != nil {
			return nil, false, err
		}
		if owner != nil {
			return owner, false, nil
		}
	}
	if !c.Termination.Ended() {
		// Owned before its record exists, so that no record of a live call is left unowned.
		if err := r.own(ctx, c.ID); err != nil {
			return nil, false, err
		}
	}
	data, err := encodeCall(c)
	if err != nil {
		return nil, false, err
	}
	got := c.Clone()
	old, err := r.create.Run(ctx, r.c, []string{callKey(c.ID)}, data, r.ttl).Text()
	switch {
	case err == nil:
		// The same Create again, after an error or a lost reply: answer what is stored, and
		// do again what the first attempt may not have done (index, count).
		if got, err = decodeCall(old); err != nil {
			return nil, false, err
		}
	case !errors.Is(err, redis.Nil):
		return nil, false, fmt.Errorf("tracker: create call %s: %w", c.ID, err)
	}
	cutoff := "(" + nanosPrefix(r.now().Add(-r.retention))
	member := memberOf(got)
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, key := range []string{allKey, gatewayIndexKey(got.Gateway)} {
			p.ZAdd(ctx, key, redis.Z{Member: member})
			// Trimming as calls are added keeps each index to the retention without a
			// sweeper: it is O(log n) when nothing is due.
			p.ZRemRangeByLex(ctx, key, "-", cutoff)
		}
		return nil
	})
	if err != nil {
		r.log.WarnContext(ctx, "call not indexed until it ends", "call_id", c.ID, "err", err)
	}
	if got.Termination.Ended() {
		// Created ended (refused before dialling): count it like any call that ends.
		if err := r.Update(ctx, got); err != nil {
			return nil, false, err
		}
	}
	return got, true, nil
}

// claim claims c.RequestID for c and returns nil, or returns the call that holds it.
func (r *Redis) claim(ctx context.Context, c *telephony.Call) (*telephony.Call, error) {
	key := requestKey(c.RequestID)
	// A claim that expires or is taken over between our reads is settled by the next
	// round; a third failing too would mean something else keeps rewriting the claim.
	for range 3 {
		ok, err := r.c.SetNX(ctx, key, c.ID, r.retention).Result()
		if err != nil {
			return nil, fmt.Errorf("tracker: claim request %s: %w", c.RequestID, err)
		}
		if ok {
			return nil, nil
		}
		owner, err := r.c.Get(ctx, key).Result()
		switch {
		case errors.Is(err, redis.Nil):
			continue // expired between SETNX and GET
		case err != nil:
			return nil, fmt.Errorf("tracker: claim request %s: %w", c.RequestID, err)
		case owner == c.ID:
			return nil, nil // the same Create again
		}
		got, err := r.waitRecord(ctx, owner)
		if !errors.Is(err, ErrNotFound) {
			return got, err
		}
		// The owner claimed the request id and never wrote its record: its Create failed
		// between the two writes and the client is retrying. Take the claim over, unless
		// someone else did first.
		took, err := r.takeover.Run(ctx, r.c, []string{key}, owner, c.ID, r.ttl).Int()
		if err != nil {
			return nil, fmt.Errorf("tracker: take over request %s: %w", c.RequestID, err)
		}
		if took == 1 {
			r.log.WarnContext(ctx, "request id taken over from a call never recorded",
				"call_id", c.ID, "request_id", c.RequestID, "previous_call_id", owner)
			return nil, nil
		}
	}
	return nil, fmt.Errorf("tracker: claim request %s: claim keeps changing", c.RequestID)
}

// waitRecord returns the record of a call whose request claim exists, waiting up to
// claimWait for a Create in progress on another instance to write it.
func (r *Redis) waitRecord(ctx context.Context, id string) (*telephony.Call, error) {
	deadline := time.NewTimer(r.claimWait)
	defer deadline.Stop()
	tick := time.NewTicker(r.claimWait / 50)
	defer tick.Stop()
	for {
		got, err := r.Get(ctx, id)
		if !errors.Is(err, ErrNotFound) {
			return got, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, err
		case <-tick.C:
		}
	}
}
