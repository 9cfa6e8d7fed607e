package directions

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Store in Redis (standalone, Sentinel or Cluster), shared by every instance;
// the rules survive restarts as far as Redis persists them. Each change is one Lua script
// that rewrites the rules, increments the version and publishes the gateway's ID, so
// readers never see half a change and subscribers never miss one while connected. It is
// safe for concurrent use. See the package doc for the keys.
type Redis struct {
	c                          redis.UniversalClient
	replace, add, remove, seed *redis.Script
}

var _ Store = (*Redis)(nil)

// changesChannel carries the ID of every changed gateway. One channel for all: PUBLISH
// reaches every node of a Cluster, and one subscription serves every gateway.
const changesChannel = "directions:changed"

// pingInterval is how long a silent subscription waits before it pings Redis, so a
// connection that died without a word (a half-open TCP connection) is noticed within two.
const pingInterval = 15 * time.Second

// The scripts take KEYS = {rules, version} and ARGV = {channel, gateway, items...}, and
// end by bumping the version and publishing. Items go to HSET/HDEL 1000 at a time because
// Lua's unpack is limited to a few thousand values.
const (
	scriptItems = `
for i = 3, #ARGV, 1000 do
	redis.call(%q, KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
`
	scriptBump = `
local v = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[1], ARGV[2])
`
)

// NewRedis returns a Store on c. The caller keeps ownership of c.
func NewRedis(c redis.UniversalClient) *Redis {
	set, del := fmt.Sprintf(scriptItems, "HSET"), fmt.Sprintf(scriptItems, "HDEL")
	return &Redis{
		c:       c,
		replace: redis.NewScript("redis.call('DEL', KEYS[1])" + set + scriptBump + "return v"),
		add:     redis.NewScript(set + scriptBump + "return v"),
		remove:  redis.NewScript(del + scriptBump + "return v"),
		seed: redis.NewScript("if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then return 0 end\n" +
			"redis.call('DEL', KEYS[1])" + set + scriptBump + "return 1"),
	}
}

// The keys of one gateway share the hash tag {gateway}, so a script may touch both in a
// Cluster.
func rulesKey(gateway string) string   { return "directions:{" + gateway + "}:rules" }
func versionKey(gateway string) string { return "directions:{" + gateway + "}:version" }

// Rules implements Store. Rules in Redis that are not valid (written by hand) are an error
// wrapping ErrInvalidRule, rather than being skipped, which could widen what is allowed.
func (r *Redis) Rules(ctx context.Context, gateway string) ([]Rule, uint64, error) {
	if err := validateGateway(gateway); err != nil {
		return nil, 0, err
	}
	var (
		hash *redis.MapStringStringCmd
		ver  *redis.StringCmd
	)
	// MULTI/EXEC: the rules and their version from one moment.
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		hash = p.HGetAll(ctx, rulesKey(gateway))
		ver = p.Get(ctx, versionKey(gateway))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, 0, fmt.Errorf("directions: read rules of %s: %w", gateway, err)
	}
	v, err := version(ver)
	if err != nil {
		return nil, 0, fmt.Errorf("directions: read rules of %s: %w", gateway, err)
	}
	var rules []Rule
	for p, a := range hash.Val() {
		act, err := ParseAction(a)
		if err == nil {
			err = Rule{Prefix: p, Action: act}.Validate()
		}
		if err != nil {
			return nil, 0, fmt.Errorf("directions: stored rule of %s: %w", gateway, err)
		}
		rules = append(rules, Rule{Prefix: p, Action: act})
	}
	slices.SortFunc(rules, func(a, b Rule) int { return strings.Compare(a.Prefix, b.Prefix) })
	return rules, v, nil
}

// Version implements Store.
func (r *Redis) Version(ctx context.Context, gateway string) (uint64, error) {
	if err := validateGateway(gateway); err != nil {
		return 0, err
	}
	v, err := version(r.c.Get(ctx, versionKey(gateway)))
	if err != nil {
		return 0, fmt.Errorf("directions: read version of %s: %w", gateway, err)
	}
	return v, nil
}

// version reads a version GET: a missing key is 0.
func version(cmd *redis.StringCmd) (uint64, error) {
	v, err := cmd.Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return v, err
}

// Replace implements Store.
func (r *Redis) Replace(ctx context.Context, gateway string, rules []Rule) (uint64, error) {
	rules, err := changeInput(gateway, rules)
	if err != nil {
		return 0, err
	}
	return r.run(ctx, "replace", r.replace, gateway, ruleArgs(rules))
}

// Add implements Store.
func (r *Redis) Add(ctx context.Context, gateway string, rules []Rule) (uint64, error) {
	rules, err := changeInput(gateway, rules)
	if err != nil {
		return 0, err
	}
	return r.run(ctx, "add", r.add, gateway, ruleArgs(rules))
}

// Remove implements Store.
func (r *Redis) Remove(ctx context.Context, gateway string, prefixes []string) (uint64, error) {
	if err := removeInput(gateway, prefixes); err != nil {
		return 0, err
	}
	args := make([]any, len(prefixes))
	for i, p := range prefixes {
		args[i] = p
	}
	return r.run(ctx, "remove", r.remove, gateway, args)
}

// Seed implements Store.
func (r *Redis) Seed(ctx context.Context, gateway string, rules []Rule) (bool, error) {
	rules, err := changeInput(gateway, rules)
	if err != nil || len(rules) == 0 {
		return false, err
	}
	n, err := r.run(ctx, "seed", r.seed, gateway, ruleArgs(rules))
	return n == 1, err
}

func ruleArgs(rules []Rule) []any {
	args := make([]any, 0, 2*len(rules))
	for _, rule := range rules {
		args = append(args, rule.Prefix, rule.Action.String())
	}
	return args
}

// run runs one of the change scripts and returns its number.
func (r *Redis) run(ctx context.Context, op string, s *redis.Script, gateway string, items []any) (uint64, error) {
	args := append([]any{changesChannel, gateway}, items...)
	n, err := s.Run(ctx, r.c, []string{rulesKey(gateway), versionKey(gateway)}, args...).Uint64()
	if err != nil {
		return 0, fmt.Errorf("directions: %s rules of %s: %w", op, gateway, err)
	}
	return n, nil
}

// Subscribe implements Store.
func (r *Redis) Subscribe(ctx context.Context, changed func(gateway string)) error {
	ps := r.c.Subscribe(ctx, changesChannel)
	// go-redis reads ignore ctx cancellation; closing the PubSub is what ends a Receive.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer func() {
		stop()
		_ = ps.Close()
	}()
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, pingInterval)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if isTimeout(err) && !pinged {
				// The reply arrives as a message; a second silence means the connection is gone.
				pinged = true
				if err = ps.Ping(ctx); err == nil {
					continue
				}
			}
			return fmt.Errorf("directions: subscription to %s: %w", changesChannel, err)
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			// Also sent when go-redis re-subscribes by itself after a reconnect.
			if m.Kind == "subscribe" {
				changed("")
			}
		case *redis.Message:
			if m.Payload != "" {
				changed(m.Payload)
			}
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
