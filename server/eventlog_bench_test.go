package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// BenchmarkEventLogAppend measures one append (allocating the event, as real callers do) while
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

			ts := timestamppb.Now()
			kind := &telephonyv1.CallEvent_StateChanged{StateChanged: &telephonyv1.StateChangedEvent{
				From: telephonyv1.CallState_CALL_STATE_RINGING,
				To:   telephonyv1.CallState_CALL_STATE_ANSWERED,
			}}
			ended := func() *telephonyv1.CallEvent {
				return &telephonyv1.CallEvent{Time: ts, Kind: &telephonyv1.CallEvent_Ended{}}
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
				l.append(&telephonyv1.CallEvent{Time: ts, Kind: kind})
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
		ev, err := s.next(ctx)
		switch {
		case err == nil:
			last = ev.GetSequence()
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
