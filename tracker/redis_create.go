package tracker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony"
)

// CreateResult is what Create returns for one call, as CreateMany answers it.
type CreateResult struct {
	Call    *telephony.Call
	Created bool
	Err     error
}

// Create implements Store; it is CreateMany of one call. With a request id, the claim
// (callreq:{rid}) is taken first; then the call is owned, its record written and the call
// added to the indexes, in one round trip on one node (in a Cluster, the ownership in one
// before). Failing to index does not fail Create, since the record and the claim exist and
// the caller must dial: the call is logged (Warn), and indexed again when it ends.
func (r *Redis) Create(ctx context.Context, c *telephony.Call) (*telephony.Call, bool, error) {
	res := r.CreateMany(ctx, []*telephony.Call{c})[0]
	return res.Call, res.Created, res.Err
}

// CreateMany is Create for several calls, res[i] being calls[i]'s, with one round trip per
// step of Create for the whole batch, whatever its size: the request-id claims, the
// ownership of the calls (one SADD) with their records and indexes (two round trips in a
// Cluster), and UpdateMany's three for calls created ended. A request id found claimed costs
// its call more (reading the claim, and Create's wait and takeover if the record is
// missing). Buffered writes concurrent Creates with it.
//
// Each step is done for the whole batch before the next, and a step that fails for a call
// ends that call's Create, so every call gets Create's guarantees: owned before its record
// exists, claimed before either. Calls of one batch are taken in order, as if created one
// after the other: a call given twice is the same Create twice, and of calls sharing a
// request id the first claims it, and the others are answered with the call it gets,
// created false. That is the one difference from concurrent Creates: if the first fails,
// so do the others, where a Create of their own would have taken the claim over.
func (r *Redis) CreateMany(ctx context.Context, calls []*telephony.Call) []CreateResult {
	res := make([]CreateResult, len(calls))
	todo := make([]int, 0, len(calls)) // the calls still being created, by index
	for i, c := range calls {
		if err := validate(c); err != nil {
			res[i].Err = err
			continue
		}
		todo = append(todo, i)
	}
	todo, joins := r.claimMany(ctx, calls, todo, res)
	todo, owning := r.ownMany(ctx, calls, todo, res)
	todo = r.record(ctx, calls, todo, res, owning)
	r.countCreatedEnded(ctx, todo, res)
	for i, first := range joins {
		if err := res[first].Err; err != nil {
			res[i].Err = fmt.Errorf("tracker: create call %s: %w", calls[i].ID, err)
			continue
		}
		res[i].Call = res[first].Call.Clone()
	}
	return res
}

// claimMany claims the request ids of calls[todo], the first call with each id for every
// call of the batch with it, and returns the calls to go on creating. It answers those whose
// request id another call holds, and returns in joins, for each call that shares its request
// id with an earlier call of the batch being created, that call's index: their answer is
// the call it gets.
func (r *Redis) claimMany(ctx context.Context, calls []*telephony.Call, todo []int, res []CreateResult) (next []int, joins map[int]int) {
	first := make(map[string]int) // request id → the index of the call claiming it
	var claims []int
	for _, i := range todo {
		if rid := calls[i].RequestID; rid != "" {
			if _, ok := first[rid]; !ok {
				first[rid] = i
				claims = append(claims, i)
			}
		}
	}
	holder := make([]*telephony.Call, len(calls)) // by the index of the claiming call
	if len(claims) > 0 {
		setnx := make([]*redis.BoolCmd, len(claims))
		_, _ = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for k, i := range claims {
				setnx[k] = p.SetNX(ctx, requestKey(calls[i].RequestID), calls[i].ID, r.retention)
			}
			return nil
		})
		// A request id already claimed is a client's retry: rare, and perhaps a wait for a
		// record in progress, so each is settled apart, at once.
		var wg sync.WaitGroup
		for k, i := range claims {
			ok, err := setnx[k].Result()
			switch {
			case err != nil:
				res[i].Err = fmt.Errorf("tracker: claim request %s: %w", calls[i].RequestID, err)
			case !ok:
				wg.Go(func() { holder[i], res[i].Err = r.contest(ctx, calls[i]) })
			}
		}
		wg.Wait()
	}
	joins = make(map[int]int)
	for _, i := range todo {
		c := calls[i]
		if c.RequestID == "" {
			next = append(next, i)
			continue
		}
		f := first[c.RequestID]
		switch h := holder[f]; {
		case res[f].Err != nil:
			if i != f {
				res[i].Err = fmt.Errorf("tracker: create call %s: %w", c.ID, res[f].Err)
			}
		case h != nil && h.ID != c.ID:
			res[i] = CreateResult{Call: h.Clone()}
		case h != nil || i == f || c.ID == calls[f].ID:
			next = append(next, i) // its own claim, or the same Create again
		default:
			joins[i] = f
		}
	}
	return next, joins
}

// contest settles the claim of c.RequestID, found taken: it returns nil if c may go on (the
// claim is c's, or was free again, or is taken over from a call never recorded), else the
// call that holds it.
func (r *Redis) contest(ctx context.Context, c *telephony.Call) (*telephony.Call, error) {
	key := requestKey(c.RequestID)
	// A claim that expires or is taken over between our reads is settled by the next
	// round; a third failing too would mean something else keeps rewriting the claim.
	for range 3 {
		owner, err := r.c.Get(ctx, key).Result()
		switch {
		case errors.Is(err, redis.Nil): // expired since it was found taken
			ok, err := r.c.SetNX(ctx, key, c.ID, r.retention).Result()
			if err != nil {
				return nil, fmt.Errorf("tracker: claim request %s: %w", c.RequestID, err)
			}
			if ok {
				return nil, nil
			}
			continue
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

// ownMany owns the calls of todo not created ended, so that no record of a live call is
// left unowned, and returns the calls to go on creating. In a Cluster, whose live set and
// records are on different nodes that one pipeline writes concurrently, it adds them to the
// live set in a round trip of its own. On one node it only registers the instance, and
// returns the calls to own for record to add first in its pipeline, which the node runs in
// order: a round trip less per Create.
func (r *Redis) ownMany(ctx context.Context, calls []*telephony.Call, todo []int, res []CreateResult) (next []int, owning []string) {
	var ids []string
	for _, i := range todo {
		if !calls[i].Termination.Ended() {
			ids = append(ids, calls[i].ID)
		}
	}
	var err error
	switch {
	case r.owner.instance == "" || len(ids) == 0:
		return todo, nil
	case r.oneNode:
		if err = r.register(ctx); err == nil {
			return todo, ids
		}
	default:
		if err = r.own(ctx, ids...); err == nil {
			return todo, nil
		}
	}
	return failLive(calls, todo, res, err), nil
}

// failLive fails the Creates of the calls of todo not created ended with err, and returns
// the others.
func failLive(calls []*telephony.Call, todo []int, res []CreateResult, err error) []int {
	var next []int
	for _, i := range todo {
		if calls[i].Termination.Ended() {
			next = append(next, i)
			continue
		}
		res[i].Err = fmt.Errorf("tracker: create call %s: %w", calls[i].ID, err)
	}
	return next
}

// record writes the records of calls[todo], each unless it exists, and adds the calls to
// calls:all and their gateways' indexes in the same round trip, trimming each index once;
// before all that, in the same pipeline, it adds the calls in owning to this instance's
// live set. It sets their results and returns the calls it did not fail. A call whose
// record failed is left in the indexes, where List takes it for a record expired; one that
// is not indexed is logged (Warn), and indexed again when it ends.
func (r *Redis) record(ctx context.Context, calls []*telephony.Call, todo []int, res []CreateResult, owning []string) []int {
	var runs []scriptRun
	var of []int // index in calls of each run
	for _, i := range todo {
		data, err := encodeCall(calls[i])
		if err != nil {
			res[i].Err = err
			continue
		}
		runs = append(runs, scriptRun{keys: []string{callKey(calls[i].ID)}, args: []any{data, r.ttl}})
		of = append(of, i)
	}
	var owned *redis.IntCmd
	var own func(redis.Pipeliner)
	if len(owning) > 0 {
		own = func(p redis.Pipeliner) { owned = p.SAdd(ctx, liveKey(r.owner.instance), owning) }
	}
	var indexed []redis.Cmder
	cmds := runScripts(ctx, r.c, r.create, runs, own, func(p redis.Pipeliner) { indexed = r.index(ctx, p, calls, of) })
	if owned != nil && owned.Err() != nil {
		// A node that failed the SADD failed what followed it too (a lost connection, a
		// node out of memory): the calls not ended are not created.
		failLive(calls, of, res, fmt.Errorf("own: %w", owned.Err()))
	}
	next := make([]int, 0, len(runs))
	for k, cmd := range cmds {
		i := of[k]
		if res[i].Err != nil {
			continue // not owned
		}
		c := calls[i]
		got := c.Clone()
		old, err := cmd.Text()
		switch {
		case err == nil:
			// The same Create again, after an error or a lost reply: answer what is stored,
			// and do again what the first attempt may not have done (index, count).
			if got, err = decodeCall(old); err != nil {
				res[i].Err = err
				continue
			}
		case !errors.Is(err, redis.Nil):
			res[i].Err = fmt.Errorf("tracker: create call %s: %w", c.ID, err)
			continue
		}
		res[i] = CreateResult{Call: got, Created: true}
		next = append(next, i)
	}
	for _, cmd := range indexed {
		if err := cmd.Err(); err != nil {
			for _, i := range next {
				r.log.WarnContext(ctx, "call not indexed until it ends", "call_id", calls[i].ID, "err", err)
			}
			break
		}
	}
	return next
}

// index adds calls[of] to calls:all and their gateways' indexes in p, trims each index once,
// and returns the commands. The member is the call as given: the same Create again gives
// the same call, so its member is the one stored.
func (r *Redis) index(ctx context.Context, p redis.Pipeliner, calls []*telephony.Call, of []int) []redis.Cmder {
	var keys []string // in a fixed order, for the reader of a MONITOR
	members := make(map[string][]redis.Z)
	for _, i := range of {
		m := redis.Z{Member: memberOf(calls[i])}
		for _, key := range []string{allKey, gatewayIndexKey(calls[i].Gateway)} {
			if _, ok := members[key]; !ok {
				keys = append(keys, key)
			}
			members[key] = append(members[key], m)
		}
	}
	cutoff := "(" + nanosPrefix(r.now().Add(-r.retention))
	cmds := make([]redis.Cmder, 0, 2*len(keys))
	for _, key := range keys {
		// Trimming as calls are added keeps each index to the retention without a
		// sweeper: it is O(log n) when nothing is due.
		cmds = append(cmds, p.ZAdd(ctx, key, members[key]...), p.ZRemRangeByLex(ctx, key, "-", cutoff))
	}
	return cmds
}

// countCreatedEnded counts the calls created ended (refused before dialling) like any call
// that ends, and fails those it could not count.
func (r *Redis) countCreatedEnded(ctx context.Context, todo []int, res []CreateResult) {
	at := make(map[string]int) // call id → its index in ended: UpdateMany takes distinct calls
	var ended []*telephony.Call
	for _, i := range todo {
		if c := res[i].Call; c.Termination.Ended() {
			if _, ok := at[c.ID]; !ok {
				at[c.ID] = len(ended)
				ended = append(ended, c)
			}
		}
	}
	if len(ended) == 0 {
		return
	}
	errs := r.UpdateMany(ctx, ended)
	for _, i := range todo {
		if k, ok := at[res[i].Call.ID]; ok && errs[k] != nil {
			res[i] = CreateResult{Err: errs[k]}
		}
	}
}
