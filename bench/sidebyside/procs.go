package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ccplane/telephony/internal/wait"
)

// children owns every process the bench starts, so that none outlives it: each child runs
// in its own process group (a terminal's Ctrl-C reaches only us, and we decide how each
// child stops), is killed if we die (Pdeathsig, best effort), and stopAll ends whatever is
// still running.
type children struct {
	dir  string // where each child's stdout and stderr files go
	mu   sync.Mutex
	live []*child
}

// child is one started process. done is closed once it has been reaped; state is valid
// from then on.
type child struct {
	name  string
	logs  string // the directory holding <name>.out and <name>.err
	cmd   *exec.Cmd
	done  chan struct{}
	state *os.ProcessState
	start time.Time
	end   time.Time
}

// start runs bin with args, its output in <dir>/<name>.out and .err, in workdir (dir when
// empty).
func (cs *children) start(name, workdir, bin string, args ...string) (*child, error) {
	stdout, err := os.Create(filepath.Join(cs.dir, name+".out"))
	if err != nil {
		return nil, err
	}
	defer stdout.Close() // the child has its own copy
	stderr, err := os.Create(filepath.Join(cs.dir, name+".err"))
	if err != nil {
		return nil, err
	}
	defer stderr.Close()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = workdir, stdout, stderr
	if cmd.Dir == "" {
		cmd.Dir = cs.dir
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	c := &child{name: name, logs: cs.dir, cmd: cmd, done: make(chan struct{})}
	c.start = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		_ = cmd.Wait()
		c.end = time.Now()
		c.state = cmd.ProcessState
		close(c.done)
	}()
	cs.mu.Lock()
	cs.live = append(cs.live, c)
	cs.mu.Unlock()
	return c, nil
}

// stopAll stops every child still running, the last started first.
func (cs *children) stopAll() {
	cs.mu.Lock()
	live := cs.live
	cs.live = nil
	cs.mu.Unlock()
	for i := len(live) - 1; i >= 0; i-- {
		live[i].stop(5 * time.Second)
	}
}

// pid is the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// exitCode is the child's exit status once it has exited (-1 if a signal ended it).
func (c *child) exitCode() int { return c.state.ExitCode() }

// cpuSeconds is the CPU time (user and system) the child used: from the kernel while it
// runs, from its exit status once it has exited.
func (c *child) cpuSeconds() float64 {
	if c.exited() {
		return (c.state.UserTime() + c.state.SystemTime()).Seconds()
	}
	s, err := procCPUSeconds(c.pid())
	if err != nil {
		return 0
	}
	return s
}

// wall is how long the child ran (so far, if it still runs).
func (c *child) wall() time.Duration {
	if c.exited() {
		return c.end.Sub(c.start)
	}
	return time.Since(c.start)
}

// wait waits for the child to exit, stopping it if ctx ends first.
func (c *child) wait(ctx context.Context) error {
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		c.stop(2 * time.Second)
		return ctx.Err()
	}
}

// stop asks the child's process group to end (SIGTERM), and kills it after grace.
func (c *child) stop(grace time.Duration) {
	if c.exited() {
		return
	}
	_ = syscall.Kill(-c.pid(), syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-c.done:
		return
	case <-timer.C:
	}
	_ = syscall.Kill(-c.pid(), syscall.SIGKILL)
	<-c.done
}

// errExited means a child exited before it was ready.
var errExited = errors.New("exited before it was ready")

// waitReady polls ready every 20 ms until it is true, the child exits, ctx ends or limit
// passes.
func (c *child) waitReady(ctx context.Context, limit time.Duration, ready func() bool) error {
	deadline := time.Now().Add(limit)
	for {
		if c.exited() {
			return fmt.Errorf("%s %w (exit status %d)", c.name, errExited, c.exitCode())
		}
		if ready() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v", c.name, limit)
		}
		if err := wait.Sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// output is the child's standard output, complete once it has exited.
func (c *child) output() []byte {
	b, _ := os.ReadFile(filepath.Join(c.logs, c.name+".out"))
	return b
}

// errTail is the end of the child's standard error, for error messages.
func (c *child) errTail(n int) string { return tail(filepath.Join(c.logs, c.name+".err"), n) }

// tail returns the last n lines of a file, labelled, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("--- %s: %v", filepath.Base(path), err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return fmt.Sprintf("--- %s (%s) ---\n%s", filepath.Base(path), path, strings.Join(lines, "\n"))
}
