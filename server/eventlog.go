package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/ccplane/telephony/sipengine"
)

// watcherBuffer is how many live events a watcher may have pending (appended after it
// subscribed but not yet taken by next) before its subscription ends with errSlowWatcher.
//
// A whole call is typically 10–30 events (INVITE, 100, 18x, 200, ACK, state changes, BYE, its
// 200, ended), and a busy one with retransmissions or auth retries stays well under 100. So 256
// pending events is never a burst: it means the watcher's stream has stalled (dead TCP peer,
// exhausted HTTP/2 flow control). Ending such a watcher costs it nothing it cannot recover —
// the client resumes from its last sequence and is served from history — while a larger bound
// would only let it drift further from real time. The pending events are not copied for the
// watcher: they are the log's own history, so the bound limits staleness, not memory.
const watcherBuffer = 256

// initialEvents is the history capacity a new log starts with: the setup of an answered call
// (INVITE, 100, trying, 180, ringing, 200, ACK, answered), which is all that an idle call
// holds for its whole life. Its end reallocates the slice once, and the log goes soon after.
const initialEvents = 8

var (
	// errSlowWatcher ends a subscription whose watcher fell more than watcherBuffer events
	// behind the live log. It is resumable: subscribing again with the last sequence the
	// watcher received continues without a gap. The returned error wraps it with that sequence.
	errSlowWatcher = errors.New("watcher fell too far behind the call's events")
	// errSequenceAhead means after_sequence is beyond the last event of a call that has ended,
	// so no event will ever satisfy it.
	errSequenceAhead = errors.New("after_sequence is beyond the call's last event")
	// errSubscriptionClosed is returned by next once close has been called.
	errSubscriptionClosed = errors.New("subscription closed")
)

// eventLogs is the registry of per-call logs. Logs of live calls are kept; a log whose call
// has ended is kept for the retention period after the ended event and then forgotten. Expired
// logs are removed by open, amortised over new calls, and by a timer while calls have ended
// and none start (else the last calls of a busy period would stay until the next one); get
// already reports them as unknown. Safe for concurrent use.
type eventLogs struct {
	retention time.Duration
	now       func() time.Time

	mu   sync.RWMutex
	logs map[string]*eventLog
	// ended holds the logs whose call has ended, in the order they ended. With retention fixed
	// and a monotonic clock that is also the order they expire, so a sweep only looks at the
	// head. (Should an injected clock step back, a log merely stays until the ones ahead of it
	// have expired; get still hides it on time.)
	ended []*eventLog
	// sweeper sweeps once the head of ended has expired; nil while ended is empty or after
	// stop. It runs on the real clock: an injected one only decides what has expired.
	sweeper *time.Timer
	stopped bool
}

// newEventLogs returns an empty registry. Logs are forgotten retention after their call ended
// (a negative retention counts as zero). now is the clock for event times and retention; nil
// means time.Now.
func newEventLogs(retention time.Duration, now func() time.Time) *eventLogs {
	if now == nil {
		now = time.Now
	}
	return &eventLogs{
		retention: max(retention, 0),
		now:       now,
		logs:      make(map[string]*eventLog),
	}
}

// open creates and registers the log of a new call; callers guarantee that callID is new (a
// log already registered under it would be replaced). It also forgets the logs whose retention
// has expired.
func (r *eventLogs) open(callID string) *eventLog {
	l := &eventLog{
		callID: callID,
		reg:    r,
		events: make([]logEvent, 0, initialEvents),
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweepLocked(now)
	r.logs[callID] = l
	return l
}

// get returns the log of a call; false if the call is unknown or its retention has expired.
func (r *eventLogs) get(callID string) (*eventLog, bool) {
	now := r.now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	l, ok := r.logs[callID]
	if !ok || r.expiredLocked(l, now) {
		return nil, false
	}
	return l, true
}

// expiredLocked reports whether l's retention is over; r.mu must be held.
func (r *eventLogs) expiredLocked(l *eventLog, now time.Time) bool {
	return l.ended && !now.Before(l.expires)
}

// sweepLocked forgets every expired log at the head of r.ended; r.mu must be held for writing.
// Each log is queued once and removed once, so the cost is amortised O(1) per call.
func (r *eventLogs) sweepLocked(now time.Time) {
	n := 0
	for n < len(r.ended) && r.expiredLocked(r.ended[n], now) {
		l := r.ended[n]
		if r.logs[l.callID] == l {
			delete(r.logs, l.callID)
		}
		r.ended[n] = nil // let the log be collected
		n++
	}
	if n == len(r.ended) {
		r.ended = r.ended[:0] // reuse the array from its start
		return
	}
	r.ended = r.ended[n:]
}

// markEnded starts l's retention clock at t.
func (r *eventLogs) markEnded(l *eventLog, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l.ended = true
	l.expires = t.Add(r.retention)
	r.ended = append(r.ended, l)
	if r.sweeper == nil && !r.stopped {
		r.sweeper = time.AfterFunc(r.retention, r.sweepExpired)
	}
}

// sweepExpired is the sweeper's job: forget the expired logs, and come back when the next
// one expires.
func (r *eventLogs) sweepExpired() {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweepLocked(now)
	if len(r.ended) == 0 || r.stopped {
		r.sweeper = nil
		return
	}
	r.sweeper.Reset(max(r.ended[0].expires.Sub(now), time.Millisecond))
}

// stop stops the sweeper: logs are kept from then on, until the registry is dropped.
func (r *eventLogs) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	if r.sweeper != nil {
		r.sweeper.Stop()
		r.sweeper = nil
	}
}

// eventLog is the ordered history of one call's events, numbered from 1, and the fan-out of
// new events to the call's watchers. Safe for concurrent use.
//
// Design: the history slice is the only buffer. A subscription is a cursor into it, and
// append wakes waiting watchers by closing a shared notify channel (broadcast), which the
// first watcher to wait after an append recreates. Compared with a buffered channel per
// watcher, this
//   - makes "history, then live, no gap, no duplicate" hold by construction: replay and live
//     delivery read the same slice at the same cursor, so there is no hand-over to get wrong;
//   - costs append O(1) whatever the number of watchers (one close, at most one allocation
//     when someone waits), never blocks it, and lets a slow watcher cost nothing but its lag;
//   - holds no per-watcher buffer (the history must be kept for replay anyway) and nothing
//     registered in the log, so a cancelled or abandoned subscription leaks nothing.
//
// The price is that each next takes the log's mutex for a few instructions: it copies the
// compact event, whose message the watcher builds after unlocking. Critical sections never
// block or allocate (except the notify channel and the slice's growth), so contention stays
// short.
type eventLog struct {
	callID string
	reg    *eventLogs

	mu sync.Mutex
	// events is append-only; events[i] has sequence i+1.
	events []logEvent
	// closed is set by the ended event; no event is stored after it.
	closed bool
	// wake is closed by append to wake the watchers waiting for a new event; nil while
	// nobody waits.
	wake chan struct{}

	// ended and expires are guarded by reg.mu: expires is when the log is forgotten.
	ended   bool
	expires time.Time
}

// append stores ev as the call's next event and wakes the watchers, stamping it with now if
// its time is unset, and returns its sequence. It never blocks on watchers.
//
// An ended event closes the log: later appends are dropped and return 0, and the time of the
// ended append (by the registry's clock, not the event's time) starts the retention period.
func (l *eventLog) append(ev logEvent) uint64 {
	ending := sipengine.EventKind(ev.kind) == sipengine.EventEnded
	var now time.Time
	if ending || ev.at == 0 {
		now = l.reg.now()
	}
	if ev.at == 0 {
		ev.at = now.UnixNano()
	}

	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0
	}
	l.events = append(l.events, ev)
	seq := uint64(len(l.events))
	l.closed = ending
	if l.wake != nil {
		close(l.wake)
		l.wake = nil
	}
	l.mu.Unlock()

	if ending {
		l.reg.markEnded(l, now)
	}
	return seq
}

// subscribe returns a subscription that delivers the events with a sequence greater than
// after: first those already stored, then live ones. On a live log, after may be beyond the
// last event; the subscription then waits for the log to get there. On a closed log it may
// not: the error wraps errSequenceAhead. Subscriptions are independent of each other.
func (l *eventLog) subscribe(after uint64) (*subscription, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	last := uint64(len(l.events))
	if l.closed && after > last {
		return nil, fmt.Errorf("%w: after_sequence %d, last event %d", errSequenceAhead, after, last)
	}
	return &subscription{
		log:      l,
		cursor:   after,
		liveFrom: max(after, last),
		done:     make(chan struct{}),
	}, nil
}

// subscription is one watcher's position in a call's event log. next must be called from one
// goroutine at a time; close may be called from any goroutine, at any time, any number of
// times.
type subscription struct {
	log *eventLog

	// cursor is the sequence of the last event delivered (or the starting after_sequence).
	cursor uint64
	// liveFrom is the last sequence that was already stored or skipped at subscribe time;
	// events after it are live and count towards watcherBuffer.
	liveFrom uint64
	// err is the error that ended the subscription for good (slow watcher, sequence ahead).
	err error

	done      chan struct{}
	closeOnce sync.Once
}

// next returns the next event and its sequence, waiting for a live one if needed. The event
// is the caller's own copy, to build its message from when it is about to send it (a
// watcher waiting for an event holds no message). Errors:
//   - io.EOF after the ended event has been delivered;
//   - an error wrapping errSlowWatcher when more than watcherBuffer live events are pending;
//     every later call returns it too;
//   - an error wrapping errSequenceAhead when the call ended before reaching after_sequence;
//   - ctx.Err() when ctx is done, even if events are pending;
//   - errSubscriptionClosed after close.
func (s *subscription) next(ctx context.Context) (logEvent, uint64, error) {
	if s.err != nil {
		return logEvent{}, 0, s.err
	}
	l := s.log
	for {
		if err := ctx.Err(); err != nil {
			return logEvent{}, 0, err
		}
		select {
		case <-s.done:
			return logEvent{}, 0, errSubscriptionClosed
		default:
		}

		l.mu.Lock()
		last := uint64(len(l.events))
		if s.cursor < last {
			if behind := last - max(s.cursor, s.liveFrom); behind > watcherBuffer {
				l.mu.Unlock()
				s.err = fmt.Errorf("%w: %d events behind; resume after sequence %d",
					errSlowWatcher, behind, s.cursor)
				return logEvent{}, 0, s.err
			}
			ev := l.events[s.cursor]
			l.mu.Unlock()
			s.cursor++
			return ev, s.cursor, nil
		}
		if l.closed {
			l.mu.Unlock()
			if s.cursor > last {
				s.err = fmt.Errorf("%w: after_sequence %d, last event %d", errSequenceAhead, s.cursor, last)
				return logEvent{}, 0, s.err
			}
			return logEvent{}, 0, io.EOF
		}
		if l.wake == nil {
			l.wake = make(chan struct{})
		}
		wake := l.wake
		l.mu.Unlock()

		select {
		case <-wake:
		case <-ctx.Done():
			return logEvent{}, 0, ctx.Err()
		case <-s.done:
			return logEvent{}, 0, errSubscriptionClosed
		}
	}
}

// close ends the subscription and wakes a next waiting on it. Nothing is registered in the
// log, so once the caller drops the subscription nothing of it remains. Idempotent.
func (s *subscription) close() {
	s.closeOnce.Do(func() { close(s.done) })
}
