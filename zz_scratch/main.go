package main

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccplane/telephony/client"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:50300", "")
	cps := flag.Float64("cps", 100, "")
	n := flag.Int("n", 1000, "")
	flag.Parse()
	c, err := client.Dial(*addr)
	if err != nil {
		panic(err)
	}
	var wg sync.WaitGroup
	var ok, bad atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	start := time.Now()
	iv := time.Duration(float64(time.Second) / *cps)
	for i := 0; i < *n; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * iv)))
		wg.Go(func() {
			call, err := c.PlaceCall(context.Background(), &telephonyv1.PlaceCallRequest{Gateway: "uas", To: fmt.Sprintf("1555%07d", i)})
			if err != nil {
				bad.Add(1)
				return
			}
			var cause telephonyv1.TerminationCause
			err = c.Watch(context.Background(), call.GetCallId(), 0, func(ev *telephonyv1.CallEvent) error {
				d := time.Since(ev.GetTime().AsTime())
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
				if e := ev.GetEnded(); e != nil {
					cause = e.GetTermination().GetCause()
				}
				return nil
			})
			if err != nil || cause != telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_HANGUP {
				bad.Add(1)
				return
			}
			ok.Add(1)
		})
	}
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	fmt.Printf("ok %d bad %d wall %v deliver p50 %v p99 %v max %v\n", ok.Load(), bad.Load(), time.Since(start), p(.5), p(.99), lat[len(lat)-1])
}
