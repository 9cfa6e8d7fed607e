package testenv

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterNodeTimeout is the nodes' cluster-node-timeout: how long a silent node takes to
// be suspected. Well above any stall of a loaded test machine, so that no node of a test
// is taken for failed (with no replicas, the cluster would then refuse every command).
const clusterNodeTimeout = 2 * time.Second

// clusterJoinTimeout bounds redis-cli's creation of a cluster: it waits for the nodes to
// agree on the configuration, polling every second.
const clusterJoinTimeout = 30 * time.Second

// StartRedisCluster starts a Redis Cluster of nodes masters without replicas: redis-server
// processes in cluster mode on free 127.0.0.1 ports, each in its own t.TempDir(), given
// the 16384 slots in equal ranges by `redis-cli --cluster create`. It returns their
// "127.0.0.1:PORT" addresses once every node reports cluster_state:ok, and stops them in
// t.Cleanup. It fails the test for fewer than 3 nodes (the fewest redis-cli accepts), if
// redis-server or redis-cli is missing, or if the cluster does not form.
func StartRedisCluster(t testing.TB, nodes int) []string {
	t.Helper()
	if nodes < 3 {
		t.Fatalf("StartRedisCluster(%d): a cluster needs at least 3 masters", nodes)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal(notInstalled("redis-cli", "redis-tools"))
	}
	addrs := make([]string, nodes)
	for i := range addrs {
		addrs[i] = StartRedisServer(t, RedisOptions{Cluster: true}).Addr()
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterJoinTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	out, err := exec.CommandContext(ctx, cli, append(args, "--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create %s: %v\n%s", strings.Join(addrs, " "), err, out)
	}
	for _, addr := range addrs {
		if err := waitClusterOK(addr, nodes); err != nil {
			t.Fatalf("cluster node %s: %v", addr, err)
		}
	}
	return addrs
}

// waitClusterOK waits until the node at addr serves its slots and knows all nodes of the
// cluster. redis-cli returns once the configuration is agreed, but a node turns ok only
// after its own checks (and a writable delay after it started).
func waitClusterOK(addr string, nodes int) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, DisableIdentity: true})
	defer c.Close()
	known := "cluster_known_nodes:" + strconv.Itoa(nodes) + "\r\n"
	deadline := time.Now().Add(readyTimeout)
	var info string
	for {
		var err error
		info, err = c.ClusterInfo(context.Background()).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, known) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ok after %v: %v\n%s", readyTimeout, err, info)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
