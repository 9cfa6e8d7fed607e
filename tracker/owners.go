package tracker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony"
)

// ErrNoInstance is returned by the ownership methods of a Redis store configured without
// an Instance.
var ErrNoInstance = errors.New("tracker: no instance id configured")

const (
	// DefaultOwnershipInterval is RunOwnership's interval when it is given 0.
	DefaultOwnershipInterval = 5 * time.Second
	// beatsPerTTL is the heartbeat's TTL in intervals: an instance is taken for dead after
	// missing two beats in a row, not one.
	beatsPerTTL = 3
	// heldBeats is how many beats in a row must succeed before RunOwnership judges other
	// instances: its own heartbeat has then held a whole TTL. When Redis comes back from an
	// outage every heartbeat has lapsed at once, and each live instance must have had the
	// time to beat again before another takes its calls for lost.
	heldBeats = beatsPerTTL + 1
	// recoverBatch is how many ids of a dead instance's live set are read at once.
	recoverBatch = 256
)

// The keys of ownership: everything of one instance under the instance's hash tag, and the
// set of the instances that may own calls, a single key like calls:all.
const instancesKey = "instances"

func heartbeatKey(instance string) string { return "instance:{i:" + instance + "}" }
func liveKey(instance string) string      { return "calls:live:{i:" + instance + "}" }

// releaseScript: KEYS = {heartbeat, live set}; ARGV = {release 0|1}. Drops an instance's
// live set if it is empty and its heartbeat is gone (deleted first when releasing). Returns
// -1 if the heartbeat is there, else how many calls are left in the set. One script, so
// that an instance taken for dead that adds a call after all cannot lose it between the
// count and the DEL.
const releaseScript = `
if ARGV[1] == '1' then redis.call('DEL', KEYS[1]) end
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local n = redis.call('SCARD', KEYS[2])
if n == 0 then redis.call('DEL', KEYS[2]) end
return n
`

// ownership is a Redis store's part in it.
type ownership struct {
	instance   string      // RedisConfig.Instance; "" = no calls are owned
	registered atomic.Bool // the instance has beaten since NewRedis or Release
	// judging is set while RunOwnership's heartbeat has held a whole TTL: only then may this
	// instance take another for dead (after an outage of Redis every heartbeat has lapsed).
	judging atomic.Bool
	ttl     atomic.Int64 // of the heartbeat, in ns: set by RunOwnership
	release *redis.Script
}

func newOwnership(instance string) *ownership {
	o := &ownership{instance: instance, release: redis.NewScript(releaseScript)}
	o.ttl.Store(int64(beatsPerTTL * DefaultOwnershipInterval))
	return o
}

// own adds calls about to be created to this instance's live set, in one SADD, having first
// made the instance known, so that a crash right after still leaves the calls to be found.
func (r *Redis) own(ctx context.Context, ids ...string) error {
	if r.owner.instance == "" || len(ids) == 0 {
		return nil
	}
	if err := r.register(ctx); err != nil {
		return err
	}
	if err := r.c.SAdd(ctx, liveKey(r.owner.instance), ids).Err(); err != nil {
		return fmt.Errorf("own: %w", err)
	}
	return nil
}

// register makes this instance known (its heartbeat and its entry in instances) before it
// owns its first call.
func (r *Redis) register(ctx context.Context) error {
	if r.owner.registered.Load() {
		return nil
	}
	if _, err := r.beat(ctx, time.Duration(r.owner.ttl.Load())); err != nil {
		return fmt.Errorf("register instance %s: %w", r.owner.instance, err)
	}
	r.owner.registered.Store(true)
	return nil
}

// disown removes an ended and counted call from the live set of owner ("" = none).
func (r *Redis) disown(ctx context.Context, owner string, ids ...string) error {
	if owner == "" || len(ids) == 0 {
		return nil
	}
	if err := r.c.SRem(ctx, liveKey(owner), ids).Err(); err != nil {
		return fmt.Errorf("tracker: disown %d calls of instance %s: %w", len(ids), owner, err)
	}
	return nil
}

// beat refreshes this instance's heartbeat and its entry in instances, which a survivor
// removes if it finds the heartbeat lapsed and no call left. It reports whether the
// heartbeat had lapsed (or never was).
func (r *Redis) beat(ctx context.Context, ttl time.Duration) (lapsed bool, err error) {
	inst := r.owner.instance
	var prev *redis.StatusCmd
	var added *redis.IntCmd
	_, _ = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		prev = p.SetArgs(ctx, heartbeatKey(inst), "1", redis.SetArgs{TTL: ttl, Get: true})
		added = p.SAdd(ctx, instancesKey, inst)
		return nil
	})
	err = prev.Err()
	if lapsed = errors.Is(err, redis.Nil); lapsed {
		err = nil
	}
	return lapsed, cmp.Or(err, added.Err())
}

// RunOwnership keeps this instance alive in Redis and ends the calls of dead ones, until
// ctx ends (it then returns nil). Every interval (0 = DefaultOwnershipInterval) it refreshes
// the heartbeat, whose TTL is three intervals, and runs RecoverLost for at most an interval,
// so that recovering many calls never delays the heartbeat long; what is left is the next
// round's. It judges other instances only once its own heartbeat has held a whole TTL, so
// that after an outage of Redis, when every heartbeat has lapsed, it does not take live
// instances for dead. It returns ErrNoInstance without an Instance, and must not run twice
// at once on one store; call Release only after it has returned.
func (r *Redis) RunOwnership(ctx context.Context, interval time.Duration) error {
	inst := r.owner.instance
	if inst == "" {
		return ErrNoInstance
	}
	if interval < 0 {
		return fmt.Errorf("tracker: ownership interval %v is negative", interval)
	}
	interval = cmp.Or(interval, DefaultOwnershipInterval)
	ttl := beatsPerTTL * interval
	r.owner.ttl.Store(int64(ttl))
	log := r.log.With("instance", inst)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	held := 0 // beats in a row that succeeded
	failing := false
	for {
		known := r.owner.registered.Load()
		lapsed, err := r.beat(ctx, ttl)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			if !failing {
				log.WarnContext(ctx, "instance heartbeat failing: other instances end its calls as lost if it lapses", "err", err)
			}
			failing, held = true, 0
			r.owner.judging.Store(false)
		default:
			if lapsed && known {
				log.WarnContext(ctx, "instance heartbeat had lapsed: other instances may have ended its calls as lost")
			} else if failing {
				log.InfoContext(ctx, "instance heartbeat back")
			}
			r.owner.registered.Store(true)
			failing = false
			held++
		}
		if held >= heldBeats {
			r.owner.judging.Store(true)
			rctx, cancel := context.WithTimeout(ctx, interval)
			_, err := r.RecoverLost(rctx)
			bounded := rctx.Err() != nil
			cancel()
			switch {
			case ctx.Err() != nil:
				return nil
			case err != nil && bounded:
				log.InfoContext(ctx, "recovery of lost calls goes on next round", "err", err)
			case err != nil:
				log.WarnContext(ctx, "recovery of lost calls failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// RecoverLost ends the calls left unfinished by dead instances: those known in Redis, other
// than this one, whose heartbeat is gone. Each such call still not ended is written ended
// as KILL / LOST, keeping everything else (its last response, its timings) and with EndedAt
// = RedisConfig.Now, through Update's path, so that it is counted once like any ended call;
// a call ended meanwhile by anyone else keeps that end. An instance whose calls have all
// left its live set is forgotten. It is idempotent and safe to run on several instances at
// once, and needs no Instance of its own. It returns how many calls it ended, also when it
// fails part way.
func (r *Redis) RecoverLost(ctx context.Context) (int, error) {
	known, err := r.c.SMembers(ctx, instancesKey).Result()
	if err != nil {
		return 0, fmt.Errorf("tracker: recover lost calls: %w", err)
	}
	known = slices.DeleteFunc(known, func(inst string) bool { return inst == r.owner.instance })
	alive := make([]*redis.IntCmd, len(known))
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, inst := range known {
			alive[i] = p.Exists(ctx, heartbeatKey(inst))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("tracker: recover lost calls: %w", err)
	}
	total := 0
	for i, inst := range known {
		if alive[i].Val() == 1 {
			continue
		}
		n, err := r.recoverInstance(ctx, inst)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// recoverInstance ends the live calls of a dead instance, batch by batch, stopping if its
// heartbeat is back, and forgets the instance once its live set is empty.
func (r *Redis) recoverInstance(ctx context.Context, inst string) (int, error) {
	log := r.log.With("instance", inst)
	ended := 0
	for cursor := uint64(0); ; {
		var alive *redis.IntCmd
		var scan *redis.ScanCmd
		_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			alive = p.Exists(ctx, heartbeatKey(inst))
			scan = p.SScan(ctx, liveKey(inst), cursor, "", recoverBatch)
			return nil
		})
		if err != nil {
			return ended, fmt.Errorf("tracker: recover calls of instance %s: %w", inst, err)
		}
		if alive.Val() == 1 {
			log.WarnContext(ctx, "instance taken for dead beats again: recovery of its calls stopped", "calls_ended", ended)
			return ended, nil
		}
		var ids []string
		ids, cursor = scan.Val()
		n, err := r.recoverCalls(ctx, inst, ids)
		ended += n
		if err != nil {
			return ended, err
		}
		if cursor == 0 {
			break
		}
	}
	if ended > 0 {
		log.WarnContext(ctx, "calls of a dead instance ended as lost", "calls", ended)
	}
	left, err := r.owner.release.Run(ctx, r.c, []string{heartbeatKey(inst), liveKey(inst)}, "0").Int()
	if err != nil {
		return ended, fmt.Errorf("tracker: recover calls of instance %s: %w", inst, err)
	}
	if left != 0 {
		return ended, nil // some call was ended by someone else, who removes it; or it lives
	}
	removed, err := r.c.SRem(ctx, instancesKey, inst).Result()
	if err != nil {
		return ended, fmt.Errorf("tracker: forget instance %s: %w", inst, err)
	}
	if removed == 1 { // not already by another survivor
		log.InfoContext(ctx, "dead instance forgotten: its calls have all ended")
	}
	return ended, nil
}

// recoverCalls settles the calls ids of the live set of dead instance inst, and returns how
// many it ended. A call leaves the set only once its record is ended and counted.
func (r *Redis) recoverCalls(ctx context.Context, inst string, ids []string) (int, error) {
	recs := make([]*redis.SliceCmd, len(ids))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			recs[i] = p.HMGet(ctx, callKey(id), "r", "e", "bg", "bh")
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("tracker: recover calls of instance %s: %w", inst, err)
	}
	ended := 0
	var settled []string
	for i, id := range ids {
		v := recs[i].Val()
		data, _ := v[0].(string)
		if data == "" {
			// Its Create stopped between the live set and the record, or the record expired.
			settled = append(settled, id)
			continue
		}
		c, err := decodeCall(data)
		if err != nil {
			// Perhaps a newer format, of an instance this one must not overwrite.
			r.log.ErrorContext(ctx, "lost call left live: its record is unreadable", "call_id", id, "instance", inst, "err", err)
			continue
		}
		if e, _ := v[1].(string); e == "1" {
			// Its owner stopped between the end and the removal, maybe before counting it:
			// count it (once, whoever did already) and remove it.
			bg, _ := v[2].(string)
			bh, _ := v[3].(string)
			h, err := strconv.ParseInt(bh, 10, 64)
			if err != nil {
				return ended, fmt.Errorf("tracker: recover call %s: stored bucket hour %q: %w", id, bh, err)
			}
			if err := r.countEnded(ctx, []endedCall{{c, bucketKey{gateway: bg, hour: h}}})[0]; err != nil {
				return ended, err
			}
			settled = append(settled, id)
			continue
		}
		c.State = telephony.StateEnded
		c.Termination = telephony.Termination{Party: telephony.PartyKill, Cause: telephony.CauseLost}
		c.EndedAt = r.now()
		written, err := r.write(ctx, c, inst, true)
		switch {
		case errors.Is(err, ErrNotFound):
			settled = append(settled, id) // expired since it was read
		case err != nil:
			return ended, err
		case written:
			ended++
			r.log.InfoContext(ctx, "lost call ended", "call_id", id, "instance", inst, "sip_status", c.LastResponse.Code)
		}
		// Refused: ended meanwhile by its owner or another survivor, who counts and removes it
		// (or, if it stops first, the next round does).
	}
	return ended, r.disown(ctx, inst, settled...)
}

// Release ends this instance's ownership at a graceful shutdown, once its calls have ended
// and their records are written (Buffered.Flush): it deletes the heartbeat and, if no call
// is left in its live set, the set and its entry in instances. Calls still left are logged
// (Warn) and left to other instances' RecoverLost, which the deleted heartbeat lets end them
// at once. It returns ErrNoInstance without an Instance; call it after RunOwnership returned.
func (r *Redis) Release(ctx context.Context) error {
	inst := r.owner.instance
	if inst == "" {
		return ErrNoInstance
	}
	left, err := r.owner.release.Run(ctx, r.c, []string{heartbeatKey(inst), liveKey(inst)}, "1").Int()
	if err != nil {
		return fmt.Errorf("tracker: release instance %s: %w", inst, err)
	}
	r.owner.registered.Store(false)
	if left > 0 {
		r.log.WarnContext(ctx, "instance released with unfinished calls: other instances end them as lost",
			"instance", inst, "calls", left)
		return nil
	}
	if err := r.c.SRem(ctx, instancesKey, inst).Err(); err != nil {
		return fmt.Errorf("tracker: release instance %s: %w", inst, err)
	}
	return nil
}
