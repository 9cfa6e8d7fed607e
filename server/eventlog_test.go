package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ccplane/telephony"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/sipengine"
)

// testStart is the fake clock's start and the base of the events' times.
var testStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a settable clock for newEventLogs.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: testStart} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testTime is the time of the events made with i.
func testTime(i int) time.Time { return testStart.Add(time.Duration(i) * time.Second) }

// testEvent returns a state-change event whose content depends on i, timed at testTime(i).
func testEvent(i int) logEvent {
	return newLogEvent(sipengine.Event{Kind: sipengine.EventState, At: testTime(i),
		From: telephony.State(i % 6), To: telephony.State((i + 1) % 6)}, nil)
}

// testEnded returns an ended event timed at testTime(i).
func testEnded(i int) logEvent {
	final := &telephony.Call{ID: "call-1", State: telephony.StateEnded,
		Termination: telephony.Termination{Party: telephony.PartyFinish, Cause: telephony.CauseRemoteHangup}}
	return newLogEvent(sipengine.Event{Kind: sipengine.EventEnded, At: testTime(i)}, final)
}

// wantEvents returns what a watcher of callID should receive for sequences from..to, where
// the event of sequence n was made by testEvent(n), or testEnded(n) for sequence endedAt.
func wantEvents(callID string, from, to, endedAt uint64) []*telephonyv1.CallEvent {
	var evs []*telephonyv1.CallEvent
	for seq := from; seq <= to; seq++ {
		i := int(seq)
		ev := &telephonyv1.CallEvent{
			CallId:   callID,
			Sequence: seq,
			Time:     timestamppb.New(testTime(i)),
			Kind: &telephonyv1.CallEvent_StateChanged{StateChanged: &telephonyv1.StateChangedEvent{
				From: telephonyv1.CallState(i % 6),
				To:   telephonyv1.CallState((i + 1) % 6),
			}},
		}
		if seq == endedAt {
			term := &telephonyv1.Termination{
				Party: telephonyv1.TerminationParty_TERMINATION_PARTY_FINISH,
				Cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_HANGUP,
			}
			ev.Kind = &telephonyv1.CallEvent_Ended{Ended: &telephonyv1.CallEndedEvent{
				Termination: term,
				Call: &telephonyv1.Call{CallId: "call-1", State: telephonyv1.CallState_CALL_STATE_ENDED,
					LastResponse: &telephonyv1.SipStatus{}, Termination: term},
			}}
		}
		evs = append(evs, ev)
	}
	return evs
}

// appendEvents appends testEvent(n) for sequences from..to, or testEnded(to) as the last one
// if end is set.
func appendEvents(t *testing.T, l *eventLog, from, to uint64, end bool) {
	t.Helper()
	for seq := from; seq <= to; seq++ {
		ev := testEvent(int(seq))
		if end && seq == to {
			ev = testEnded(int(seq))
		}
		if got := l.append(ev); got != seq {
			t.Fatalf("append: got sequence %d, want %d", got, seq)
		}
	}
}

// readN takes n events from s, failing the test on any error.
func readN(t *testing.T, s *subscription, n int) []*telephonyv1.CallEvent {
	t.Helper()
	var evs []*telephonyv1.CallEvent
	for range n {
		ev, seq, err := s.next(t.Context())
		if err != nil {
			t.Fatalf("next after %d events: got error %v, want an event", len(evs), err)
		}
		evs = append(evs, ev.toProto(s.log.callID, seq))
	}
	return evs
}

// wantEOF checks that s is at its end, twice, since EOF must be stable.
func wantEOF(t *testing.T, s *subscription) {
	t.Helper()
	for range 2 {
		if _, seq, err := s.next(t.Context()); err != io.EOF {
			t.Fatalf("next at the end: got event %d, %v, want io.EOF", seq, err)
		}
	}
}

func lastSequence(l *eventLog) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint64(len(l.events))
}

func TestEventLogAppendNumbersFromOne(t *testing.T) {
	clock := newFakeClock()
	l := newEventLogs(time.Hour, clock.now).open("call-1")

	withoutTime := testEvent(2)
	withoutTime.at = 0
	clock.advance(time.Minute)
	for i, ev := range []logEvent{testEvent(1), withoutTime, testEvent(3), testEnded(4)} {
		if got, want := l.append(ev), uint64(i+1); got != want {
			t.Errorf("append #%d: got sequence %d, want %d", i+1, got, want)
		}
	}

	s, err := l.subscribe(0)
	if err != nil {
		t.Fatalf("subscribe: got error %v, want nil", err)
	}
	defer s.close()
	want := wantEvents("call-1", 1, 4, 4)
	want[1].Time = timestamppb.New(testStart.Add(time.Minute)) // stamped by the log's clock
	if diff := cmp.Diff(want, readN(t, s, 4), protocmp.Transform()); diff != "" {
		t.Errorf("appended events (-want +got):\n%s", diff)
	}
}

func TestEventLogAppendAfterEndedIsDropped(t *testing.T) {
	l := newEventLogs(time.Hour, newFakeClock().now).open("call-1")
	appendEvents(t, l, 1, 3, true)

	if got := l.append(testEvent(4)); got != 0 {
		t.Errorf("append after ended: got sequence %d, want 0", got)
	}
	if got, want := lastSequence(l), uint64(3); got != want {
		t.Errorf("last sequence: got %d, want %d", got, want)
	}
	s, err := l.subscribe(0)
	if err != nil {
		t.Fatalf("subscribe: got error %v, want nil", err)
	}
	defer s.close()
	readN(t, s, 3)
	wantEOF(t, s)
}

func TestSubscriptionReplay(t *testing.T) {
	const stored = 5
	tests := []struct {
		name  string
		after uint64
		// ended: the log is closed with the stored events; otherwise three live events follow,
		// the last one ended.
		ended bool
	}{
		{name: "closed from 0", after: 0, ended: true},
		{name: "closed from the middle", after: 2, ended: true},
		{name: "closed from the last", after: stored, ended: true},
		{name: "live from 0", after: 0},
		{name: "live from the middle", after: 2},
		{name: "live from the last", after: stored},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newEventLogs(time.Hour, newFakeClock().now).open("call-1")
			appendEvents(t, l, 1, stored, tc.ended)
			s, err := l.subscribe(tc.after)
			if err != nil {
				t.Fatalf("subscribe(%d): got error %v, want nil", tc.after, err)
			}
			defer s.close()

			got := readN(t, s, int(stored-tc.after))
			last := uint64(stored)
			if !tc.ended {
				appendEvents(t, l, stored+1, stored+3, true)
				last = stored + 3
				got = append(got, readN(t, s, 3)...)
			}
			wantEOF(t, s)
			want := wantEvents("call-1", tc.after+1, last, last)
			if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSubscriptionResumeAfterEnded(t *testing.T) {
	l := newEventLogs(time.Hour, newFakeClock().now).open("call-1")
	appendEvents(t, l, 1, 3, false)
	s, err := l.subscribe(0)
	if err != nil {
		t.Fatalf("subscribe: got error %v, want nil", err)
	}
	readN(t, s, 3)
	s.close() // the watcher disconnects after sequence 3

	appendEvents(t, l, 4, 8, true)
	s, err = l.subscribe(3)
	if err != nil {
		t.Fatalf("subscribe(3) after ended: got error %v, want nil", err)
	}
	defer s.close()
	got := readN(t, s, 5)
	wantEOF(t, s)
	if diff := cmp.Diff(wantEvents("call-1", 4, 8, 8), got, protocmp.Transform()); diff != "" {
		t.Errorf("missed events (-want +got):\n%s", diff)
	}
}

func TestSubscriptionConcurrentAppendsNoGapNoDuplicate(t *testing.T) {
	const (
		appenders = 8
		perWriter = 400
		watchers  = 16
		total     = appenders*perWriter + 1 // + ended
	)
	l := newEventLogs(time.Hour, newFakeClock().now).open("call-1")
	ctx := t.Context()

	var wg sync.WaitGroup
	got := make([][]uint64, watchers)
	resumes := make([]int, watchers)
	for w := range watchers {
		wg.Go(func() {
			// Half the watchers join at a fixed point (possibly ahead of the log, so they wait
			// for it), half wherever the log is when they start.
			after := uint64(w * total / watchers)
			if w%2 == 1 {
				after = lastSequence(l)
			}
			got[w] = append(got[w], after)
			s, err := l.subscribe(after)
			if err != nil {
				t.Errorf("watcher %d: subscribe(%d): got error %v, want nil", w, after, err)
				return
			}
			for {
				_, seq, err := s.next(ctx)
				switch {
				case err == io.EOF:
					s.close()
					return
				case errors.Is(err, errSlowWatcher):
					// What a client does on RESOURCE_EXHAUSTED: resume from its last sequence.
					s.close()
					if resumes[w]++; resumes[w] > total {
						t.Errorf("watcher %d: resumed %d times without progress", w, resumes[w])
						return
					}
					if s, err = l.subscribe(got[w][len(got[w])-1]); err != nil {
						t.Errorf("watcher %d: resubscribe: got error %v, want nil", w, err)
						return
					}
				case err != nil:
					t.Errorf("watcher %d: next: got error %v, want nil", w, err)
					s.close()
					return
				default:
					got[w] = append(got[w], seq)
				}
			}
		})
	}

	var writers sync.WaitGroup
	for a := range appenders {
		writers.Go(func() {
			for i := range perWriter {
				if seq := l.append(testEvent(a*perWriter + i)); seq == 0 {
					t.Errorf("appender %d: append dropped event %d of a live log", a, i)
				}
			}
		})
	}
	writers.Wait()
	if seq := l.append(testEnded(0)); seq != total {
		t.Errorf("ended: got sequence %d, want %d", seq, total)
	}
	wg.Wait()

	for w, seqs := range got {
		// seqs[0] is the after_sequence the watcher joined with.
		want := make([]uint64, 0, total+1)
		for seq := seqs[0]; seq <= total; seq++ {
			want = append(want, seq)
		}
		if !slices.Equal(seqs, want) {
			t.Errorf("watcher %d (after %d, %d resumes): got %d sequences %v…, want %d without gap or duplicate",
				w, seqs[0], resumes[w], len(seqs)-1, seqs[:min(len(seqs), 10)], len(want)-1)
		}
	}
}

func TestSubscriptionSlowWatcher(t *testing.T) {
	tests := []struct {
		name     string
		history  int // events stored before subscribing from 0
		live     int // events appended after subscribing, none read yet
		wantSlow bool
	}{
		{name: "exactly the buffer", live: watcherBuffer},
		{name: "one over the buffer", live: watcherBuffer + 1, wantSlow: true},
		{name: "history does not count", history: 4 * watcherBuffer, live: watcherBuffer},
		{name: "history plus one over", history: 4 * watcherBuffer, live: watcherBuffer + 1, wantSlow: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newEventLogs(time.Hour, newFakeClock().now).open("call-1")
			total := uint64(tc.history + tc.live)
			appendEvents(t, l, 1, uint64(tc.history), false)
			s, err := l.subscribe(0)
			if err != nil {
				t.Fatalf("subscribe: got error %v, want nil", err)
			}
			defer s.close()
			appendEvents(t, l, uint64(tc.history)+1, total, true)

			if !tc.wantSlow {
				got := readN(t, s, int(total))
				wantEOF(t, s)
				if diff := cmp.Diff(wantEvents("call-1", 1, total, total), got, protocmp.Transform()); diff != "" {
					t.Errorf("events (-want +got):\n%s", diff)
				}
				return
			}
			for range 2 { // the error is final
				if _, seq, err := s.next(t.Context()); !errors.Is(err, errSlowWatcher) {
					t.Fatalf("next: got event %d, %v, want errSlowWatcher", seq, err)
				}
			}
			// Resuming from the last sequence received (none) delivers everything.
			r, err := l.subscribe(0)
			if err != nil {
				t.Fatalf("resubscribe: got error %v, want nil", err)
			}
			defer r.close()
			got := readN(t, r, int(total))
			wantEOF(t, r)
			if diff := cmp.Diff(wantEvents("call-1", 1, total, total), got, protocmp.Transform()); diff != "" {
				t.Errorf("events after resuming (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSubscriptionSlowWatcherDoesNotBlockOthers(t *testing.T) {
	const total = 4 * watcherBuffer
	l := newEventLogs(time.Hour, newFakeClock().now).open("call-1")
	slow, err := l.subscribe(0)
	if err != nil {
		t.Fatalf("subscribe slow: got error %v, want nil", err)
	}
	defer slow.close()
	fast, err := l.subscribe(0)
	if err != nil {
		t.Fatalf("subscribe fast: got error %v, want nil", err)
	}
	defer fast.close()

	// The fast watcher hands every event to the test, which appends the next one only after
	// receiving it: each live event reaches a reading watcher while the slow one reads nothing.
	got := make(chan uint64)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(got)
		for {
			_, seq, err := fast.next(t.Context())
			if err != nil {
				if err != io.EOF {
					t.Errorf("fast watcher: got error %v, want io.EOF", err)
				}
				return
			}
			got <- seq
		}
	})
	for seq := uint64(1); seq <= total; seq++ {
		ev := testEvent(int(seq))
		if seq == total {
			ev = testEnded(int(seq))
		}
		l.append(ev)
		if g := <-got; g != seq {
			t.Fatalf("fast watcher: got sequence %d, want %d", g, seq)
		}
	}
	if _, ok := <-got; ok {
		t.Errorf("fast watcher: got an event after the ended one, want the end")
	}
	wg.Wait()

	if _, seq, err := slow.next(t.Context()); !errors.Is(err, errSlowWatcher) {
		t.Errorf("slow watcher: got event %d, %v, want errSlowWatcher", seq, err)
	}
}

func TestEventLogSubscribeAhead(t *testing.T) {
	const stored = 3
	tests := []struct {
		name  string
		ended bool // the log is closed at sequence stored
		after uint64
		// then: live logs get these events appended after subscribing, the last one ended.
		then          uint64
		wantSubscribe error
		wantNext      error
	}{
		{name: "closed, one ahead", ended: true, after: stored + 1, wantSubscribe: errSequenceAhead},
		{name: "closed, far ahead", ended: true, after: 1000, wantSubscribe: errSequenceAhead},
		{name: "closed, at the last", ended: true, after: stored, wantNext: io.EOF},
		{name: "live, ahead, ends short", after: stored + 3, then: 2, wantNext: errSequenceAhead},
		{name: "live, ahead, ends right there", after: stored + 2, then: 2, wantNext: io.EOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newEventLogs(time.Hour, newFakeClock().now).open("call-1")
			appendEvents(t, l, 1, stored, tc.ended)
			s, err := l.subscribe(tc.after)
			if !errors.Is(err, tc.wantSubscribe) {
				t.Fatalf("subscribe(%d): got error %v, want %v", tc.after, err, tc.wantSubscribe)
			}
			if err != nil {
				return
			}
			defer s.close()
			if tc.then > 0 {
				appendEvents(t, l, stored+1, stored+tc.then, true)
			}
			if _, seq, err := s.next(t.Context()); !errors.Is(err, tc.wantNext) {
				t.Errorf("next: got event %d, %v, want %v", seq, err, tc.wantNext)
			}
		})
	}
}

func TestEventLogsRetention(t *testing.T) {
	const retention = 10 * time.Minute
	tests := []struct {
		name    string
		advance time.Duration // after the call ended
		want    bool
	}{
		{name: "just ended", advance: 0, want: true},
		{name: "just before expiry", advance: retention - time.Nanosecond, want: true},
		{name: "at expiry", advance: retention, want: false},
		{name: "long after", advance: 100 * retention, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			r := newEventLogs(retention, clock.now)
			ended := r.open("ended")
			live := r.open("live")
			appendEvents(t, live, 1, 2, false)
			clock.advance(time.Hour) // time spent in the call does not count
			appendEvents(t, ended, 1, 2, true)

			clock.advance(tc.advance)
			if _, got := r.get("ended"); got != tc.want {
				t.Errorf("get(ended) %v after the end: got %v, want %v", tc.advance, got, tc.want)
			}
			r.open("next") // sweeps
			r.mu.RLock()
			_, kept := r.logs["ended"]
			r.mu.RUnlock()
			if kept != tc.want {
				t.Errorf("after a sweep %v after the end: got kept %v, want %v", tc.advance, kept, tc.want)
			}
			if l, ok := r.get("live"); !ok || l != live {
				t.Errorf("get(live): got %p, %v, want %p, true", l, ok, live)
			}
			if _, ok := r.get("unknown"); ok {
				t.Errorf("get(unknown): got true, want false")
			}
		})
	}
}

func TestEventLogsSweepForgetsOnlyExpired(t *testing.T) {
	const retention = time.Minute
	clock := newFakeClock()
	r := newEventLogs(retention, clock.now)
	// Calls end 10 s apart; "live" never ends.
	var ids []string
	appendEvents(t, r.open("live"), 1, 1, false)
	for i := range 6 {
		id := fmt.Sprintf("call-%d", i)
		ids = append(ids, id)
		appendEvents(t, r.open(id), 1, 1, true)
		clock.advance(10 * time.Second)
	}
	// Now 60 s after call-0 ended and 10 s after call-5 ended: call-0 has expired.
	for _, step := range []struct {
		advance time.Duration
		want    []string
	}{
		{advance: 0, want: append([]string{"live"}, ids[1:]...)},
		{advance: 25 * time.Second, want: append([]string{"live"}, ids[3:]...)},
		{advance: time.Hour, want: []string{"live"}},
	} {
		clock.advance(step.advance)
		r.open("probe")
		r.mu.RLock()
		var got []string
		for id := range r.logs {
			if id != "probe" {
				got = append(got, id)
			}
		}
		r.mu.RUnlock()
		slices.Sort(got)
		if diff := cmp.Diff(slices.Sorted(slices.Values(step.want)), got); diff != "" {
			t.Errorf("logs kept after %v more (-want +got):\n%s", step.advance, diff)
		}
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.ended) != 0 {
		t.Errorf("ended queue: got %d logs, want 0", len(r.ended))
	}
}

// Without new calls to sweep them, the timer forgets ended calls' logs as they expire; once
// stopped it is not started again.
func TestEventLogsForgetWithoutNewCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const retention = time.Minute
		r := newEventLogs(retention, time.Now)
		kept := func() int {
			r.mu.RLock()
			defer r.mu.RUnlock()
			return len(r.logs)
		}
		for i := range 3 { // ended 10 s apart
			appendEvents(t, r.open(fmt.Sprintf("call-%d", i)), 1, 1, true)
			time.Sleep(10 * time.Second)
		}
		time.Sleep(retention - 30*time.Second + time.Millisecond) // call-0 has just expired
		synctest.Wait()
		if n := kept(); n != 2 {
			t.Errorf("after the first expiry: %d logs kept, want 2", n)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := kept(); n != 0 {
			t.Errorf("after every expiry: %d logs kept, want 0", n)
		}
		r.stop()
		appendEvents(t, r.open("after-stop"), 1, 1, true)
		if r.sweeper != nil {
			t.Error("a stopped registry started its sweeper again")
		}
	})
}

func TestSubscriptionStops(t *testing.T) {
	tests := []struct {
		name string
		// stop ends a next waiting for a live event, given the context's cancel function.
		stop    func(s *subscription, cancel context.CancelFunc)
		timeout time.Duration // when set, the context has this timeout
		wantErr error
	}{
		{name: "cancel", stop: func(_ *subscription, cancel context.CancelFunc) { cancel() }, wantErr: context.Canceled},
		{name: "deadline", timeout: time.Second, wantErr: context.DeadlineExceeded},
		{name: "close", stop: func(s *subscription, _ context.CancelFunc) { s.close(); s.close() }, wantErr: errSubscriptionClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// synctest also proves that nothing is left waiting once next has returned.
			synctest.Test(t, func(t *testing.T) {
				l := newEventLogs(time.Hour, time.Now).open("call-1")
				appendEvents(t, l, 1, 2, false)
				s, err := l.subscribe(2)
				if err != nil {
					t.Fatalf("subscribe: got error %v, want nil", err)
				}
				defer s.close()
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				if tc.timeout > 0 {
					ctx, cancel = context.WithTimeout(ctx, tc.timeout)
					defer cancel()
				}

				errc := make(chan error, 1)
				start := time.Now()
				go func() {
					_, _, err := s.next(ctx)
					errc <- err
				}()
				synctest.Wait()
				select {
				case err := <-errc:
					t.Fatalf("next on a live log with nothing new: returned %v, want it to wait", err)
				default:
				}
				if tc.stop != nil {
					tc.stop(s, cancel)
				}
				if err := <-errc; !errors.Is(err, tc.wantErr) {
					t.Errorf("next: got error %v, want %v", err, tc.wantErr)
				}
				if got := time.Since(start); got != tc.timeout {
					t.Errorf("next returned after %v, want %v", got, tc.timeout)
				}
				// The log is unaffected: it still takes and fans out events.
				if seq := l.append(testEvent(3)); seq != 3 {
					t.Errorf("append after the watcher stopped: got sequence %d, want 3", seq)
				}
			})
		})
	}
}

func TestSubscriptionCanceledContextWithPendingEvents(t *testing.T) {
	l := newEventLogs(time.Hour, newFakeClock().now).open("call-1")
	appendEvents(t, l, 1, 5, true)
	s, err := l.subscribe(0)
	if err != nil {
		t.Fatalf("subscribe: got error %v, want nil", err)
	}
	defer s.close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, seq, err := s.next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("next: got event %d, %v, want context.Canceled", seq, err)
	}
	// The subscription is still usable with a live context.
	if got := readN(t, s, 5); got[0].GetSequence() != 1 {
		t.Errorf("first event: got sequence %d, want 1", got[0].GetSequence())
	}
}
