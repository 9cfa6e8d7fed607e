package main

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc/status"

	"github.com/ccplane/telephony/client"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// Outcomes of a call that are not a termination cause; the others are client.CauseName's.
const (
	outcomeStuck       = "stuck"       // not ended within --timeout-call; hung up
	outcomeInterrupted = "interrupted" // hung up or abandoned because the user interrupted
)

// loadRun is one run of the load command: it starts calls and follows each to its end.
type loadRun struct {
	c     *client.Client // places and hangs up
	w     *client.Client // watches: c, or the --watch-addr instance
	o     *loadOptions
	width int // digits of the call counter in the dialled numbers
	stats *loadStats
	// stopping is cancelled by the first interrupt: no more starts, and live calls are hung
	// up. The run creates and cancels it.
	stopping context.Context
	calls    sync.WaitGroup
}

// runLoadCalls starts the calls o asks for through c, watches each through w until it has
// ended, and returns what happened. The first interrupt stops the starts and hangs up the live calls; a second
// abandons them at once.
func runLoadCalls(ctx context.Context, a *app, c, w *client.Client, o *loadOptions) *loadStats {
	ctx, abort := context.WithCancel(ctx)
	defer abort()
	stopping, stop := context.WithCancel(ctx)
	defer stop()
	r := &loadRun{c: c, w: w, o: o, width: len(strconv.Itoa(o.count)), stats: newLoadStats(), stopping: stopping}

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-a.interrupts:
		case <-done:
			return
		}
		r.stats.interrupted.Store(true)
		fmt.Fprintln(a.stderr, "callctl: interrupted: starting no more calls and hanging up the live ones; interrupt again to stop at once")
		stop()
		select {
		case <-a.interrupts:
			abort()
		case <-done:
		}
	})
	r.start(ctx)
	r.calls.Wait()
	r.stats.end = time.Now()
	close(done)
	wg.Wait()
	return r.stats
}

// start starts calls until --count, --duration or an interrupt says to stop; each runs on
// its own goroutine in r.calls.
func (r *loadRun) start(ctx context.Context) {
	origin := time.Now()
	r.stats.origin = origin
	end := time.NewTimer(r.o.duration)
	defer end.Stop()
	var slots chan struct{} // --concurrency: one token per call in flight
	if r.o.concurrency > 0 {
		slots = make(chan struct{}, r.o.concurrency)
	}
	p := newPacer(r.o.cps, r.o.ramp, origin)
	defer p.stop()
	next := func(n int) bool {
		if time.Since(origin) >= r.o.duration || r.stopping.Err() != nil {
			return false
		}
		if slots == nil {
			return p.wait(n-1, end.C, r.stopping.Done())
		}
		select {
		case slots <- struct{}{}:
			return true
		case <-end.C:
		case <-r.stopping.Done():
		}
		return false
	}
	for n := 1; n <= r.o.count && next(n); n++ {
		start := time.Now()
		r.stats.started(start)
		r.calls.Go(func() {
			r.call(ctx, n, start)
			if slots != nil {
				<-slots
			}
		})
	}
	r.stats.slip, r.stats.lateStarts, r.stats.maxLag = p.slip, p.late, p.maxLag
}

// number returns the number dialled by call n: prefix, zero-padded counter, suffix.
func (r *loadRun) number(n int) string {
	return fmt.Sprintf("%s%0*d%s", r.o.toPrefix, r.width, n, r.o.toSuffix)
}

// call places call n, started at start, follows it to its end and records how it went.
// ctx ends only when the user gives up on the run (second interrupt).
func (r *loadRun) call(ctx context.Context, n int, start time.Time) {
	callCtx, cancel := context.WithDeadline(ctx, start.Add(r.o.timeoutCall))
	defer cancel()
	call, err := r.c.PlaceCall(callCtx, &telephonyv1.PlaceCallRequest{Gateway: r.o.gateway, To: r.number(n)})
	if err != nil {
		outcome := "rpc:" + status.Code(err).String()
		if ctx.Err() != nil {
			outcome = outcomeInterrupted
		}
		r.stats.ended(outcome, false, false, time.Now())
		return
	}
	r.stats.place.record(time.Since(start))
	r.follow(ctx, callCtx, call.GetCallId(), start)
}

// follow watches a placed call until its ended event, hanging it up after --hold, on the
// first interrupt, or when callCtx's --timeout-call runs out, and records its outcome.
func (r *loadRun) follow(ctx, callCtx context.Context, id string, start time.Time) {
	h := hangOnce{done: make(chan struct{})}
	hang := func(why string) {
		h.do(why, func() { _, _ = r.c.HangUp(ctx, id) })
	}
	unInterrupt := context.AfterFunc(r.stopping, func() { hang(outcomeInterrupted) })
	var (
		answered bool
		hold     *time.Timer
		term     *telephonyv1.Termination
	)
	// Events stamped before the watch began are history, delayed by our PlaceCall round
	// trip rather than by the service's delivery: they are counted but not timed.
	watchFrom := time.Now()
	err := r.w.Watch(callCtx, id, 0, func(ev *telephonyv1.CallEvent) error {
		now := time.Now()
		r.stats.event(ev, now, watchFrom)
		switch {
		case !answered && isAnswer(ev):
			answered = true
			r.stats.setup.record(now.Sub(start))
			if r.o.hold > 0 {
				hold = time.AfterFunc(r.o.hold, func() { hang(whyHold) })
			}
		case ev.GetEnded() != nil:
			term = ev.GetEnded().GetTermination()
		}
		return nil
	})
	fired := !unInterrupt()
	if hold != nil && !hold.Stop() {
		fired = true
	}
	if fired {
		<-h.done // its HangUp has returned, and h.why is set
	}
	var outcome string
	switch {
	case err == nil:
		outcome = classify(answered, term.GetCause(), h.why)
	case ctx.Err() != nil:
		outcome = outcomeInterrupted
	case callCtx.Err() != nil || pastDeadline(callCtx):
		// The server's end of the stream has the same deadline, and may close it first.
		hang(outcomeStuck)
		outcome = outcomeStuck
	default:
		// The watch failed for good; the call may still be up, and must not outlive the run.
		hang(whyWatch)
		outcome = "watch:" + status.Code(err).String()
	}
	r.stats.ended(outcome, answered, err == nil, time.Now())
}

func pastDeadline(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// classify names the outcome of a call that ended: "" for a success (answered, then ended
// by the far side or by our --hold hang-up), else its termination cause, or
// outcomeInterrupted when our hang-up on interrupt ended it. why is what made us hang up,
// "" if we did not.
func classify(answered bool, cause telephonyv1.TerminationCause, why string) string {
	byUs := cause == telephonyv1.TerminationCause_TERMINATION_CAUSE_HANGUP_REQUESTED
	switch {
	case byUs && why == outcomeInterrupted:
		return outcomeInterrupted
	case answered && (cause == telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_HANGUP || byUs && why == whyHold):
		return ""
	}
	return client.CauseName(cause)
}

// isAnswer reports whether ev is a 2xx to the INVITE.
func isAnswer(ev *telephonyv1.CallEvent) bool {
	r := ev.GetResponse()
	return r != nil && r.GetCseqMethod() == "INVITE" && r.GetStatus().GetCode()/100 == 2
}

// Reasons for a hang-up besides outcomeStuck and outcomeInterrupted.
const (
	whyHold  = "hold"  // --hold ran out
	whyWatch = "watch" // the watch failed for good
)

// hangOnce ends one call at most once, whichever of the hold timer, the interrupt, the
// deadline or a failed watch asks first.
type hangOnce struct {
	once sync.Once
	done chan struct{} // closed when the HangUp has returned
	why  string        // what asked; written before done is closed
}

func (h *hangOnce) do(why string, hangup func()) {
	h.once.Do(func() {
		h.why = why
		hangup()
		close(h.done)
	})
}

// maxLag is how far behind its schedule the pacer may fall and still catch up. A start that
// is due goes at once, so that a few milliseconds without a CPU (timers on Linux also fire up
// to a millisecond late) cost no calls: SIPp's caller, the bench's reference, opens every
// call its clock says is due in the same way. A longer stall, or a tool short of CPU for
// good, moves the rest of the schedule back instead of bursting to make up for it.
const maxLag = 100 * time.Millisecond

// pacer spaces call starts evenly at rate per second, rising linearly from 0 over ramp. A
// start later than maxLag moves the rest of the schedule back by its delay, which it adds
// to slip.
type pacer struct {
	rate   float64
	ramp   time.Duration
	origin time.Time
	timer  *time.Timer
	slip   time.Duration
	late   int           // starts that moved the schedule
	maxLag time.Duration // the latest a start was made up
}

func newPacer(rate float64, ramp time.Duration, origin time.Time) *pacer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &pacer{rate: rate, ramp: ramp, origin: origin, timer: t}
}

func (p *pacer) stop() { p.timer.Stop() }

// at returns when start k (from 0) is due after the origin, before any slip. During the
// ramp the rate is rate·t/ramp, so k starts take sqrt(2·ramp·k/rate).
func (p *pacer) at(k int) time.Duration {
	ramp := p.ramp.Seconds()
	rampStarts := p.rate * ramp / 2
	if float64(k) < rampStarts {
		return seconds(math.Sqrt(2 * ramp * float64(k) / p.rate))
	}
	return p.ramp + seconds((float64(k)-rampStarts)/p.rate)
}

// wait sleeps until start k is due; false if end or stop came first.
func (p *pacer) wait(k int, end <-chan time.Time, stop <-chan struct{}) bool {
	due := p.origin.Add(p.slip + p.at(k))
	if d := time.Until(due); d > 0 {
		p.timer.Reset(d)
		select {
		case <-p.timer.C:
		case <-end:
			return false
		case <-stop:
			return false
		}
	}
	switch late := time.Since(due); {
	case late > maxLag:
		p.slip += late
		p.late++
	case late > p.maxLag:
		p.maxLag = late
	}
	return true
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
