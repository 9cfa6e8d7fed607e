package tracker

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony"
)

// Alive reports whether instance has a heartbeat: false once it lapsed (the instance died,
// or has been cut off from Redis for longer than the heartbeat's TTL, so that its calls are
// being ended as lost) or was deleted by Release, and for an instance never seen.
func (r *Redis) Alive(ctx context.Context, instance string) (bool, error) {
	n, err := r.c.Exists(ctx, heartbeatKey(instance)).Result()
	if err != nil {
		return false, fmt.Errorf("tracker: liveness of instance %s: %w", instance, err)
	}
	return n == 1, nil
}

// EndIfOwnerDead ends call id now as KILL / LOST if the instance that owns it is dead,
// rather than when RecoverLost comes to it, by RecoverLost's own path (so it is counted
// once, and an end written meanwhile by anyone else stands). Like RunOwnership, it judges
// only once this instance's own heartbeat has held a whole TTL (RunOwnership is running and
// Redis has answered it that long): after an outage of Redis every heartbeat has lapsed,
// the live instances' too. It returns the call's record
// and whether this call ended it. Otherwise the record is returned as it is: ended
// already, or live with an owner alive (this instance, for one), or owned by no instance
// (created without RedisConfig.Instance). It returns ErrNotFound for an unknown call.
func (r *Redis) EndIfOwnerDead(ctx context.Context, id string) (*telephony.Call, bool, error) {
	owner, alive, err := r.OwnerOf(ctx, id)
	if err != nil {
		return nil, false, err
	}
	ended := false
	if owner != "" && !alive && r.owner.judging.Load() {
		n, err := r.recoverCalls(ctx, owner, []string{id})
		if err != nil {
			return nil, false, err
		}
		ended = n == 1
	}
	c, err := r.Get(ctx, id)
	if err != nil {
		return nil, false, err
	}
	return c, ended, nil
}

// OwnerOf finds the instance whose live set holds call id ("" for none: the call ended, or
// was never owned), and whether it is alive: this instance always is.
func (r *Redis) OwnerOf(ctx context.Context, id string) (string, bool, error) {
	known, err := r.c.SMembers(ctx, instancesKey).Result()
	if err != nil {
		return "", false, fmt.Errorf("tracker: owner of call %s: %w", id, err)
	}
	owns := make([]*redis.BoolCmd, len(known))
	beats := make([]*redis.IntCmd, len(known))
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, inst := range known {
			owns[i] = p.SIsMember(ctx, liveKey(inst), id)
			beats[i] = p.Exists(ctx, heartbeatKey(inst))
		}
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("tracker: owner of call %s: %w", id, err)
	}
	for i, inst := range known {
		if owns[i].Val() {
			return inst, inst == r.owner.instance || beats[i].Val() == 1, nil
		}
	}
	return "", false, nil
}

// Instance is RedisConfig.Instance: the instance this store owns calls for.
func (r *Redis) Instance() string { return r.owner.instance }
