package tracker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony/internal/testenv"
)

// The whole suite again, on Redis in cluster mode: one node owning all 16384 slots, which
// refuses what any Cluster refuses (a script or transaction whose keys are in different
// slots), so the key layout is checked for real. It runs twice: on the store alone, and
// through a write-behind buffer, as telephonyd uses it, whose batches of Creates and
// Updates put many calls' keys in one pipeline.
func TestRedisCluster(t *testing.T) {
	const subtests = 15 // the suite's seven twice and the one below; each needs an empty node
	nodes := make(chan *redis.ClusterClient, subtests)
	for _, c := range startClusterRedis(t, subtests) {
		nodes <- c
	}
	testStore(t, func(t *testing.T) Store {
		return newRedis(t, RedisConfig{Now: suiteClock, ReportLabels: suiteReportLabels}, <-nodes)
	})
	t.Run("write-behind", func(t *testing.T) {
		testStore(t, func(t *testing.T) Store {
			b := newBuffered(t, BufferConfig{WriteBehind: true},
				newRedis(t, RedisConfig{Now: suiteClock, ReportLabels: suiteReportLabels}, <-nodes))
			runBuffered(t, b)
			return b
		})
	})
	t.Run("the node refuses keys of two slots", func(t *testing.T) {
		t.Parallel()
		c := <-nodes
		err := c.Eval(t.Context(), "return redis.call('EXISTS', KEYS[1], KEYS[2])", []string{callKey("a"), callKey("b")}).Err()
		if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
			t.Errorf("a script on two calls' keys: got %v, want a CROSSSLOT error", err)
		}
	})
}

// startClusterRedis starts n one-node Redis Clusters on free ports and returns a cluster
// client of each; they end with the test. testenv starts standalone servers only, hence
// this helper. A node serves only a while after it starts and after it gets its slots
// (Redis' writable and rejoin delays), so every node gets its slots before any is waited
// for.
func startClusterRedis(t *testing.T, n int) []*redis.ClusterClient {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server not found on PATH: install the Debian package redis-server (apt-get install redis-server)")
	}
	nodes := make([]*clusterNode, n)
	for i := range nodes {
		nodes[i] = startClusterNode(t, bin)
	}
	for i := range nodes {
		for attempt := 1; ; attempt++ {
			err := nodes[i].until(func(c *redis.Client) bool {
				return c.Do(context.Background(), "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err() == nil
			})
			if err == nil {
				break
			}
			log, _ := os.ReadFile(nodes[i].logFile)
			// Another process took the port between FreePort and the bind: try another.
			if attempt < 3 && strings.Contains(string(log), "Address already in use") {
				nodes[i] = startClusterNode(t, bin)
				continue
			}
			t.Fatalf("cluster redis-server on %s: %v\n%s", nodes[i].addr, err, log)
		}
	}
	clients := make([]*redis.ClusterClient, n)
	for i, node := range nodes {
		err := node.until(func(c *redis.Client) bool {
			info, err := c.ClusterInfo(context.Background()).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok")
		})
		if err != nil {
			log, _ := os.ReadFile(node.logFile)
			t.Fatalf("cluster redis-server on %s: %v\n%s", node.addr, err, log)
		}
		clients[i] = redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{node.addr}, MaxRetries: -1,
			DialTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
		t.Cleanup(func() { _ = clients[i].Close() })
	}
	return clients
}

// clusterNode is a redis-server in cluster mode, killed when the test ends.
type clusterNode struct {
	addr    string
	logFile string
	exited  chan error // Wait's result; the cleanup reads it, so until puts it back
}

func startClusterNode(t *testing.T, bin string) *clusterNode {
	t.Helper()
	dir := t.TempDir()
	p := strconv.Itoa(testenv.FreePort(t, "tcp"))
	n := &clusterNode{addr: "127.0.0.1:" + p, logFile: filepath.Join(dir, "redis.log"), exited: make(chan error, 1)}
	// A short node timeout shortens the rejoin delay, the wait between getting the slots
	// and serving them, from 5 s to 0.5 s.
	cmd := exec.Command(bin, "--port", p, "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no",
		"--logfile", n.logFile, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
		"--cluster-node-timeout", "500")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	go func() { n.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-n.exited
	})
	return n
}

// until polls cond with a client of the node until it holds, the node exits, or testenv.WaitFor
// passes.
func (n *clusterNode) until(cond func(c *redis.Client) bool) error {
	c := redis.NewClient(&redis.Options{Addr: n.addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	deadline := time.NewTimer(testenv.WaitFor)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond(c) {
		select {
		case err := <-n.exited:
			n.exited <- err
			return fmt.Errorf("redis-server exited: %v", err)
		case <-deadline.C:
			return errors.New("not ready in time")
		case <-tick.C:
		}
	}
	return nil
}
