package tracker

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony/internal/testenv"
)

func TestCommands(t *testing.T) {
	onBackends(t, func(t *testing.T, c redis.UniversalClient) {
		t.Run("sent and handled", func(t *testing.T) { t.Parallel(); testCommandsHandled(t, c) })
		t.Run("trimmed", func(t *testing.T) { t.Parallel(); testCommandsTrimmed(t, c) })
	})
}

// Instance A handles the commands sent to it once it runs, in order, and not those sent
// before or to another instance.
func testCommandsHandled(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	cmds, err := NewCommands(CommandsConfig{Logger: testLogger(t)}, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmds.SendHangUp(ctx, "A", "before"); err != nil {
		t.Fatal(err)
	}
	got := make(chan Command)
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- cmds.Run(runCtx, "A", func(ctx context.Context, cmd Command) {
			select {
			case got <- cmd:
			case <-ctx.Done():
			}
		})
	}()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cancel()
			<-done
		}
	})
	next := func(within time.Duration) (Command, bool) {
		t.Helper()
		select {
		case cmd := <-got:
			return cmd, true
		case <-time.After(within):
			return Command{}, false
		}
	}

	// Run reads from when it has found the end of the stream: probe until it does.
	first, ok := Command{}, false
	for i := 0; !ok; i++ {
		if i == int(testenv.WaitFor/(50*time.Millisecond)) {
			t.Fatal("no command handled")
		}
		if err := cmds.SendHangUp(ctx, "A", "probe-"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		first, ok = next(50 * time.Millisecond)
	}
	if first.CallID == "before" {
		t.Fatal("handled a command sent before Run started")
	}
	for _, send := range []struct{ instance, call string }{{"A", "c1"}, {"B", "other"}, {"A", "c2"}} {
		if err := cmds.SendHangUp(ctx, send.instance, send.call); err != nil {
			t.Fatal(err)
		}
	}
	var calls []string
	for len(calls) < 2 {
		cmd, ok := next(testenv.WaitFor)
		if !ok {
			t.Fatalf("after %v: got hang-ups of %v, want c1 and c2", testenv.WaitFor, calls)
		}
		if cmd.Op != CommandHangUp || cmd.ID == "" {
			t.Errorf("command %+v: want a hang-up with its ID", cmd)
		}
		if cmd.CallID != "c1" && cmd.CallID != "c2" && cmd.CallID[:6] != "probe-" {
			t.Errorf("handled a hang-up of %s, sent before Run or to another instance", cmd.CallID)
		}
		if cmd.CallID == "c1" || cmd.CallID == "c2" {
			calls = append(calls, cmd.CallID)
		}
	}
	if calls[0] != "c1" || calls[1] != "c2" {
		t.Errorf("got hang-ups of %v, want c1 then c2", calls)
	}

	cancel()
	stopped = true
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after ctx ended: got %v, want nil", err)
		}
	case <-time.After(testenv.WaitFor):
		t.Fatal("Run still going after its ctx ended")
	}
}

// An instance's stream keeps about MaxLen commands, and expires.
func testCommandsTrimmed(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	cmds, err := NewCommands(CommandsConfig{MaxLen: 10}, c)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		if err := cmds.SendHangUp(ctx, "T", strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	// MAXLEN ~ trims whole nodes of the stream, 100 entries each by default.
	if n := c.XLen(ctx, commandsKey("T")).Val(); n < 10 || n > 110 {
		t.Errorf("commands kept: got %d, want 10 to 110", n)
	}
	if ttl := c.PTTL(ctx, commandsKey("T")).Val(); ttl <= 0 || ttl > commandsTTL {
		t.Errorf("TTL: got %v, want up to %v", ttl, commandsTTL)
	}
}
