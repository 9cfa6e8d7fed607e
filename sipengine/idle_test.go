package sipengine_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/internal/testenv"
	"github.com/ccplane/telephony/sipengine"
)

// idleCalls is how many answered calls BenchmarkIdleCall holds at once.
const idleCalls = 4000

// BenchmarkIdleCall measures what the engine holds for an answered call nobody talks on:
// it places idleCalls calls to SIPp, which answers and waits for our BYE, and reports heap
// and stack per live call twice: while the INVITE transactions still absorb 2xx
// retransmissions (accepted) and after they were released (idle). Each run is one such
// round, whatever b.N, and takes about 20 s:
//
//	go test -run XXX -bench BenchmarkIdleCall -benchtime 1x ./sipengine/
func BenchmarkIdleCall(b *testing.B) {
	// T1 of 100 ms puts the end of the accepted state (64·T1) 6.4 s after the answer rather
	// than 32 s; what a call holds afterwards does not depend on T1.
	t1, t2, t4 := sip.T1, sip.T2, sip.T4
	sip.SetTimers(100*time.Millisecond, t2, t4)
	b.Cleanup(func() { sip.SetTimers(t1, t2, t4) })

	uas := testenv.StartSIPp(b, "answer_wait_bye", testenv.SIPpOptions{Calls: idleCalls, Timeout: 2 * time.Minute})
	e, _ := startEngine(b, testEngine)
	gw := sipengine.Gateway{Name: "sipp", Address: uas.Addr()}
	base := measure()

	answered := make(chan struct{}, idleCalls)
	calls := make([]*sipengine.Call, 0, idleCalls)
	// One request a millisecond: SIPp loses datagrams in bursts of thousands.
	pace := time.NewTicker(time.Millisecond)
	defer pace.Stop()
	for range idleCalls {
		<-pace.C
		c, err := e.Dial(context.Background(), sipengine.DialRequest{Gateway: gw, To: "15550100200",
			RingTimeout: time.Minute, MaxDuration: time.Hour, Observer: onAnswer(answered)})
		if err != nil {
			b.Fatal(err)
		}
		calls = append(calls, c)
	}
	for range idleCalls {
		select {
		case <-answered:
		case <-time.After(30 * time.Second):
			b.Fatal("calls not answered within 30 s")
		}
	}
	accepted := measure()
	time.Sleep(64*sip.T1 + time.Second)
	idle := measure()
	accepted.report(b, base, "accepted")
	idle.report(b, base, "idle")

	for _, c := range calls {
		<-pace.C
		c.Hangup()
	}
	for _, c := range calls {
		<-c.Done()
	}
	uas.Wait(b)
}

type usage struct{ heap, stack, goroutines uint64 }

func measure() usage {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return usage{heap: m.HeapAlloc, stack: m.StackInuse, goroutines: uint64(runtime.NumGoroutine())}
}

func (u usage) report(b *testing.B, base usage, when string) {
	per := func(now, then uint64) float64 { return (float64(now) - float64(then)) / idleCalls }
	b.ReportMetric(per(u.heap, base.heap), "heap-B/call-"+when)
	b.ReportMetric(per(u.stack, base.stack), "stack-B/call-"+when)
	b.ReportMetric(per(u.goroutines, base.goroutines), "goroutines/call-"+when)
}

// onAnswer is an Observer that keeps nothing and signals the answer.
type onAnswer chan<- struct{}

func (o onAnswer) Observe(ev sipengine.Event) {
	if ev.Kind == sipengine.EventState && ev.To == telephony.StateAnswered {
		o <- struct{}{}
	}
}
