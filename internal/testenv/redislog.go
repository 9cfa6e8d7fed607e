package testenv

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// SilenceRedisLog turns off go-redis's process-wide logger, for a TestMain: outage tests
// make it report every failed dial, which would bury real failures.
func SilenceRedisLog() { redis.SetLogger(quietRedis{}) }

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}
