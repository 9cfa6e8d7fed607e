package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// startRedis starts a throwaway redis-server on a free port, persisting nothing, and returns
// it with its address once it answers PING.
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
			return c, addr, nil
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

// redisScripts reads the Lua scripts redis-server at addr has run since it started (EVAL
// and EVALSHA, from INFO commandstats) and the microseconds it spent in them, including
// the commands they ran.
func redisScripts(addr string) (calls, usec int64, err error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("INFO commandstats\r\n")); err != nil {
		return 0, 0, err
	}
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n')
	if err != nil {
		return 0, 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(head, "$")))
	if !strings.HasPrefix(head, "$") || err != nil {
		return 0, 0, fmt.Errorf("INFO commandstats: answered %q", head)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, 0, err
	}
	calls, usec = parseScriptStats(string(body))
	return calls, usec, nil
}

// parseScriptStats sums the calls and usec of the cmdstat_eval and cmdstat_evalsha lines
// of INFO commandstats ("cmdstat_evalsha:calls=12,usec=340,usec_per_call=28.33,...").
func parseScriptStats(info string) (calls, usec int64) {
	for line := range strings.Lines(info) {
		name, fields, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (name != "cmdstat_eval" && name != "cmdstat_evalsha") {
			continue
		}
		for f := range strings.SplitSeq(fields, ",") {
			k, v, _ := strings.Cut(f, "=")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "calls":
				calls += n
			case "usec":
				usec += n
			}
		}
	}
	return calls, usec
}
