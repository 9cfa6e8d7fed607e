package tracker

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// The scripts. A record is a hash: r = the encoded call; e = "1" once it ended; bg and bh =
// the bucket (gateway, hour) it was counted in, fixed when it first ended so that a
// different final version written later still counts into the same bucket.
const (
	// KEYS = {record}; ARGV = {data, ttl ms}. Returns the stored data if the record exists.
	createScript = `
local old = redis.call('HGET', KEYS[1], 'r')
if old then return old end
redis.call('HSET', KEYS[1], 'r', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return false
`
	// KEYS = {record}; ARGV = {data, ended 0|1|2, ttl ms, gateway, hour}, where 2 is an
	// ended record that replaces only one not ended yet (recovery's). Returns {-1} for no
	// record, {0} for a write refused, {1} for a write, {1, gateway, hour} for a write of an
	// ended record, with the bucket to count it in. PEXPIRE both renews the TTL and tells
	// whether the record exists (one command less, run by every write of every call); a
	// refused write renews it too, as a write would have.
	updateScript = `
if redis.call('PEXPIRE', KEYS[1], ARGV[3]) == 0 then return {-1} end
local ended = redis.call('HGET', KEYS[1], 'e')
if ended and ARGV[2] ~= '1' then return {0} end
if not ended and ARGV[2] ~= '0' then
	redis.call('HSET', KEYS[1], 'r', ARGV[1], 'e', '1', 'bg', ARGV[4], 'bh', ARGV[5])
else
	redis.call('HSET', KEYS[1], 'r', ARGV[1])
end
if ARGV[2] == '0' then return {1} end
local b = redis.call('HMGET', KEYS[1], 'bg', 'bh')
return {1, b[1], b[2]}
`
	// KEYS = {bucket, bucket ids, hours, gateway index, label bucket, its hours, label
	// bucket, its hours, ...}; ARGV = {call id, hour, ttl ms, oldest hour kept, index
	// member, counter, n, counter, n, ...}. The set of counted ids makes the increments of
	// the bucket and its label buckets idempotent together: a retry after a lost reply adds
	// nothing. The hours of a label have a TTL, as the label may stop being used. Returns
	// 1 if it counted.
	countScript = `
local counted = redis.call('SADD', KEYS[2], ARGV[1])
if counted == 1 then
	for i = 6, #ARGV, 2 do
		redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
		for j = 5, #KEYS, 2 do
			redis.call('HINCRBY', KEYS[j], ARGV[i], ARGV[i + 1])
		end
	end
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[4])
redis.call('ZADD', KEYS[4], 0, ARGV[5])
for j = 5, #KEYS, 2 do
	redis.call('PEXPIRE', KEYS[j], ARGV[3])
	redis.call('ZADD', KEYS[j + 1], ARGV[2], ARGV[2])
	redis.call('ZREMRANGEBYSCORE', KEYS[j + 1], '-inf', '(' .. ARGV[4])
	redis.call('PEXPIRE', KEYS[j + 1], ARGV[3])
end
return counted
`
	// KEYS = {request claim}; ARGV = {old owner, new owner, ttl ms}. Compare-and-set.
	takeoverScript = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`
)

// scriptRun is one run of a script in a batch: its keys and arguments.
type scriptRun struct {
	keys []string
	args []any
}

// runScripts runs script once per run in one pipeline and returns each run's command. The
// caller's before and after, if not nil, add commands of its own to the pipeline, before and
// after the runs. A run that finds the script gone (a restarted Redis lost it) is run again
// alone, which loads it.
func runScripts(ctx context.Context, c redis.UniversalClient, script *redis.Script, runs []scriptRun, before, after func(redis.Pipeliner)) []*redis.Cmd {
	cmds := make([]*redis.Cmd, len(runs))
	if len(runs) == 0 {
		return cmds
	}
	_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
		if before != nil {
			before(p)
		}
		for i, r := range runs {
			cmds[i] = script.EvalSha(ctx, p, r.keys, r.args...)
		}
		if after != nil {
			after(p)
		}
		return nil
	})
	for i, r := range runs {
		if redis.HasErrorPrefix(cmds[i].Err(), "NOSCRIPT") {
			cmds[i] = script.Run(ctx, c, r.keys, r.args...)
		}
	}
	return cmds
}
