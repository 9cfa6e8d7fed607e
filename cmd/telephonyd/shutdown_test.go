package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/client"
	"github.com/ccplane/telephony/internal/testenv"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/tracker"
)

// TestShutdownEndsAndRecordsLiveCalls stops telephonyd (as SIGTERM does) while a call rings:
// the call is CANCELled, ended as KILL / SHUTDOWN with its last response, its watcher's stream
// ends cleanly after the `ended` event, and the final record is in Redis when run returns.
func TestShutdownEndsAndRecordsLiveCalls(t *testing.T) {
	uas := testenv.StartSIPp(t, "ring_forever", testenv.SIPpOptions{})
	redisAddr := testenv.StartRedis(t)
	grpcAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "tcp"))
	svc := startService(t, fmt.Sprintf(`
grpc: {listen: %q}
sip: {listen: "127.0.0.1:0"}
redis: {url: "redis://%s/0"}
log: {level: warn}
gateways:
  - {name: sipp, address: %q, allow: [""]}
`, grpcAddr, redisAddr, uas.Addr()), grpcAddr)
	c, err := client.Dial(grpcAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	call, err := c.PlaceCall(context.Background(), &telephonyv1.PlaceCallRequest{Gateway: "sipp", To: "15550100180"})
	if err != nil {
		t.Fatal(err)
	}

	var last *telephonyv1.CallEvent
	watchErr := c.Watch(context.Background(), call.GetCallId(), 0, func(ev *telephonyv1.CallEvent) error {
		last = ev
		if ev.GetStateChanged().GetTo() == telephonyv1.CallState_CALL_STATE_RINGING {
			svc.cancel() // the signal
		}
		return nil
	})
	if watchErr != nil {
		t.Fatalf("watch during shutdown: %v, want the stream to end after `ended`", watchErr)
	}
	if got := last.GetEnded().GetTermination().GetCause(); got != telephonyv1.TerminationCause_TERMINATION_CAUSE_SHUTDOWN {
		t.Errorf("last event %v, want ended by shutdown", last)
	}
	svc.stop(t)
	uas.Wait(t) // it saw the CANCEL and the ACK of its 487

	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	store, err := tracker.NewRedis(tracker.RedisConfig{}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := store.Get(context.Background(), call.GetCallId())
	if err != nil {
		t.Fatalf("record after shutdown: %v", err)
	}
	if rec.State != telephony.StateEnded || rec.Termination.Cause != telephony.CauseShutdown ||
		rec.Termination.Party != telephony.PartyKill || rec.LastResponse.Code != 180 {
		t.Errorf("record after shutdown = %+v, want ended kill/shutdown with last 180", rec)
	}
}
