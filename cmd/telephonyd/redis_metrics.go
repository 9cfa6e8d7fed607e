package main

import (
	"context"
	"errors"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// redisErrors counts failed Redis commands and connection attempts by operation: a
// misbehaving Redis shows here before records pile up in the buffer. redis.Nil (a missing
// key) is an answer, and NOSCRIPT the normal first run of a script go-redis then loads:
// neither is an error.
type redisErrors struct {
	total *prometheus.CounterVec
}

func newRedisErrors(reg prometheus.Registerer) *redisErrors {
	r := &redisErrors{total: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "telephony_redis_errors_total",
		Help: "Redis commands (op = command name) and dials (op = dial) that failed.",
	}, []string{"op"})}
	reg.MustRegister(r.total)
	return r
}

func (r *redisErrors) count(op string, err error) {
	if err != nil && !errors.Is(err, redis.Nil) && !redis.HasErrorPrefix(err, "NOSCRIPT") {
		r.total.WithLabelValues(op).Inc()
	}
}

// DialHook implements redis.Hook.
func (r *redisErrors) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		r.count("dial", err)
		return conn, err
	}
}

// ProcessHook implements redis.Hook.
func (r *redisErrors) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		r.count(cmd.Name(), err)
		return err
	}
}

// ProcessPipelineHook implements redis.Hook.
func (r *redisErrors) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			r.count(cmd.Name(), cmd.Err())
		}
		return err
	}
}
