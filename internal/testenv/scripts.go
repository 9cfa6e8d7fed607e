package testenv

import (
	"context"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// ScriptCounter is a go-redis hook (Client.AddHook) that counts the Lua scripts a client
// sends in pipelines, as the stores send theirs: Scripts counts the EVALSHA commands,
// Pipelines the round trips that carried at least one (a connection's handshake is in
// neither).
type ScriptCounter struct {
	Scripts, Pipelines atomic.Int64
}

func (h *ScriptCounter) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *ScriptCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h *ScriptCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		n := int64(0)
		for _, cmd := range cmds {
			if cmd.Name() == "evalsha" {
				n++
			}
		}
		if n > 0 {
			h.Scripts.Add(n)
			h.Pipelines.Add(1)
		}
		return next(ctx, cmds)
	}
}
