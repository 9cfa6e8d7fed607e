package tracker

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony"
)

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

// UpdateMany is Update for several distinct calls in three round trips whatever their
// number: one writes every record, one counts the calls those writes ended, one takes them
// out of this instance's live set. errs[i] is calls[i]'s error, as Update would return it.
// Buffered writes its batches with it.
func (r *Redis) UpdateMany(ctx context.Context, calls []*telephony.Call) []error {
	errs := make([]error, len(calls))
	var runs []scriptRun
	var of []int // index in calls of each run
	for i, c := range calls {
		keys, args, err := r.updateArgs(c, false)
		if err != nil {
			errs[i] = err
			continue
		}
		runs = append(runs, scriptRun{keys: keys, args: args})
		of = append(of, i)
	}
	var ended []endedCall
	var endedAt []int // index in calls of each ended[k]
	for j, cmd := range runScripts(ctx, r.c, r.update, runs, nil, nil) {
		i := of[j]
		_, k, err := updateResult(calls[i], cmd)
		if err != nil {
			errs[i] = err
			continue
		}
		if k != nil {
			ended = append(ended, endedCall{calls[i], *k})
			endedAt = append(endedAt, i)
		}
	}
	if len(ended) == 0 {
		return errs
	}
	counted := r.countEnded(ctx, ended)
	ids := make([]string, 0, len(ended))
	for k, err := range counted {
		if err != nil {
			errs[endedAt[k]] = err
			continue
		}
		ids = append(ids, ended[k].c.ID)
	}
	if err := r.disown(ctx, r.owner.instance, ids...); err != nil {
		for k, cerr := range counted {
			if cerr == nil {
				errs[endedAt[k]] = err
			}
		}
	}
	return errs
}
