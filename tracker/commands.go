package tracker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony/internal/wait"
)

// The commands to an instance are under the instance's hash tag, like its heartbeat:
//
//	cmd:{i:INSTANCE}   stream: one entry per command, fields op and call; trimmed to about
//	                     CommandsConfig.MaxLen entries; TTL commandsTTL after the latest
func commandsKey(instance string) string { return "cmd:{i:" + instance + "}" }

// CommandOp is what a command asks of the instance that owns a call.
type CommandOp string

// CommandHangUp asks the owner to hang the call up.
const CommandHangUp CommandOp = "hangup"

// Command is one command to an instance.
type Command struct {
	// ID is the command's entry in the instance's stream.
	ID string
	// Op is what is asked; an instance may get ops newer than it knows.
	Op     CommandOp
	CallID string
}

// DefaultCommandsMaxLen is CommandsConfig.MaxLen's default.
const DefaultCommandsMaxLen = 1000

const (
	// commandsTTL bounds how long the stream of an instance that died stays: instances are
	// new at each start, so nobody reads it again. A live instance's stream that expires
	// between commands is created again by the next one.
	commandsTTL = time.Hour
	// commandsBlock is how long one XREAD waits, and so how long Run may take to return
	// after ctx ends: go-redis does not interrupt a blocked read.
	commandsBlock = time.Second
	// commandsBatch is how many commands one XREAD returns at most.
	commandsBatch = 100
	// commandsRetry is the wait before reading again after a failure.
	commandsRetry = time.Second
)

// CommandsConfig configures Commands. The zero value of every field is its default.
type CommandsConfig struct {
	// MaxLen is about how many commands an instance's stream keeps (XADD MAXLEN ~): the
	// commands an instance has read are of no further use. Default 1000.
	MaxLen int64
	// Logger receives the failures of Run (Warn) and its return (Info). Default: discard.
	Logger *slog.Logger
}

// Commands is the command channel of each instance, through which any instance asks the
// owner of a call to act on it. Whoever sends a command waits for its effect elsewhere (the
// call's events). It is safe for concurrent use.
type Commands struct {
	c      redis.UniversalClient
	log    *slog.Logger
	maxLen int64
}

// NewCommands returns the command channels on c. The caller keeps ownership of c.
func NewCommands(cfg CommandsConfig, c redis.UniversalClient) (*Commands, error) {
	if cfg.MaxLen < 0 {
		return nil, fmt.Errorf("tracker: commands max len %d is negative", cfg.MaxLen)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Commands{c: c, log: log.With("component", "tracker"), maxLen: cmp.Or(cfg.MaxLen, DefaultCommandsMaxLen)}, nil
}

// SendHangUp asks instance to hang up call id. It returns once the command is stored; it
// is lost if the instance is not running Run then (a dead instance's calls end as lost).
func (c *Commands) SendHangUp(ctx context.Context, instance, id string) error {
	key := commandsKey(instance)
	_, err := c.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.XAdd(ctx, &redis.XAddArgs{Stream: key, MaxLen: c.maxLen, Approx: true,
			Values: []any{"op", string(CommandHangUp), "call", id}})
		p.PExpire(ctx, key, commandsTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("tracker: send hang-up of call %s to instance %s: %w", id, instance, err)
	}
	return nil
}

// Run hands handle the commands sent to instance from when it starts until ctx ends, in
// the order they were sent, one at a time on Run's goroutine (handle should not block
// long); it then returns nil, within a second. Commands sent before it started are not
// handled. When Redis fails it logs it and reads again, every second, from the last
// command handled.
func (c *Commands) Run(ctx context.Context, instance string, handle func(context.Context, Command)) error {
	key := commandsKey(instance)
	log := c.log.With("instance", instance)
	last := "" // the ID of the last command seen; "" until the stream's end is known
	failing := false
	for ctx.Err() == nil {
		var msgs []redis.XMessage
		var err error
		if last == "" {
			last, err = c.end(ctx, key)
		} else {
			msgs, err = c.read(ctx, key, last)
		}
		if err != nil && ctx.Err() == nil {
			if !failing {
				log.WarnContext(ctx, "reading commands failing: calls of this instance cannot be hung up from others", "err", err)
			}
			failing = true
			_ = wait.Sleep(ctx, commandsRetry) // the loop's ctx check ends it
			continue
		}
		if failing && err == nil {
			log.InfoContext(ctx, "reading commands back")
			failing = false
		}
		for _, m := range msgs {
			last = m.ID
			op, _ := m.Values["op"].(string)
			id, _ := m.Values["call"].(string)
			handle(ctx, Command{ID: m.ID, Op: CommandOp(op), CallID: id})
		}
	}
	return nil
}

// end returns the ID of the last entry of the stream key, or 0-0 if there is none.
func (c *Commands) end(ctx context.Context, key string) (string, error) {
	msgs, err := c.c.XRevRangeN(ctx, key, "+", "-", 1).Result()
	switch {
	case err != nil:
		return "", err
	case len(msgs) == 0:
		return "0-0", nil
	}
	return msgs[0].ID, nil
}

// read returns the entries of the stream key after ID after, waiting for one up to
// commandsBlock.
func (c *Commands) read(ctx context.Context, key, after string) ([]redis.XMessage, error) {
	streams, err := c.c.XRead(ctx, &redis.XReadArgs{Streams: []string{key, after}, Count: commandsBatch, Block: commandsBlock}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return streams[0].Messages, nil
}
