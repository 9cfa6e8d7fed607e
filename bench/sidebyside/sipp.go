package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ccplane/telephony/internal/wait"
)

// SIPp settings shared by the provider and SIPp's caller.
const (
	// sippBuffer is -buff_size: the default 64 KB socket buffers drop datagrams at a few
	// thousand calls per second (shared/sipp-examples field notes). The kernel caps it at
	// net.core.rmem_max, which the machine summary shows.
	sippBuffer = "4194304"
	// sippLogLimit caps each error log, which an overloaded step fills fast.
	sippLogLimit = "1048576"
	// uasCallLimit is the provider's -l: it must never be what limits a step.
	uasCallLimit = 200000
	// uacTimewait is the caller scenario's final <timewait>: part of every SIPp call's
	// lifetime, but not of telephonyd's.
	uacTimewait = 2 * time.Second
)

// sippPorts are the ports one SIPp binds. Left to itself, every SIPp starts from the same
// media (6000) and control (8888) ports, so two started together (the live phase's two
// providers) race for them, and the loser exits after its SIP port is already up.
type sippPorts struct {
	sip     int // -p, on 127.0.0.1
	control int // -cp, on 0.0.0.0; bound last
	media   int // -mp: RTP echo on media and media+2, which our scenarios never use
}

// freeSIPpPorts picks ports that are free now; SIPp exits with 254 if one is taken by then.
func freeSIPpPorts() (sippPorts, error) {
	var p [3]int
	for i := range p {
		var err error
		if p[i], err = freePort(); err != nil {
			return sippPorts{}, err
		}
	}
	return sippPorts{sip: p[0], control: p[1], media: p[2]}, nil
}

// sippArgs are the options every SIPp run here takes: UDP on loopback, no keyboard, big
// socket buffers, statistics every second in statsFile and errors in errFile.
func sippArgs(scenario string, ports sippPorts, statsFile, errFile string) []string {
	return []string{
		"-sf", scenario, "-i", "127.0.0.1", "-t", "u1", "-p", strconv.Itoa(ports.sip),
		"-cp", strconv.Itoa(ports.control), "-mp", strconv.Itoa(ports.media),
		// Without -nostdin SIPp polls stdin for keyboard commands; -bg would detach it and
		// lose its exit status.
		"-nostdin",
		"-buff_size", sippBuffer,
		"-trace_stat", "-stf", statsFile, "-fd", "1",
		"-trace_err", "-error_file", errFile, "-max_log_size", sippLogLimit,
		// An overloaded step may starve SIPp's watchdog; by default ten trips end SIPp,
		// and the provider must outlive every step.
		"-watchdog_major_maxtriggers", "1000000", "-watchdog_minor_maxtriggers", "1000000",
	}
}

// uas is the SIPp provider both callers call: bench/sipp/uas.xml, holding each answered
// call for its hold, then hanging up.
type uas struct {
	proc  *child
	port  int
	stats string // its -trace_stat file
}

// startUAS starts the provider on a free port and returns once it is bound.
func startUAS(ctx context.Context, cs *children, root, name string, hold time.Duration) (*uas, error) {
	for attempt := 1; ; attempt++ {
		ports, err := freeSIPpPorts()
		if err != nil {
			return nil, err
		}
		u := &uas{port: ports.sip, stats: filepath.Join(cs.dir, name+".csv")}
		args := sippArgs(filepath.Join(root, "bench", "sipp", "uas.xml"), ports, u.stats, filepath.Join(cs.dir, name+"_errors.log"))
		// -default_behaviors without abortunexp: the ACK a caller sends again for each 200
		// the provider resent (RFC 3261 13.2.2.4: late when the machine is starved) arrives
		// during the hold, where SIPp would otherwise abort the call and never send its BYE.
		args = append(args, "-d", strconv.FormatInt(hold.Milliseconds(), 10), "-l", strconv.Itoa(uasCallLimit),
			"-default_behaviors", "all,-abortunexp")
		if u.proc, err = cs.start(name, "", "sipp", args...); err != nil {
			return nil, err
		}
		// Its control port is the last it binds: once that is, SIPp stays.
		err = u.proc.waitReady(ctx, 10*time.Second, func() bool { return udpBound(ports.sip) && udpBound(ports.control) })
		if err == nil {
			return u, nil
		}
		u.proc.stop(time.Second)
		// 254 is SIPp's "cannot bind": someone took a port first.
		if errors.Is(err, errExited) && u.proc.exitCode() == 254 && attempt < 3 {
			continue
		}
		return nil, fmt.Errorf("SIPp provider: %w\n%s", err, u.proc.errTail(10))
	}
}

// addr is where the provider receives INVITEs.
func (u *uas) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(u.port)) }

// idle waits until the provider has no call left in a statistics row written after since
// (so calls that a step left behind, in their timewait or timing out, are gone before the
// next step), and returns that row. SIPp writes a row a second.
func (u *uas) idle(ctx context.Context, since time.Time, limit time.Duration) (sippRow, error) {
	deadline := time.Now().Add(limit)
	var last sippRow
	for {
		if u.proc.exited() {
			return last, fmt.Errorf("the SIPp provider exited (status %d)", u.proc.exitCode())
		}
		data, err := os.ReadFile(u.stats)
		if err == nil {
			if rows, err := parseSIPpStats(string(data)); err == nil && len(rows) > 0 {
				last = rows[len(rows)-1]
				if last.Time >= unixSeconds(since) && last.Current == 0 {
					return last, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return last, fmt.Errorf("the SIPp provider still has %d calls after %v", last.Current, limit)
		}
		if err := wait.Sleep(ctx, 200*time.Millisecond); err != nil {
			return last, err
		}
	}
}

// current is the provider's number of live calls in its latest statistics row.
func (u *uas) current() int {
	data, err := os.ReadFile(u.stats)
	if err != nil {
		return -1
	}
	rows, err := parseSIPpStats(string(data))
	if err != nil || len(rows) == 0 {
		return -1
	}
	return rows[len(rows)-1].Current
}

func (u *uas) cpuSeconds() float64 { return u.proc.cpuSeconds() }

// udpBound reports whether something holds 127.0.0.1:port for UDP: binding is the only
// check that works for UDP.
func udpBound(port int) bool {
	c, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err == nil {
		c.Close()
	}
	return err != nil
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
