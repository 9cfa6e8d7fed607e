package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// procDir is "self" for this process, else the process id.
func procDir(pid int) string {
	if pid == 0 {
		return "/proc/self"
	}
	return "/proc/" + strconv.Itoa(pid)
}

// procCPU returns the user plus system CPU time process pid (0 = this one) has used, from
// /proc/PID/stat. Linux counts it in clock ticks, so it moves in steps of 1/clockTicks s.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(procDir(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	ticks, err := parseStatCPU(b)
	if err != nil {
		return 0, fmt.Errorf("%s/stat: %w", procDir(pid), err)
	}
	return time.Duration(ticks * int64(time.Second) / clockTicks()), nil
}

// parseStatCPU returns utime + stime (fields 14 and 15) of a /proc/PID/stat line.
func parseStatCPU(b []byte) (int64, error) {
	// Field 2, the command name, is in parentheses and may itself hold spaces and ')':
	// count from the last ')', after which field 3 comes.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("too few fields")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return utime + stime, nil
}

// procMemory returns the peak (VmHWM) and current (VmRSS) resident set size of process pid
// in bytes, from /proc/PID/status.
func procMemory(pid int) (peak, rss int64, err error) {
	b, err := os.ReadFile(procDir(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	peak, rss, err = parseStatusRSS(b)
	if err != nil {
		return 0, 0, fmt.Errorf("%s/status: %w", procDir(pid), err)
	}
	return peak, rss, nil
}

// parseStatusRSS reads the "VmHWM:  1234 kB" and "VmRSS:" lines of /proc/PID/status.
func parseStatusRSS(b []byte) (peak, rss int64, err error) {
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmHWM" && name != "VmRSS") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(value), "kB")), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", name, err)
		}
		if name == "VmHWM" {
			peak = kb << 10
		} else {
			rss = kb << 10
		}
		found++
	}
	if found != 2 {
		return 0, 0, errors.New("no VmHWM and VmRSS (a kernel thread, or not Linux)")
	}
	return peak, rss, nil
}

// clockTicks returns the unit of /proc/PID/stat's CPU times per second (USER_HZ, what
// getconf CLK_TCK prints), from this process's auxiliary vector (AT_CLKTCK); 100, its value
// on every mainstream Linux build, if that cannot be read.
func clockTicks() int64 {
	const atClkTck = 17
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 100
	}
	// Pairs of native words: type, value.
	word := strconv.IntSize / 8
	read := func(b []byte) uint64 {
		if word == 8 {
			return binary.NativeEndian.Uint64(b)
		}
		return uint64(binary.NativeEndian.Uint32(b))
	}
	for i := 0; i+2*word <= len(b); i += 2 * word {
		if read(b[i:]) == atClkTck {
			if v := read(b[i+word:]); v > 0 {
				return int64(v)
			}
		}
	}
	return 100
}

// cpuMark is the CPU time used so far by the service (with --service-pid) and by this
// process; tool is negative where /proc/self/stat cannot be read.
type cpuMark struct {
	service, tool time.Duration
}

// markCPU reads the CPU time of the service process pid (0 = none) and of this process.
// It fails only if pid is given and cannot be read.
func markCPU(pid int) (cpuMark, error) {
	m := cpuMark{tool: -1}
	if d, err := procCPU(0); err == nil {
		m.tool = d
	}
	if pid > 0 {
		d, err := procCPU(pid)
		if err != nil {
			return m, fmt.Errorf("--service-pid %d: %w", pid, err)
		}
		m.service = d
	}
	return m, nil
}

// addUsage fills in the CPU time the service and this process used since start, and the
// service's memory; what cannot be read at the end becomes a warning.
func (r *loadReport) addUsage(start cpuMark, pid int) {
	end, err := markCPU(pid)
	if err == nil && pid > 0 {
		var peak, rss int64
		peak, rss, err = procMemory(pid)
		r.Service = &serviceUsage{PID: pid, CPUSeconds: (end.service - start.service).Seconds(), PeakRSSBytes: peak, RSSBytes: rss}
	}
	if err != nil {
		r.Service = nil
		r.Warnings = append(r.Warnings, fmt.Sprintf("no service figures: %v", err))
	}
	if start.tool >= 0 && end.tool >= 0 {
		s := (end.tool - start.tool).Seconds()
		r.ToolCPUSeconds = &s
	}
}
