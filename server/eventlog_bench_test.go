package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccplane/telephony"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/sipengine"
)

// BenchmarkEventLogAppend measures one append (compacting the event, as real callers do) while
// watchers read every event as it comes. Calls are cut into logs of benchCallEvents events so
// that memory stays flat however large b.N is; per log, each watcher gets a fresh
// subscription. A watcher that falls behind resumes from its last sequence, as a client does;
// resumes/op says how often that happened.
func BenchmarkEventLogAppend(b *testing.B) {
	const benchCallEvents = 1024
	for _, watchers := range []int{0, 1, 16} {
		b.Run(fmt.Sprintf("watchers=%d", watchers), func(b *testing.B) {
			ctx := b.Context()
			r := newEventLogs(0, time.Now)
			var resumes atomic.Int64
			var wg sync.WaitGroup
			// Each watcher's queue of calls to watch; the buffer lets the appender run
			// several calls ahead of a watcher before it waits for it.
			queues := make([]chan *subscription, watchers)
			for w := range queues {
				queues[w] = make(chan *subscription, 8)
				wg.Go(func() {
					for s := range queues[w] {
						resumes.Add(watchAll(ctx, b, s))
					}
				})
			}

			state := sipengine.Event{Kind: sipengine.EventState, At: time.Now(),
				From: telephony.StateRinging, To: telephony.StateAnswered}
			final := &telephony.Call{State: telephony.StateEnded}
			ended := func() logEvent {
				return newLogEvent(sipengine.Event{Kind: sipengine.EventEnded, At: state.At}, final)
			}
			var l *eventLog
			calls, n := 0, 0
			newCall := func() {
				calls++
				l = r.open(strconv.Itoa(calls))
				for _, q := range queues {
					s, err := l.subscribe(0)
					if err != nil {
						b.Fatalf("subscribe: got error %v, want nil", err)
					}
					q <- s
				}
			}
			newCall()

			b.ReportAllocs()
			for b.Loop() {
				l.append(newLogEvent(state, nil))
				if n++; n%benchCallEvents == 0 {
					l.append(ended())
					newCall()
				}
			}
			l.append(ended())
			for _, q := range queues {
				close(q)
			}
			wg.Wait()
			b.ReportMetric(float64(resumes.Load())/float64(n), "resumes/op")
		})
	}
}

// watchAll reads s to the end of its call, resuming after errSlowWatcher, and returns the
// number of resumes.
func watchAll(ctx context.Context, b *testing.B, s *subscription) int64 {
	var last uint64
	var resumes int64
	l := s.log
	for {
		ev, seq, err := s.next(ctx)
		switch {
		case err == nil:
			// As WatchCall does, short of the encoding and the stream.
			if err := sendEvent(func(*telephonyv1.CallEvent) error { return nil }, &ev, "call-1", seq); err != nil {
				b.Error(err)
			}
			last = seq
		case errors.Is(err, errSlowWatcher):
			s.close()
			resumes++
			if s, err = l.subscribe(last); err != nil {
				b.Errorf("resubscribe: got error %v, want nil", err)
				return resumes
			}
		default:
			if err != io.EOF {
				b.Errorf("next: got error %v, want io.EOF", err)
			}
			s.close()
			return resumes
		}
	}
}

// answeredCall returns the events of an answered, idle call as the engine reports them. The
// reason phrases and CSeq methods are cut from per-message strings, as sipgo parses them; the
// SDP is the record's.
func answeredCall(start time.Time, sdp string) []sipengine.Event {
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	since := func(ms int) time.Duration { return at(ms).Sub(start) }
	response := func(ms, code int, line, sdp string) sipengine.Event {
		line = strings.Clone(line)        // the status line, "SIP/2.0 100 Trying"
		cseq := strings.Clone("1 INVITE") // the CSeq header's value
		return sipengine.Event{Kind: sipengine.EventResponse, At: at(ms), SinceInvite: since(ms),
			Method: cseq[2:], Status: telephony.Status{Code: code, Reason: line[12:]}, SDP: sdp}
	}
	state := func(ms int, from, to telephony.State) sipengine.Event {
		return sipengine.Event{Kind: sipengine.EventState, At: at(ms), SinceInvite: since(ms), From: from, To: to}
	}
	return []sipengine.Event{
		{Kind: sipengine.EventRequest, At: at(0), Method: "INVITE"},
		response(20, 100, "SIP/2.0 100 Trying", ""),
		state(20, telephony.StateDialing, telephony.StateTrying),
		response(400, 180, "SIP/2.0 180 Ringing", ""),
		state(400, telephony.StateTrying, telephony.StateRinging),
		response(5000, 200, "SIP/2.0 200 OK", sdp),
		{Kind: sipengine.EventRequest, At: at(5001), SinceInvite: since(5001), Method: "ACK"},
		state(5001, telephony.StateRinging, telephony.StateAnswered),
	}
}

// BenchmarkEventLogHistory measures the heap that the event logs of answered, idle calls hold.
// B/history is what one call's log adds to the live heap after a GC: its registry entry, the
// log and its history, but not the strings that the call's record holds too (ID, SDP).
func BenchmarkEventLogHistory(b *testing.B) {
	const calls = 1000
	const sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" +
		"m=audio 4000 RTP/AVP 0\r\n"
	ids := make([]string, calls)
	for i := range ids {
		ids[i] = fmt.Sprintf("call-%08d", i) // the record's
	}
	var mem runtime.MemStats
	heap := func() int64 {
		runtime.GC()
		runtime.ReadMemStats(&mem)
		return int64(mem.HeapAlloc)
	}
	start := time.Now()
	var held int64
	for b.Loop() {
		b.StopTimer()
		before := heap()
		b.StartTimer()
		r := newEventLogs(time.Hour, nil)
		for _, id := range ids {
			l := r.open(id)
			for _, ev := range answeredCall(start, sdp) {
				l.append(newLogEvent(ev, nil))
			}
		}
		b.StopTimer()
		held += heap() - before
		runtime.KeepAlive(r)
		b.StartTimer()
	}
	b.ReportMetric(float64(held)/float64(b.N*calls), "B/history")
}
