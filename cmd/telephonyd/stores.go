package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony/server"
	"github.com/ccplane/telephony/tracker"
)

// openRedis returns the client of redis.url (see redisOptions for its forms), or nil when
// it is empty (in-memory stores).
func openRedis(cfg fileConfig, log *slog.Logger) (redis.UniversalClient, error) {
	if cfg.Redis.URL == "" {
		return nil, nil
	}
	opt, err := redisOptions(cfg.Redis.URL)
	if err != nil {
		return nil, fmt.Errorf("redis.url: %w", err)
	}
	// go-redis logs dial failures through a process-wide logger of its own.
	redis.SetLogger(redisLogger{log.With("component", "redis")})
	return redis.NewUniversalClient(opt), nil
}

// redisLogger sends go-redis's own messages (reconnects, dial failures) to our log.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	// Not "msg": that key is the log line's own message.
	l.log.WarnContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}

// records is where call records live: in Redis behind a local buffer that keeps them while
// Redis is unreachable, or in process memory. With Redis, this process is an instance that
// owns the calls it dials: it heartbeats, and ends as LOST the unfinished calls of
// instances that died.
type records struct {
	tracker.Store
	redis     *tracker.Redis    // nil for memory
	buffer    *tracker.Buffered // nil for memory
	heartbeat time.Duration
}

// recordLinger is how long a call's record changes wait in the buffer before they go to
// Redis: a call's setup (100, 180, 200) then costs one write instead of three or four, and
// another instance reads a record at most this much older than the owner's.
const recordLinger = 50 * time.Millisecond

func openRecords(cfg fileConfig, client redis.UniversalClient, log *slog.Logger) (records, error) {
	if client == nil {
		return records{Store: tracker.NewMemory().WithReportLabels(cfg.Calls.ReportLabels...)}, nil
	}
	store, err := tracker.NewRedis(tracker.RedisConfig{
		Retention: time.Duration(cfg.Calls.RecordRetention), ReportLabels: cfg.Calls.ReportLabels,
		Logger: log, Instance: uuid.NewString(),
	}, client)
	if err != nil {
		return records{}, err
	}
	// Written behind: a call's events never wait for Redis, and a call's updates that come
	// faster than Redis takes them, or within recordLinger, collapse into one write.
	buf, err := tracker.NewBuffered(tracker.BufferConfig{Logger: log, WriteBehind: true, Linger: recordLinger}, store)
	if err != nil {
		return records{}, err
	}
	return records{Store: buf, redis: store, buffer: buf, heartbeat: time.Duration(cfg.Redis.Heartbeat)}, nil
}

// run keeps the buffer draining into Redis and this instance's ownership alive until ctx
// ends.
func (r records) run(ctx context.Context) error {
	if r.buffer == nil {
		return nil
	}
	var wg sync.WaitGroup
	var ownErr error
	wg.Go(func() { ownErr = r.redis.RunOwnership(ctx, r.heartbeat) })
	err := r.buffer.Run(ctx)
	wg.Wait()
	return errors.Join(err, ownErr)
}

// close writes every buffered record and then gives up this instance's ownership; called
// at shutdown once the calls have ended and run has returned.
func (r records) close(ctx context.Context) error {
	if r.buffer == nil {
		return nil
	}
	if err := r.buffer.Flush(ctx); err != nil {
		return err
	}
	return r.redis.Release(ctx)
}

// openShared returns what this instance shares with the others on its Redis (see
// server.Shared), or nil without Redis or with redis.share_calls off.
func openShared(cfg fileConfig, client redis.UniversalClient, recs records, log *slog.Logger) (*server.Shared, error) {
	if client == nil || (cfg.Redis.ShareCalls != nil && !*cfg.Redis.ShareCalls) {
		return nil, nil
	}
	events, err := tracker.NewEventStreams(tracker.EventsConfig{Retention: time.Duration(cfg.Calls.EventRetention), Logger: log}, client)
	if err != nil {
		return nil, err
	}
	cmds, err := tracker.NewCommands(tracker.CommandsConfig{Logger: log}, client)
	if err != nil {
		return nil, err
	}
	interval := time.Duration(cfg.Redis.PublishInterval)
	if interval == 0 {
		interval = -1 // Shared's "none": its zero is the default
	}
	return &server.Shared{Instance: recs.redis.Instance(), Events: events, Commands: cmds, Owners: recs.redis,
		PublishInterval: interval}, nil
}
