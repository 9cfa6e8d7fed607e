package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/client"
	"github.com/ccplane/telephony/internal/testenv"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/tracker"
)

// TestShutdownEndsAndRecordsLiveCalls stops telephonyd (as SIGTERM does) while one call rings
// and another is answered: the first is CANCELled and the second BYEd, both end as KILL /
// SHUTDOWN with their last response, each watcher's stream ends cleanly after its `ended`
// event, and both final records are in Redis when run returns.
func TestShutdownEndsAndRecordsLiveCalls(t *testing.T) {
	ringing := testenv.StartSIPp(t, "ring_forever", testenv.SIPpOptions{})
	answering := testenv.StartSIPp(t, "answer_wait_bye", testenv.SIPpOptions{})
	redisAddr := testenv.StartRedis(t)
	grpcAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	svc := startService(t, fmt.Sprintf(`
grpc: {listen: %q}
sip: {listen: "127.0.0.1:0"}
redis: {url: "redis://%s/0"}
log: {level: warn}
gateways:
  - {name: ringing, address: %q, allow: [""], keepalive: 0s}
  - {name: answering, address: %q, allow: [""], keepalive: 0s}
`, grpcAddr, redisAddr, ringing.Addr(), answering.Addr()), grpcAddr)
	c, err := client.Dial(grpcAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	calls := []struct {
		gateway  string
		until    telephonyv1.CallState // the state the call is in when the signal comes
		wantLast int
	}{
		{"ringing", telephonyv1.CallState_CALL_STATE_RINGING, 180},
		{"answering", telephonyv1.CallState_CALL_STATE_ANSWERED, 200},
	}
	ready := make(chan struct{}, len(calls))
	var watched sync.WaitGroup
	ids := make([]string, len(calls))
	for i, tc := range calls {
		call, err := c.PlaceCall(context.Background(), &telephonyv1.PlaceCallRequest{Gateway: tc.gateway, To: "15550100180"})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = call.GetCallId()
		watched.Go(func() {
			var last *telephonyv1.CallEvent
			err := c.Watch(context.Background(), ids[i], 0, func(ev *telephonyv1.CallEvent) error {
				last = ev
				if ev.GetStateChanged().GetTo() == tc.until {
					ready <- struct{}{}
				}
				return nil
			})
			if err != nil {
				t.Errorf("%s: watch during shutdown: %v, want the stream to end after `ended`", tc.gateway, err)
			}
			if got := last.GetEnded().GetTermination().GetCause(); got != telephonyv1.TerminationCause_TERMINATION_CAUSE_SHUTDOWN {
				t.Errorf("%s: last event %v, want ended by shutdown", tc.gateway, last)
			}
		})
	}
	for range calls {
		select {
		case <-ready:
		case <-time.After(testenv.WaitFor):
			t.Fatal("the calls never reached ringing and answered")
		}
	}
	svc.cancel() // the signal
	watched.Wait()
	svc.stop(t)
	ringing.Wait(t)   // it saw the CANCEL and the ACK of its 487
	answering.Wait(t) // it saw the BYE

	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	store, err := tracker.NewRedis(tracker.RedisConfig{}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range calls {
		rec, err := store.Get(context.Background(), ids[i])
		if err != nil {
			t.Fatalf("%s: record after shutdown: %v", tc.gateway, err)
		}
		if rec.State != telephony.StateEnded || rec.Termination.Cause != telephony.CauseShutdown ||
			rec.Termination.Party != telephony.PartyKill || rec.LastResponse.Code != tc.wantLast {
			t.Errorf("%s: record after shutdown = %+v, want ended kill/shutdown with last %d", tc.gateway, rec, tc.wantLast)
		}
	}
}
