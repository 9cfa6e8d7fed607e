package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// settings are the command line.
type settings struct {
	Quick    bool
	JSON     bool
	Keep     bool
	Repeat   int
	Phases   string
	StartCPS int
	MaxCPS   int
	Factor   float64
	Bisect   int
	Step     time.Duration
	Hold     time.Duration
	Pace     float64
	MaxLag   time.Duration
	ToPrefix string
	// LiveCalls answered calls are held open at once, placed at LiveCPS, each held LiveHold
	// by the provider (0: long enough for all of them to be up at once).
	LiveCalls int
	LiveCPS   int
	LiveHold  time.Duration
	// IdleWait is how long the live calls are left idle once all are up before the peak is
	// sampled: past 64·T1 (32 s), the engine has released each call's INVITE transaction, so
	// the sample is what an idle answered call costs.
	IdleWait time.Duration
	// WarmWait is how long the warm-up calls are left to be forgotten before the warm
	// baseline.
	WarmWait time.Duration
	// Settle bounds the wait, after the live calls ended and event_retention passed, for
	// heap and goroutines to come back near the baseline.
	Settle time.Duration
}

func parseFlags(args []string, stderr io.Writer) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("bench/run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&s.Quick, "quick", false, "a 2 minute smoke run: shorter steps, a coarser search, 2,000 live calls, a shorter -warm-wait (flags given explicitly still win)")
	fs.BoolVar(&s.JSON, "json", false, "print the results as one JSON document on stdout (the summary goes to stderr)")
	fs.BoolVar(&s.Keep, "keep", false, "keep the working directory (configurations, logs, SIPp statistics) even when all went well")
	fs.IntVar(&s.Repeat, "repeat", 1, "run both CPS searches this many times, alternating, and report min/median/max")
	fs.StringVar(&s.Phases, "phases", "sipp,telephonyd,live", "which measurements to run: any of sipp, telephonyd, live")
	fs.IntVar(&s.StartCPS, "start-cps", 50, "first rate of each search, calls per second")
	fs.IntVar(&s.MaxCPS, "max-cps", 50000, "highest rate a search tries")
	fs.Float64Var(&s.Factor, "factor", 2, "multiply the rate by this while steps are clean (divide while they fail)")
	fs.IntVar(&s.Bisect, "bisect", 4, "then bisect this many times between the highest clean and the lowest failing rate")
	fs.DurationVar(&s.Step, "step", 5*time.Second, "each step places rate × this many calls")
	fs.DurationVar(&s.Hold, "hold", time.Second, "the provider holds each answered call this long before its BYE (CPS steps)")
	fs.Float64Var(&s.Pace, "pace", 0.95, "a clean step placed its calls at least at this share of the target rate")
	fs.DurationVar(&s.MaxLag, "max-lag", time.Second, "a clean step's last call ended at most this much later than if every call were instant")
	fs.StringVar(&s.ToPrefix, "to-prefix", "", "callctl load --to-prefix (default: the tool's own)")
	fs.IntVar(&s.LiveCalls, "live-calls", 10000, "answered calls held open at once for the memory measurement")
	fs.IntVar(&s.LiveCPS, "live-cps", 500, "rate at which the live calls are placed")
	fs.DurationVar(&s.LiveHold, "live-hold", 0, "how long the provider holds each live call (0: 1.5 × the time to place them + -idle-wait + 10 s)")
	fs.DurationVar(&s.IdleWait, "idle-wait", 35*time.Second, "once every live call is up, wait this long before sampling them (the engine keeps each INVITE transaction 32 s after the answer)")
	fs.DurationVar(&s.WarmWait, "warm-wait", 35*time.Second, "after the warm-up calls, wait this long before the warm baseline (their event logs go after event_retention, sipgo's transactions after 32 s)")
	fs.DurationVar(&s.Settle, "settle", time.Minute, "after the live calls ended and event_retention passed, wait at most this long for heap and goroutines to come back (sipgo keeps transactions 32 s)")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if s.Quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quick := map[string]func(){
			"start-cps":  func() { s.StartCPS = 200 },
			"factor":     func() { s.Factor = 4 },
			"bisect":     func() { s.Bisect = 1 },
			"step":       func() { s.Step = 2 * time.Second },
			"live-calls": func() { s.LiveCalls = 2000 },
			"max-cps":    func() { s.MaxCPS = 40000 },
			"settle":     func() { s.Settle = 40 * time.Second },
			"warm-wait":  func() { s.WarmWait = 12 * time.Second },
		}
		for name, apply := range quick {
			if !set[name] {
				apply()
			}
		}
	}
	if s.LiveHold == 0 {
		s.LiveHold = time.Duration(1.5*float64(s.LiveCalls)/float64(max(s.LiveCPS, 1))*float64(time.Second)) + s.IdleWait + 10*time.Second
	}
	var errs []error
	for _, p := range strings.Split(s.Phases, ",") {
		if p != "sipp" && p != "telephonyd" && p != "live" {
			errs = append(errs, fmt.Errorf("-phases: unknown phase %q (want sipp, telephonyd, live)", p))
		}
	}
	if s.Repeat < 1 || s.StartCPS < 1 || s.MaxCPS < s.StartCPS || s.Factor <= 1 || s.Bisect < 0 ||
		s.Step <= 0 || s.Hold <= 0 || s.LiveCalls < 1 || s.LiveCPS < 1 || s.Pace <= 0 || s.MaxLag < 0 || s.Settle < 0 || s.WarmWait < 0 {
		errs = append(errs, errors.New("want -repeat ≥ 1, 1 ≤ -start-cps ≤ -max-cps, -factor > 1, -bisect ≥ 0, "+
			"-step, -hold, -pace > 0, -max-lag, -settle, -warm-wait ≥ 0, -live-calls and -live-cps ≥ 1"))
	}
	return s, errors.Join(errs...)
}

func (s settings) phase(name string) bool {
	for _, p := range strings.Split(s.Phases, ",") {
		if p == name {
			return true
		}
	}
	return false
}

// bench is one run: its settings, the processes it owns, and what all phases share.
type bench struct {
	set        settings
	crit       criteria
	root       string
	cs         *children
	stderr     io.Writer
	telephonyd string // built binaries
	callctl    string
	redis      *child
	redisAddr  string // host:port
	steps      int    // steps run so far, to name their files
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func main() {
	set, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/run:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, set, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench/run:", err)
		if ctx.Err() != nil {
			os.Exit(130)
		}
		os.Exit(1)
	}
}

// run measures, stopping every process it started before it returns.
func run(ctx context.Context, set settings, stdout, stderr io.Writer) (err error) {
	keep := false // the heap profiles are the evidence of growth
	root, err := repoRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "sidebyside-")
	if err != nil {
		return err
	}
	b := &bench{set: set, crit: criteria{Pace: set.Pace, MaxLag: set.MaxLag}, root: root,
		cs: &children{dir: dir}, stderr: stderr}
	defer func() {
		b.cs.stopAll()
		if err != nil || set.Keep || keep {
			fmt.Fprintf(stderr, "logs, configurations and SIPp statistics are in %s\n", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()

	res := &results{Machine: describeMachine()}
	b.logf("machine: %s; 1-minute load average %.2f", res.Machine, res.Machine.Load1Before)
	b.logf("SIPp's caller and provider share these %d CPUs, as callctl, telephonyd, redis-server and the provider do",
		res.Machine.CPUs)
	merr := b.measure(ctx, res)
	res.Machine.Load1After = load1()
	res.finish(set)
	if merr != nil {
		if len(res.SIPp)+len(res.Service) > 0 && ctx.Err() == nil {
			fmt.Fprintln(stderr, "\nwhat was measured before the error:")
			res.printSummary(stderr, stderr, false)
		}
		return merr
	}
	keep = res.Live != nil && !(res.Live.AfterEnd.Back && res.Live.AfterSecondWave.Back)
	res.printSummary(stderr, stdout, set.JSON)
	if set.JSON {
		return res.writeJSON(stdout)
	}
	return nil
}

// measure runs the phases in set.Phases into res.
func (b *bench) measure(ctx context.Context, res *results) error {
	set := b.set
	withService := set.phase("telephonyd") || set.phase("live")
	if withService {
		var err error
		b.logf("building telephonyd and callctl")
		if b.telephonyd, b.callctl, err = buildBinaries(ctx, b.root, b.cs.dir); err != nil {
			return err
		}
		if out, err := execOutput(b.callctl, "help", "load"); err != nil {
			return fmt.Errorf("this callctl has no load command yet (callctl help load: %v)\n%s", err, out)
		}
		if b.redis, b.redisAddr, err = startRedis(ctx, b.cs); err != nil {
			return err
		}
	}
	if set.phase("sipp") || set.phase("telephonyd") {
		if err := b.measureCPS(ctx, res); err != nil {
			return err
		}
	}
	if set.phase("live") {
		b.logf("live calls: %d answered calls held open at once", set.LiveCalls)
		live, err := b.runLive(ctx)
		if err != nil {
			return fmt.Errorf("live calls: %w", err)
		}
		res.Live = live
	}
	return nil
}

// measureCPS runs the searches, alternating SIPp's and telephonyd's, against one provider.
func (b *bench) measureCPS(ctx context.Context, res *results) error {
	set := b.set
	u, err := startUAS(ctx, b.cs, b.root, "sipp-uas", set.Hold)
	if err != nil {
		return err
	}
	defer u.proc.stop(5 * time.Second)
	var svc *service
	if set.phase("telephonyd") {
		if svc, err = startService(ctx, b.cs, b.telephonyd, "telephonyd", []gateway{{gatewayName, u.addr()}}, b.redisURL()); err != nil {
			return err
		}
		defer svc.stop()
	}
	cfg := searchConfig{Start: set.StartCPS, Max: set.MaxCPS, Factor: set.Factor, Bisect: set.Bisect}
	for i := range set.Repeat {
		if set.phase("sipp") {
			b.logf("SIPp's caller (search %d of %d)", i+1, set.Repeat)
			r, err := search(ctx, cfg, b.logged("sipp", func(ctx context.Context, rate int) (stepResult, error) {
				return b.runSIPpStep(ctx, u, rate)
			}))
			if err != nil {
				return fmt.Errorf("SIPp search: %w", err)
			}
			res.SIPp = append(res.SIPp, r)
		}
		if svc != nil {
			b.logf("telephonyd through callctl load (search %d of %d)", i+1, set.Repeat)
			r, err := search(ctx, cfg, b.logged("telephonyd", func(ctx context.Context, rate int) (stepResult, error) {
				return b.runServiceStep(ctx, svc, u, rate)
			}))
			if err != nil {
				return fmt.Errorf("telephonyd search: %w", err)
			}
			res.Service = append(res.Service, r)
		}
	}
	return nil
}

// logged prints each step of run as it ends.
func (b *bench) logged(who string, run probe) probe {
	return func(ctx context.Context, rate int) (stepResult, error) {
		s, err := run(ctx, rate)
		if err != nil {
			return s, err
		}
		verdict := "clean"
		if !s.Clean {
			verdict = "NOT clean: " + s.Why
		}
		// A clean step may still have queued: its latencies tell the rate an operator can plan for.
		var latency string
		var lr loadReport
		if len(s.Load) > 0 && json.Unmarshal(s.Load, &lr) == nil {
			latency = fmt.Sprintf(", PlaceCall p99 %.0f ms, delivery p99 %.1f ms", lr.PlaceLatencyMS.P99, lr.EventMS.P99)
		}
		b.logf("%-10s %6d cps × %-6d: %d ok, %d failed (provider %d), placed at %.0f cps, %.1f s (lag %+.2f s)%s → %s",
			who, s.Rate, s.Calls, s.Successful, s.Failed, s.ProviderFailed, s.AchievedCPS, s.WallSeconds, s.LagSeconds, latency, verdict)
		return s, nil
	}
}

// repoRoot is the working directory, which bench/run makes the repository's root.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return "", errors.New("no go.mod in the working directory: run bench/run, which starts from the repository's root")
	}
	return dir, nil
}

// redisURL is telephonyd's redis.url for the bench's redis-server.
func (b *bench) redisURL() string { return "redis://" + b.redisAddr + "/0" }
