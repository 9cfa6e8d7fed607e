package main

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/ccplane/telephony/internal/testenv"
)

// redisScripts counts the scripts a real redis-server ran, EVAL and EVALSHA alike, and
// nothing else.
func TestRedisScripts(t *testing.T) {
	addr := testenv.StartRedis(t)
	calls0, usec0, err := redisScripts(addr)
	if err != nil {
		t.Fatal(err)
	}
	send(t, addr,
		"EVAL \"return redis.call('SET', KEYS[1], ARGV[1])\" 1 k v",
		"SCRIPT LOAD \"return 1\"",
		"EVALSHA e0e1f9fabfc9d4800c877a703b823ac0578ff8db 0",
		"GET k")
	calls, usec, err := redisScripts(addr)
	if err != nil {
		t.Fatal(err)
	}
	if calls-calls0 != 2 {
		t.Errorf("scripts run: %d, want 2 (an EVAL and an EVALSHA)", calls-calls0)
	}
	if usec < usec0 {
		t.Errorf("script time went back from %d to %d µs", usec0, usec)
	}
}

// send sends each inline command to redis-server at addr and reads its one-line answer,
// failing on an error reply.
func send(t *testing.T, addr string, cmds ...string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	for _, cmd := range cmds {
		if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
			t.Fatal(err)
		}
		line, err := r.ReadString('\n')
		if err != nil || line[0] == '-' {
			t.Fatalf("%s: %q, %v", cmd, line, err)
		}
		if line[0] == '$' && line != "$-1\r\n" { // a bulk string: its data line too
			if _, err := r.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
		}
	}
}
