package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/ccplane/telephony/client"
)

// loadOptions are the flags of the load command.
type loadOptions struct {
	gateway     string
	toPrefix    string
	toSuffix    string
	cps         float64
	concurrency int
	count       int
	duration    time.Duration
	hold        time.Duration
	ramp        time.Duration
	servicePID  int
	timeoutCall time.Duration
	watchAddr   string // "" = watch through --addr
}

func loadFlagSet() (*flag.FlagSet, *loadOptions) {
	o := &loadOptions{}
	fs := newFlagSet("load")
	fs.StringVar(&o.gateway, "gateway", "", "dial through gateway `NAME` (required)")
	fs.StringVar(&o.toPrefix, "to-prefix", "1555", "dial numbers starting with `DIGITS`, then a zero-padded call counter")
	fs.StringVar(&o.toSuffix, "to-suffix", "", "end every number with `DIGITS`, after the counter (the demo gateway answers numbers ending in 200)")
	fs.Float64Var(&o.cps, "cps", 0, "start `R` calls per second, evenly spaced")
	fs.IntVar(&o.concurrency, "concurrency", 0, "keep `N` calls in flight (placed and not yet ended)")
	fs.IntVar(&o.count, "count", 100, "start at most `N` calls")
	fs.DurationVar(&o.duration, "duration", time.Minute, "start calls for at most `DURATION`")
	fs.DurationVar(&o.hold, "hold", 0, "hang an answered call up after `DURATION` (0 = wait for the far side to end it)")
	fs.DurationVar(&o.ramp, "ramp", 0, "with --cps, rise linearly from 0 to R calls per second over `DURATION`")
	fs.IntVar(&o.servicePID, "service-pid", 0, "report the CPU time and memory of the service's process `PID` (Linux /proc)")
	fs.DurationVar(&o.timeoutCall, "timeout-call", 2*time.Minute, "hang up and count as stuck a call not ended `DURATION` after its PlaceCall")
	fs.StringVar(&o.watchAddr, "watch-addr", "", "watch the calls through the instance at `HOST:PORT` (loopback; same token and TLS flags) instead of --addr, which still places and hangs them up")
	return fs, o
}

// maxDigits is the longest number PlaceCall accepts.
const maxDigits = 20

// parseLoad parses the load command line; every error is a usageError or helpError.
func parseLoad(args []string) (*loadOptions, error) {
	fs, o := loadFlagSet()
	pos, err := parseFlags(fs, "load", args)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	bad := func(format string, args ...any) error {
		return usageError{command: "load", msg: "load: " + fmt.Sprintf(format, args...)}
	}
	digits := len(o.toPrefix) + len(strconv.Itoa(o.count)) + len(o.toSuffix)
	switch {
	case len(pos) > 0:
		return nil, bad("unexpected argument %q", pos[0])
	case o.gateway == "":
		return nil, bad("--gateway is required")
	case set["cps"] == set["concurrency"]:
		return nil, bad("give one of --cps and --concurrency")
	case set["cps"] && !(o.cps > 0 && !math.IsInf(o.cps, 1)):
		return nil, bad("--cps must be a number more than 0")
	case set["concurrency"] && o.concurrency < 1:
		return nil, bad("--concurrency must be at least 1")
	case o.count < 1:
		return nil, bad("--count must be at least 1")
	case o.duration <= 0:
		return nil, bad("--duration must be positive")
	case o.hold < 0:
		return nil, bad("--hold must not be negative")
	case o.ramp < 0:
		return nil, bad("--ramp must not be negative")
	case o.ramp > 0 && !set["cps"]:
		return nil, bad("--ramp needs --cps")
	case o.timeoutCall <= 0:
		return nil, bad("--timeout-call must be positive")
	case o.hold >= o.timeoutCall:
		return nil, bad("--hold must be shorter than --timeout-call")
	case set["watch-addr"] && o.watchAddr == "":
		return nil, bad("--watch-addr is empty")
	case set["service-pid"] && o.servicePID < 1:
		return nil, bad("--service-pid must be a process id")
	case !isDigits(o.toPrefix) || !isDigits(o.toSuffix):
		return nil, bad("--to-prefix and --to-suffix must be digits only")
	case digits > maxDigits:
		return nil, bad("numbers would have %d digits (prefix, %d-digit counter, suffix); at most %d are allowed",
			digits, len(strconv.Itoa(o.count)), maxDigits)
	}
	return o, nil
}

// isDigits reports whether s holds only ASCII digits (or nothing).
func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func runLoad(ctx context.Context, a *app, args []string) error {
	o, err := parseLoad(args)
	if err != nil {
		return err
	}
	watchAddr := cmp.Or(o.watchAddr, a.global.addr)
	for _, addr := range []struct{ flag, value string }{{"--addr", a.global.addr}, {"--watch-addr", watchAddr}} {
		if !client.IsLoopback(addr.value) {
			// A load run places real calls through real gateways: keep it to a service on
			// this machine, where it is meant to measure that service.
			return usageError{command: "load", msg: fmt.Sprintf(
				"load: refusing %s %s: load places real calls, so it only runs against a service on this machine (a loopback address or localhost)",
				addr.flag, addr.value)}
		}
	}
	c, err := a.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	w := c
	if o.watchAddr != "" {
		if w, err = a.connectTo(o.watchAddr); err != nil {
			return err
		}
		defer w.Close()
	}
	cpu, err := markCPU(o.servicePID)
	if err != nil {
		return err
	}
	rep := runLoadCalls(ctx, a, c, w, o).report(o)
	rep.WatchAddr = watchAddr
	rep.addUsage(cpu, o.servicePID)
	if err := a.printLoadReport(rep); err != nil {
		return err
	}
	switch {
	case rep.Interrupted:
		return errInterrupted
	case rep.Successful < rep.Attempted:
		return fmt.Errorf("load: %d of %d calls failed", rep.Attempted-rep.Successful, rep.Attempted)
	}
	return nil
}

// connectTo dials addr with the global flags' token, TLS settings and timeout; the caller
// closes the client.
func (a *app) connectTo(addr string) (*client.Client, error) {
	b := *a
	b.global.addr = addr
	return b.connect()
}
