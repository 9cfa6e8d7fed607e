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
	"testing"
	"time"
)

// StartRedis starts a throwaway redis-server on a free 127.0.0.1 port, with persistence off
// and its working directory in t.TempDir(), and returns "127.0.0.1:PORT" once it answers
// PING. It stops the server in t.Cleanup. It fails the test if redis-server is missing or
// does not come up.
func StartRedis(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal(notInstalled("redis-server", "redis-server"))
	}
	dir := t.TempDir()
	logFile := filepath.Join(dir, "redis.log")
	for attempt := 1; ; attempt++ {
		port := FreePort(t, "tcp")
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", logFile)
		cmd.Dir = dir
		p, err := startProcess(cmd)
		if err != nil {
			t.Fatalf("StartRedis: %v", err)
		}
		err = waitReady(p, func() bool { return ping(addr) == nil })
		if err == nil {
			t.Cleanup(p.stop)
			return addr
		}
		p.stop()
		log, _ := os.ReadFile(logFile)
		// Lost the race for the port: try another one.
		if errors.Is(err, errExited) && strings.Contains(string(log), "Address already in use") && attempt < startAttempts {
			continue
		}
		t.Fatalf("StartRedis on %s: redis-server %v\n%s", addr, err, tail(logFile, 20))
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
