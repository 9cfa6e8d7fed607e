package tracker

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony/internal/testenv"
)

// A batch run after Redis lost its scripts (a restart, SCRIPT FLUSH) still runs every one.
func TestRunScriptsReloadsLostScript(t *testing.T) {
	c := newClient(t, testenv.StartRedis(t))
	script := redis.NewScript(`return KEYS[1] .. ARGV[1]`)
	runs := []scriptRun{{keys: []string{"a"}, args: []any{"1"}}, {keys: []string{"b"}, args: []any{"2"}}}
	for _, round := range []string{"script not loaded yet", "script flushed"} {
		if round == "script flushed" {
			if err := c.ScriptFlush(t.Context()).Err(); err != nil {
				t.Fatal(err)
			}
		}
		for i, cmd := range runScripts(t.Context(), c, script, runs, nil, nil) {
			want := runs[i].keys[0] + runs[i].args[0].(string)
			if got, err := cmd.Text(); got != want || err != nil {
				t.Errorf("%s: run %d = %q, %v; want %q", round, i, got, err, want)
			}
		}
	}
}
