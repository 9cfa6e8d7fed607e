package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// startRedis starts a throwaway redis-server on a free port, persisting nothing, and returns
// it with its URL once it answers PING.
func startRedis(ctx context.Context, cs *children) (*child, string, error) {
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, "", err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		c, err := cs.start("redis", "", "redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", cs.dir, "--logfile", filepath.Join(cs.dir, "redis.log"))
		if err != nil {
			return nil, "", err
		}
		err = c.waitReady(ctx, 10*time.Second, func() bool { return redisPing(addr) })
		if err == nil {
			return c, "redis://" + addr + "/0", nil
		}
		c.stop(time.Second)
		if attempt < 3 && strings.Contains(readFile(filepath.Join(cs.dir, "redis.log")), "Address already in use") {
			continue
		}
		return nil, "", fmt.Errorf("redis-server: %w\n%s", err, tail(filepath.Join(cs.dir, "redis.log"), 10))
	}
}

func redisPing(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}
