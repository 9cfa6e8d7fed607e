package tracker

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony"
)

// UpdateMany is Update for several distinct calls in three round trips whatever their
// number: one writes every record, one counts the calls those writes ended, one takes them
// out of this instance's live set. errs[i] is calls[i]'s error, as Update would return it.
// Buffered writes its batches with it.
func (r *Redis) UpdateMany(ctx context.Context, calls []*telephony.Call) []error {
	errs := make([]error, len(calls))
	type write struct {
		i    int
		keys []string
		args []any
		cmd  *redis.Cmd
	}
	writes := make([]write, 0, len(calls))
	for i, c := range calls {
		keys, args, err := r.updateArgs(c, false)
		if err != nil {
			errs[i] = err
			continue
		}
		writes = append(writes, write{i: i, keys: keys, args: args})
	}
	_, _ = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for j := range writes {
			writes[j].cmd = r.update.EvalSha(ctx, p, writes[j].keys, writes[j].args...)
		}
		return nil
	})
	var ended []endedCall
	var endedAt []int // index in calls of each ended[k]
	for _, w := range writes {
		cmd := w.cmd
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") { // a restarted Redis lost the script
			cmd = r.update.Run(ctx, r.c, w.keys, w.args...)
		}
		_, k, err := updateResult(calls[w.i], cmd)
		if err != nil {
			errs[w.i] = err
			continue
		}
		if k != nil {
			ended = append(ended, endedCall{calls[w.i], *k})
			endedAt = append(endedAt, w.i)
		}
	}
	if len(ended) == 0 {
		return errs
	}
	counted := r.countEnded(ctx, ended)
	ids := make([]string, 0, len(ended))
	for k, err := range counted {
		if err != nil {
			errs[endedAt[k]] = err
			continue
		}
		ids = append(ids, ended[k].c.ID)
	}
	if err := r.disown(ctx, r.owner.instance, ids...); err != nil {
		for k, cerr := range counted {
			if cerr == nil {
				errs[endedAt[k]] = err
			}
		}
	}
	return errs
}
