package testenv

import (
	"context"
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

	"github.com/redis/go-redis/v9"
)

// sentinelDownAfter is the sentinel's down-after-milliseconds: how long the master may be
// silent before the sentinel flags it down, short so that a test stopping the master sees
// that soon. A stall of a loaded test machine that trips it does no harm: with no replica
// to promote, the failover it starts is aborted and the master stays where it is.
const sentinelDownAfter = time.Second

// sentinelFailoverTimeout is the sentinel's failover-timeout, which also spaces its
// failover attempts (twice this): the default 3 minutes would outlast any test.
const sentinelFailoverTimeout = 5 * time.Second

// RedisSentinel is a Redis master and one Sentinel monitoring it, started for one test by
// StartRedisSentinel.
type RedisSentinel struct {
	// MasterName is the name the sentinel knows the master by: a client's master_name.
	MasterName string
	// Master is the monitored redis-server, without replicas. A test may stop and start it.
	Master *RedisServer
	// Addr is the sentinel's "127.0.0.1:PORT".
	Addr string
}

// StartRedisSentinel starts a redis-server (as StartRedis does) and a Sentinel
// (redis-server --sentinel, its configuration file and log in a t.TempDir()) monitoring it
// as master, with a quorum of 1, both on free 127.0.0.1 ports. It returns once the
// sentinel answers SENTINEL get-master-addr-by-name with the master's address and has
// reached the master, and stops both in t.Cleanup. It fails the test if master is not a
// valid name, if redis-server is missing, or if either does not come up.
func StartRedisSentinel(t testing.TB, master string) *RedisSentinel {
	t.Helper()
	if master == "" || strings.ContainsFunc(master, func(r rune) bool { return r <= ' ' || r == '"' || r == '\'' }) {
		t.Fatalf("StartRedisSentinel(%q): a master name is a non-empty word", master)
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal(notInstalled("redis-server", "redis-server"))
	}
	s := &RedisSentinel{MasterName: master, Master: StartRedisServer(t, RedisOptions{})}
	dir := t.TempDir()
	conf, logFile := filepath.Join(dir, "sentinel.conf"), filepath.Join(dir, "sentinel.log")
	for attempt := 1; ; attempt++ {
		port := FreePort(t, "tcp")
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		_ = os.Remove(logFile) // so that the log read below is this attempt's
		p, err := s.startSentinel(bin, dir, conf, logFile, port)
		if err == nil {
			t.Cleanup(p.stop)
			return s
		}
		log, _ := os.ReadFile(logFile)
		// Lost the race for the port: try another one.
		if errors.Is(err, errExited) && strings.Contains(string(log), "Address already in use") && attempt < startAttempts {
			continue
		}
		t.Fatalf("StartRedisSentinel on %s for master %s at %s: sentinel %v\n%s",
			s.Addr, master, s.Master.Addr(), err, tail(logFile, 20))
	}
}

// startSentinel writes the sentinel's configuration for port and runs it until it is
// ready. The file must be writable: the sentinel rewrites it with what it learns (its ID,
// the epochs, replicas and other sentinels).
func (s *RedisSentinel) startSentinel(bin, dir, conf, logFile string, port int) (*process, error) {
	host, masterPort, _ := net.SplitHostPort(s.Master.Addr())
	config := fmt.Sprintf(`port %d
bind 127.0.0.1
dir %q
logfile %q
sentinel monitor %s %s %s 1
sentinel down-after-milliseconds %s %d
sentinel failover-timeout %s %d
`, port, dir, logFile, s.MasterName, host, masterPort,
		s.MasterName, sentinelDownAfter.Milliseconds(), s.MasterName, sentinelFailoverTimeout.Milliseconds())
	if err := os.WriteFile(conf, []byte(config), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, conf, "--sentinel")
	cmd.Dir = dir
	p, err := startProcess(cmd)
	if err != nil {
		return nil, err
	}
	c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DisableIdentity: true,
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
	defer c.Close()
	var notReady error
	err = waitReady(p, func() bool {
		// A bare PING first: go-redis would log each refused dial while the sentinel binds.
		if notReady = ping(s.Addr); notReady == nil {
			notReady = s.monitoring(c)
		}
		return notReady == nil
	})
	if err != nil {
		p.stop()
		if !errors.Is(err, errExited) {
			err = fmt.Errorf("%w: %v", err, notReady)
		}
		return nil, err
	}
	return p, nil
}

// monitoring returns nil once the sentinel names the master's address for s.MasterName
// and has heard from the master. It names the address from its configuration at once; a
// run ID appears once it has had the master's INFO, so a client it sends there finds a
// master.
func (s *RedisSentinel) monitoring(c *redis.SentinelClient) error {
	ctx := context.Background()
	hostPort, err := c.GetMasterAddrByName(ctx, s.MasterName).Result()
	if err != nil {
		return err
	}
	if len(hostPort) != 2 {
		return fmt.Errorf("get-master-addr-by-name %s answered %q", s.MasterName, hostPort)
	}
	if got := net.JoinHostPort(hostPort[0], hostPort[1]); got != s.Master.Addr() {
		return fmt.Errorf("get-master-addr-by-name %s answered %s, want %s", s.MasterName, got, s.Master.Addr())
	}
	m, err := c.Master(ctx, s.MasterName).Result()
	if err != nil {
		return err
	}
	if m["runid"] == "" || m["flags"] != "master" || m["role-reported"] != "master" {
		return fmt.Errorf("master %s not reached yet: run ID %q, flags %q, role %q",
			s.MasterName, m["runid"], m["flags"], m["role-reported"])
	}
	return nil
}
