package tracker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony"
)

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
