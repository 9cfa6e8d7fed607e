package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// machine describes where the figures were taken, so that they are quoted with it.
type machine struct {
	Date        string  `json:"date"`
	CPUs        int     `json:"cpus"`
	CPUModel    string  `json:"cpu_model"`
	MemTotalGiB float64 `json:"mem_total_gib"`
	Kernel      string  `json:"kernel"`
	Go          string  `json:"go"`
	SIPp        string  `json:"sipp"`
	Redis       string  `json:"redis"`
	Commit      string  `json:"commit"`
	// UDPBufferMax is net.core.rmem_max: the most a socket may ask for (SIPp asks 4 MiB).
	UDPBufferMax int64   `json:"udp_rmem_max_bytes"`
	Load1Before  float64 `json:"load1_before"`
	Load1After   float64 `json:"load1_after"`
}

func describeMachine() machine {
	m := machine{
		Date:     time.Now().UTC().Format(time.RFC3339),
		CPUs:     runtime.NumCPU(),
		CPUModel: cpuModel(),
		Go:       runtime.Version(),
		Kernel:   strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")),
		SIPp:     strings.TrimSuffix(firstLine(output("sipp", "-v")), "."),
		Redis:    redisVersion(output("redis-server", "--version")),
	}
	m.MemTotalGiB = float64(meminfoKiB("MemTotal")) / (1 << 20)
	m.UDPBufferMax, _ = strconv.ParseInt(strings.TrimSpace(readFile("/proc/sys/net/core/rmem_max")), 10, 64)
	m.Commit = firstLine(output("git", "rev-parse", "--short", "HEAD"))
	if m.Commit != "" && strings.TrimSpace(output("git", "status", "--porcelain", "--untracked-files=no")) != "" {
		m.Commit += " (with uncommitted changes)"
	}
	m.Load1Before = load1()
	return m
}

func (m machine) String() string {
	return fmt.Sprintf("%d × %s, %.1f GiB, Linux %s, %s, %s, %s, commit %s",
		m.CPUs, m.CPUModel, m.MemTotalGiB, m.Kernel, m.Go, m.SIPp, m.Redis, m.Commit)
}

func cpuModel() string {
	for line := range strings.Lines(readFile("/proc/cpuinfo")) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func meminfoKiB(key string) int64 {
	sc := bufio.NewScanner(strings.NewReader(readFile("/proc/meminfo")))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == key+":" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// load1 is the 1-minute load average: how busy the machine was apart from us.
func load1() float64 {
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// procCPUSeconds is a running process's CPU time, user and system, from /proc/PID/stat.
func procCPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseProcStatCPU(string(b))
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on every Linux ABI Go runs on.
const clockTicks = 100

// parseProcStatCPU reads utime and stime (fields 14 and 15) from a /proc/PID/stat line. The
// command name (field 2) may hold spaces and parentheses, so fields count from its last ")".
func parseProcStatCPU(stat string) (float64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc stat %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state), so utime (14) is f[11] and stime (15) is f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed /proc stat %q", stat)
	}
	u, err1 := strconv.ParseFloat(f[11], 64)
	s, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed /proc stat %q", stat)
	}
	return (u + s) / clockTicks, nil
}

// freePort returns a 127.0.0.1 port free for UDP and TCP both when it was checked (the
// service's SIP port takes both); the caller retries with another if it is taken meanwhile.
func freePort() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		l.Close()
		if err == nil {
			u.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("no port free for both UDP and TCP")
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func output(bin string, args ...string) string {
	b, _ := exec.Command(bin, args...).CombinedOutput()
	return string(bytes.TrimSpace(b))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(line)
}

// execOutput runs bin and returns its combined output and error.
func execOutput(bin string, args ...string) (string, error) {
	b, err := exec.Command(bin, args...).CombinedOutput()
	return string(b), err
}

// redisVersion shortens "Redis server v=7.0.15 sha=… malloc=… bits=64 build=…".
func redisVersion(s string) string {
	s = firstLine(s)
	if i := strings.Index(s, " sha="); i > 0 {
		return s[:i]
	}
	return s
}
