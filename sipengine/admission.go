package sipengine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ccplane/telephony"
)

// ErrGatewayDown is returned (wrapped) by Trunks.Dial for a gateway that its keep-alive
// found down; nothing was sent and nothing waited. Refusal maps it to GATEWAY_DOWN and
// telephony.StatusGatewayDown.
var ErrGatewayDown = errors.New("sipengine: gateway down")

// Limit names the gateway limit that refused a call.
type Limit int

// The limits of a Gateway that Trunks enforces.
const (
	LimitConcurrency Limit = iota + 1 // Gateway.MaxConcurrentCalls
	LimitRate                         // Gateway.MaxCPS
)

func (l Limit) String() string {
	switch l {
	case LimitConcurrency:
		return "concurrent call"
	case LimitRate:
		return "call rate"
	}
	return "unknown"
}

// LimitError is returned by Trunks.Dial when a gateway limit left no room for the call
// within the gateway's QueueTimeout (or before the Dial's ctx ended); nothing was sent.
type LimitError struct {
	Gateway string
	Limit   Limit
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("sipengine: gateway %q: %s limit reached", e.Gateway, e.Limit)
}

// Status is the pseudo-response recorded for the refused call: StatusConcurrencyLimit
// (901) or StatusRateLimit (902).
func (e *LimitError) Status() telephony.Status {
	if e.Limit == LimitRate {
		return telephony.StatusRateLimit
	}
	return telephony.StatusConcurrencyLimit
}

// Refusal returns the cause and pseudo-response (9XX) to record for a call that Trunks.Dial
// refused before sending anything: GATEWAY_LIMIT with 901 or 902 for a *LimitError,
// GATEWAY_DOWN with 903 for ErrGatewayDown. It reports false for any other error, bare or
// wrapped.
func Refusal(err error) (telephony.Cause, telephony.Status, bool) {
	if le, ok := errors.AsType[*LimitError](err); ok {
		return telephony.CauseGatewayLimit, le.Status(), true
	}
	if errors.Is(err, ErrGatewayDown) {
		return telephony.CauseGatewayDown, telephony.StatusGatewayDown, true
	}
	return 0, telephony.Status{}, false
}

// slots counts the calls of one gateway against MaxConcurrentCalls and queues the Dials
// waiting for one, oldest first. Its methods are safe for concurrent use.
type slots struct {
	max int // 0 = unlimited

	mu      sync.Mutex
	active  int
	waiting []chan struct{} // closed to hand a freed slot to its waiter
}

// acquire takes a slot, waiting for one until deadline or until ctx ends. A slot free now is
// taken even when deadline has passed (QueueTimeout 0 means "only if free now").
func (s *slots) acquire(ctx context.Context, deadline time.Time) bool {
	s.mu.Lock()
	if s.max == 0 || s.active < s.max {
		s.active++
		s.mu.Unlock()
		return true
	}
	wait := time.Until(deadline)
	if wait <= 0 {
		s.mu.Unlock()
		return false
	}
	handed := make(chan struct{})
	s.waiting = append(s.waiting, handed)
	s.mu.Unlock()

	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-handed:
		return true
	case <-ctx.Done():
	case <-timer.C:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.waiting, handed); i >= 0 {
		s.waiting = slices.Delete(s.waiting, i, i+1)
		return false
	}
	// The slot was handed over just as we gave up: pass it on rather than leak it.
	s.releaseLocked()
	return false
}

// release gives a slot back, to the oldest waiter if there is one.
func (s *slots) release() {
	s.mu.Lock()
	s.releaseLocked()
	s.mu.Unlock()
}

func (s *slots) releaseLocked() {
	if len(s.waiting) > 0 {
		close(s.waiting[0])
		s.waiting = slices.Delete(s.waiting, 0, 1)
		return
	}
	s.active--
}

func (s *slots) counts() (active, queued int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active, len(s.waiting)
}

// pacer spaces a gateway's INVITEs interval apart: each Dial books the next send time and
// sleeps until it, so a burst of Dials leaves evenly spread instead of together.
type pacer struct {
	interval time.Duration // 0 = unlimited

	mu   sync.Mutex
	last time.Time // the latest send time booked
}

func newPacer(cps float64) *pacer {
	if cps == 0 {
		return &pacer{}
	}
	return &pacer{interval: time.Duration(float64(time.Second) / cps)}
}

// reserve books the next send time: interval after the last one booked, and now at the
// earliest. A time later than both now and deadline is not booked, and reserve reports false.
func (p *pacer) reserve(now, deadline time.Time) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := now
	if next := p.last.Add(p.interval); next.After(at) {
		at = next
	}
	if at.After(now) && at.After(deadline) {
		return time.Time{}, false
	}
	p.last = at
	return at, true
}

// wait books a send time within deadline and sleeps until it. When ctx ends first the
// booked time goes unused: the gateway gets fewer calls that second, never more.
func (p *pacer) wait(ctx context.Context, deadline time.Time) bool {
	if p.interval == 0 {
		return true
	}
	now := time.Now()
	at, ok := p.reserve(now, deadline)
	if !ok {
		return false
	}
	if at.After(now) {
		timer := time.NewTimer(at.Sub(now))
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// releasing forwards a call's events to its observer and gives the call's concurrency slot
// back once the call has ended.
type releasing struct {
	next    Observer
	release func()
	once    sync.Once
}

func (o *releasing) Observe(ev Event) {
	o.next.Observe(ev)
	if ev.Kind == EventEnded {
		o.done()
	}
}

// done releases the slot; only the first call does anything.
func (o *releasing) done() { o.once.Do(o.release) }
