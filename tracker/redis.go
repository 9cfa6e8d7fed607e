package tracker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
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

// Update implements Store. The record is written first (one script on the call's slot that
// refuses to reopen an ended call and fixes its bucket the first time it ends); an ended
// record is then counted by a second script on the gateway's slot, made idempotent by the
// bucket's set of counted ids, so a retry after any failure counts it exactly once. Once
// counted, it leaves this instance's live set.
func (r *Redis) Update(ctx context.Context, c *telephony.Call) error {
	_, err := r.write(ctx, c, r.owner.instance, false)
	return err
}

// write is Update, for the calls of owner ("" = none). With ifLive, an ended c replaces only
// a record not ended yet (recovery must not overwrite the end its owner wrote meanwhile).
// It reports whether c was written rather than refused.
func (r *Redis) write(ctx context.Context, c *telephony.Call, owner string, ifLive bool) (bool, error) {
	keys, args, err := r.updateArgs(c, ifLive)
	if err != nil {
		return false, err
	}
	written, k, err := updateResult(c, r.update.Run(ctx, r.c, keys, args...))
	if err != nil || k == nil {
		return written, err
	}
	counted := r.countEnded(ctx, []endedCall{{c, *k}})
	if counted[0] != nil {
		return true, counted[0]
	}
	return true, r.disown(ctx, owner, c.ID)
}

// updateArgs are the keys and arguments of the update script for c.
func (r *Redis) updateArgs(c *telephony.Call, ifLive bool) ([]string, []any, error) {
	if err := validate(c); err != nil {
		return nil, nil, err
	}
	data, err := encodeCall(c)
	if err != nil {
		return nil, nil, err
	}
	ended, gw, hour := "0", "", ""
	if c.Termination.Ended() {
		ended, gw, hour = "1", c.Gateway, strconv.FormatInt(HourOf(c).Unix(), 10)
		if ifLive {
			ended = "2"
		}
	}
	return []string{callKey(c.ID)}, []any{data, ended, r.ttl, gw, hour}, nil
}

// updateResult reads the update script's answer for c: whether c was written, and the
// bucket to count it in when this write ended the call (nil otherwise).
func updateResult(c *telephony.Call, cmd *redis.Cmd) (bool, *bucketKey, error) {
	res, err := cmd.Slice()
	if err != nil {
		return false, nil, fmt.Errorf("tracker: update call %s: %w", c.ID, err)
	}
	if len(res) == 1 && res[0] == int64(-1) {
		return false, nil, ErrNotFound
	}
	if len(res) != 3 {
		return res[0] == int64(1), nil, nil // written, or a stale version refused
	}
	bg, _ := res[1].(string)
	bh, _ := res[2].(string)
	h, err := strconv.ParseInt(bh, 10, 64)
	if err != nil {
		return true, nil, fmt.Errorf("tracker: update call %s: stored bucket hour %q: %w", c.ID, bh, err)
	}
	return true, &bucketKey{gateway: bg, hour: h}, nil
}

// endedCall is a call to count in its bucket.
type endedCall struct {
	c *telephony.Call
	k bucketKey
}

// countEnded adds ended calls to their buckets and label buckets (once), indexes their
// gateways and hours, and indexes each call again (idempotent) in case its Create could not;
// errs[i] is calls[i]'s. The labels are those of the call: a retry that counts nothing adds
// nothing either.
func (r *Redis) countEnded(ctx context.Context, calls []endedCall) []error {
	type count struct {
		keys []string
		args []any
	}
	counts := make([]count, len(calls))
	oldest := r.now().Add(-r.retention).Truncate(time.Hour).Unix()
	for i, e := range calls {
		labels := reportLabels(e.c, r.labels)
		keys := make([]string, 0, 4+2*len(labels))
		keys = append(keys, bucketKeyOf(e.k), bucketIDsKey(e.k), hoursKey(e.k.gateway, ""), gatewayIndexKey(e.k.gateway))
		for _, label := range labels {
			keys = append(keys, bucketKeyOf(bucketKey{gateway: e.k.gateway, hour: e.k.hour, label: label}), hoursKey(e.k.gateway, label))
		}
		counters := Counters(e.c)
		args := make([]any, 0, 5+2*len(counters))
		args = append(args, e.c.ID, e.k.hour, r.ttl, oldest, memberOf(e.c))
		for name, n := range counters {
			args = append(args, name, n)
		}
		counts[i] = count{keys, args}
	}
	// One round trip for every slot involved. EVALSHA in a pipeline cannot fall back to EVAL
	// by itself, so a Redis that lost its scripts (restarted) is sent the script below.
	const perCall = 3
	cmds, _ := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, e := range calls {
			r.count.EvalSha(ctx, p, counts[i].keys, counts[i].args...)
			p.SAdd(ctx, gatewaysKey, e.k.gateway)
			p.ZAdd(ctx, allKey, redis.Z{Member: memberOf(e.c)})
		}
		return nil
	})
	errs := make([]error, len(calls))
	for j, cmd := range cmds {
		i := j / perCall
		err := cmd.Err()
		if j%perCall == 0 && redis.HasErrorPrefix(err, "NOSCRIPT") {
			err = r.count.Run(ctx, r.c, counts[i].keys, counts[i].args...).Err()
		}
		if err != nil && errs[i] == nil {
			errs[i] = fmt.Errorf("tracker: count call %s: %w", calls[i].c.ID, err)
		}
	}
	return errs
}

// Get implements Store.
func (r *Redis) Get(ctx context.Context, id string) (*telephony.Call, error) {
	data, err := r.c.HGet(ctx, callKey(id), "r").Result()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, ErrNotFound
	case err != nil:
		return nil, fmt.Errorf("tracker: get call %s: %w", id, err)
	}
	return decodeCall(data)
}

// List implements Store. The gateway and the time range select a range of one index; the
// other conditions are checked on the records, read in batches, at most ListScan of them.
func (r *Redis) List(ctx context.Context, f Filter) ([]*telephony.Call, Cursor, error) {
	key := allKey
	if f.Gateway != "" {
		key = gatewayIndexKey(f.Gateway)
	}
	// Lexicographic bounds: "(" excludes, "[" includes; a time alone sorts before every
	// member of that time, since "<nanos>" is a prefix of "<nanos>:<id>".
	hi, lo := "+", "-"
	if !f.After.IsZero() {
		hi = "(" + indexMember(f.After)
	}
	if !f.CreatedBefore.IsZero() {
		if b := "(" + nanosPrefix(f.CreatedBefore); hi == "+" || b < hi {
			hi = b
		}
	}
	if !f.CreatedAfter.IsZero() {
		lo = "[" + nanosPrefix(f.CreatedAfter)
	}
	limit := f.limit()
	// Twice the page, within reason: most pages are found in one round trip of each kind.
	batch := min(max(2*limit, 32), 1000)
	var out []*telephony.Call
	for scanned := 0; ; {
		n := min(batch, r.scan-scanned)
		members, err := r.c.ZRevRangeByLex(ctx, key, &redis.ZRangeBy{Max: hi, Min: lo, Count: int64(n)}).Result()
		if err != nil {
			return nil, Cursor{}, fmt.Errorf("tracker: list calls: %w", err)
		}
		calls, err := r.getMany(ctx, members)
		if err != nil {
			return nil, Cursor{}, err
		}
		for _, c := range calls {
			// A missing record expired before retention trimmed its index entry.
			if c == nil || !f.matches(c) {
				continue
			}
			if len(out) == limit {
				return out, cursorOf(out[len(out)-1]), nil
			}
			out = append(out, c)
		}
		scanned += len(members)
		if len(members) < n {
			return out, Cursor{}, nil // the range is exhausted
		}
		last := members[len(members)-1]
		if scanned >= r.scan {
			// Stop here and let the client go on from the last call looked at.
			next, err := parseMember(last)
			return out, next, err
		}
		hi = "(" + last
	}
}

// getMany reads the records of index members; a record that is gone is nil. A pipeline
// rather than MGET: in a Cluster, the records are in different slots.
func (r *Redis) getMany(ctx context.Context, members []string) ([]*telephony.Call, error) {
	cmds := make([]*redis.StringCmd, len(members))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range members {
			cur, err := parseMember(m)
			if err != nil {
				return err
			}
			cmds[i] = p.HGet(ctx, callKey(cur.ID), "r")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("tracker: list calls: %w", err)
	}
	calls := make([]*telephony.Call, len(members))
	for i, cmd := range cmds {
		data, err := cmd.Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("tracker: list calls: %w", err)
		}
		if calls[i], err = decodeCall(data); err != nil {
			return nil, err
		}
	}
	return calls, nil
}

// Buckets implements Store.
func (r *Redis) Buckets(ctx context.Context, gateway, label string, from, to time.Time) ([]Bucket, error) {
	gateways := []string{gateway}
	if gateway == "" {
		var err error
		if gateways, err = r.c.SMembers(ctx, gatewaysKey).Result(); err != nil {
			return nil, fmt.Errorf("tracker: buckets: %w", err)
		}
	}
	first, end := hourRange(from, to)
	hi := "(" + strconv.FormatInt(end, 10)
	if end == math.MaxInt64 {
		hi = "+inf"
	}
	hours := make([]*redis.StringSliceCmd, len(gateways))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, gw := range gateways {
			hours[i] = p.ZRangeByScore(ctx, hoursKey(gw, label), &redis.ZRangeBy{Min: strconv.FormatInt(first, 10), Max: hi})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tracker: buckets: %w", err)
	}
	var keys []bucketKey
	for i, gw := range gateways {
		for _, h := range hours[i].Val() {
			n, err := strconv.ParseInt(h, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("tracker: buckets of %s: hour %q: %w", gw, h, err)
			}
			keys = append(keys, bucketKey{gateway: gw, hour: n, label: label})
		}
	}
	counters := make([]*redis.MapStringStringCmd, len(keys))
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			counters[i] = p.HGetAll(ctx, bucketKeyOf(k))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tracker: buckets: %w", err)
	}
	var out []Bucket
	for i, k := range keys {
		raw := counters[i].Val()
		if len(raw) == 0 {
			continue // expired after its hour's entry was read
		}
		b := Bucket{Gateway: k.gateway, Hour: time.Unix(k.hour, 0).UTC(), Label: label, Counters: make(map[string]int64, len(raw))}
		for name, v := range raw {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("tracker: bucket %s: counter %s: %w", bucketKeyOf(k), name, err)
			}
			b.Counters[name] = n
		}
		out = append(out, b)
	}
	sortBuckets(out)
	return slices.Clip(out), nil
}
