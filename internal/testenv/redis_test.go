package testenv

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestStartRedis(t *testing.T) {
	t.Parallel()
	var addr string
	t.Run("serves", func(t *testing.T) {
		addr = StartRedis(t)
		if err := ping(addr); err != nil {
			t.Errorf("PING %s: %v", addr, err)
		}
	})
	if err := ping(addr); err == nil {
		t.Errorf("redis-server at %s still answers after its test ended", addr)
	}
}

func TestStartRedisMissing(t *testing.T) {
	wantFailure(t, "StartRedis", "/nonexistent", func(tb testing.TB) { StartRedis(tb) },
		[]string{"redis-server not found", "apt-get install redis-server", "./scripts/test"})
}

// A restart keeps the port, and keeps the data only when asked to.
func TestRedisServerRestart(t *testing.T) {
	tests := []struct {
		name    string
		persist bool
		want    string // GET's reply after the restart
	}{
		{name: "persist", persist: true, want: "$5"},
		{name: "no persistence", persist: false, want: "$-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := StartRedisServer(t, RedisOptions{Persist: tc.persist})
			addr := s.Addr()
			if got, want := inline(t, addr, "SET k saved"), "+OK"; got != want {
				t.Fatalf("SET: got %q, want %q", got, want)
			}
			s.Stop()
			if err := ping(addr); err == nil {
				t.Fatalf("redis-server at %s still answers after Stop", addr)
			}
			s.Stop() // a second Stop does nothing
			s.Start()
			if got := s.Addr(); got != addr {
				t.Errorf("Addr after Start: got %s, want %s", got, addr)
			}
			if got := inline(t, addr, "GET k"); got != tc.want {
				t.Errorf("GET after restart: got %q, want %q", got, tc.want)
			}
		})
	}
}

// inline sends one inline command and returns the first line of the reply, without CRLF.
func inline(t *testing.T, addr, cmd string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	return strings.TrimRight(line, "\r\n")
}
