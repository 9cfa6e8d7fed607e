package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// StartRedis starts a throwaway redis-server on a free 127.0.0.1 port, with persistence off
// and its working directory in t.TempDir(), and returns "127.0.0.1:PORT" once it answers
// PING. It stops the server in t.Cleanup. It fails the test if redis-server is missing or
// does not come up.
func StartRedis(t testing.TB) string {
	t.Helper()
	return StartRedisServer(t, RedisOptions{}).Addr()
}

// RedisOptions configures StartRedisServer. The zero value is StartRedis's server.
type RedisOptions struct {
	// Persist turns on the append-only file, synced on every write, so what a test wrote
	// survives Stop and Start (and even a crash). Off by default: nothing is written to disk.
	Persist bool
	// Cluster starts the server in cluster mode, owning no slot until it joins a cluster
	// (StartRedisCluster joins such servers). Its node configuration is in its directory, so
	// it stays the same node across Stop and Start.
	Cluster bool
}

// RedisServer is a redis-server started for one test, which the test may stop and start
// again on the same port and data directory to see how its clients ride out a restart.
// Its methods may be called from the test goroutine only.
type RedisServer struct {
	t       testing.TB
	bin     string
	dir     string
	logFile string
	port    int
	addr    string
	persist bool
	cluster bool
	proc    *process // nil while stopped
}

// StartRedisServer starts a redis-server on a free 127.0.0.1 port, with its working
// directory in t.TempDir(), and returns once it answers PING. It stops the server in
// t.Cleanup. It fails the test if redis-server is missing or does not come up.
func StartRedisServer(t testing.TB, opts RedisOptions) *RedisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal(notInstalled("redis-server", "redis-server"))
	}
	dir := t.TempDir()
	s := &RedisServer{t: t, bin: bin, dir: dir, logFile: filepath.Join(dir, "redis.log"), persist: opts.Persist, cluster: opts.Cluster}
	for attempt := 1; ; attempt++ {
		s.port = FreePort(t, "tcp")
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
		err := s.start()
		if err == nil {
			break
		}
		log, _ := os.ReadFile(s.logFile)
		// Lost the race for the port: try another one.
		if errors.Is(err, errExited) && strings.Contains(string(log), "Address already in use") && attempt < startAttempts {
			continue
		}
		t.Fatalf("StartRedis on %s: redis-server %v\n%s", s.addr, err, tail(s.logFile, 20))
	}
	t.Cleanup(s.kill)
	return s
}

// Addr returns "127.0.0.1:PORT", the same across Stop and Start.
func (s *RedisServer) Addr() string { return s.addr }

// Stop shuts the server down the way an operator would (SIGTERM, so it flushes what it
// persists) and waits until it has exited and released its port. Stopping a stopped
// server does nothing.
func (s *RedisServer) Stop() {
	s.t.Helper()
	if s.proc == nil {
		return
	}
	_ = s.proc.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case <-s.proc.done:
	case <-timer.C:
		s.proc.stop()
		s.t.Errorf("redis-server on %s ignored SIGTERM for %v; killed it\n%s", s.addr, readyTimeout, tail(s.logFile, 20))
	}
	s.proc = nil
}

// Start starts a stopped server again on the same port and directory, and returns once it
// answers PING (with Persist, that is after it has reloaded its data). It fails the test
// if the port was taken meanwhile or the server does not come up. Starting a running
// server does nothing.
func (s *RedisServer) Start() {
	s.t.Helper()
	if s.proc != nil {
		return
	}
	if err := s.start(); err != nil {
		s.t.Fatalf("restart redis-server on %s: %v\n%s", s.addr, err, tail(s.logFile, 20))
	}
}

// start runs redis-server on s.port and waits until it answers.
func (s *RedisServer) start() error {
	args := []string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--dir", s.dir, "--logfile", s.logFile, "--save", ""}
	if s.persist {
		// fsync on every write: a test that stops the server right after writing must find
		// its data again, whatever the signal.
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	if s.cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(s.dir, "nodes.conf"),
			"--cluster-node-timeout", strconv.Itoa(int(clusterNodeTimeout.Milliseconds())))
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	p, err := startProcess(cmd)
	if err != nil {
		return err
	}
	if err := waitReady(p, func() bool { return ping(s.addr) == nil }); err != nil {
		p.stop()
		return err
	}
	s.proc = p
	return nil
}

// kill ends the server at cleanup; a graceful stop is of no use to a test that is over.
func (s *RedisServer) kill() {
	if s.proc != nil {
		s.proc.stop()
		s.proc = nil
	}
}

// ping speaks just enough RESP to know the server is serving: an inline PING gets "+PONG".
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}
