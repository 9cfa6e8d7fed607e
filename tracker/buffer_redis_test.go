package tracker

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/internal/testenv"
)

// runBuffered runs b.Run until the test ends, and waits for it to return then.
func runBuffered(t *testing.T, b *Buffered) {
	t.Helper()
	testenv.Run(t, "buffered records", b.Run)
}

// Redis goes away in the middle of a batch of calls: every one of them is updated and ends
// while it is down, and once it is back they are all there, final, and counted once.
func TestBufferedRedisOutage(t *testing.T) {
	ctx := t.Context()
	srv := testenv.StartRedisServer(t, testenv.RedisOptions{Persist: true})
	rs := newRedis(t, RedisConfig{Now: suiteClock}, newClient(t, srv.Addr()))
	b := newBuffered(t, BufferConfig{WriteTimeout: time.Second, RetryMin: 5 * time.Millisecond, RetryMax: 50 * time.Millisecond}, rs)
	runBuffered(t, b)

	const n = 300
	calls := make([]*telephony.Call, n)
	for i := range calls {
		c := &telephony.Call{ID: fmt.Sprintf("out-%03d", i), RequestID: fmt.Sprintf("req-%03d", i),
			Gateway: []string{"gw-a", "gw-b"}[i%2], State: telephony.StateDialing,
			CreatedAt: suiteT0.Add(time.Duration(i) * 20 * time.Second)}
		if _, _, err := b.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		calls[i] = ringing(c)
		if err := b.Update(ctx, calls[i]); err != nil {
			t.Fatal(err)
		}
	}

	srv.Stop()
	finals := make([]*telephony.Call, n)
	for i, c := range calls {
		answered := c.Clone()
		answered.State, answered.LastResponse, answered.AnsweredAt = telephony.StateAnswered, telephony.Status{Code: 200}, c.CreatedAt.Add(5*time.Second)
		finals[i] = ended(answered, 200, telephony.CauseRemoteHangup, c.CreatedAt.Add(time.Minute))
		if i%3 == 0 {
			finals[i] = ended(c, 486, telephony.CauseRemoteRejected, c.CreatedAt.Add(3*time.Second))
		}
		for _, u := range []*telephony.Call{answered, finals[i]} {
			if err := b.Update(ctx, u); err != nil {
				t.Fatalf("Update(%s) with Redis down: %v, want nil (buffered)", u.ID, err)
			}
		}
	}
	if got, err := b.Get(ctx, finals[7].ID); err != nil || !cmp.Equal(got, finals[7]) {
		t.Errorf("Get with Redis down: got %+v, %v, want the buffered final record", got, err)
	}
	if p := b.Pending(); p != n {
		t.Errorf("Pending with Redis down: got %d, want %d", p, n)
	}

	srv.Start()
	testenv.Eventually(t, "the buffer written to Redis", func() bool { return b.Pending() == 0 })
	// The records are final, and counted once, for any instance to see.
	other := newRedis(t, RedisConfig{Now: suiteClock}, newClient(t, srv.Addr()))
	check := func(when string) {
		t.Helper()
		for _, want := range finals {
			got, err := other.Get(ctx, want.ID)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if diff := cmp.Diff(want, got, equalCalls); diff != "" {
				t.Fatalf("%s: %s (-want +got):\n%s", when, want.ID, diff)
			}
		}
		got, err := other.Buckets(ctx, "", "", suiteT0.Add(-time.Hour), suiteT0.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(expectBuckets(finals), got); diff != "" {
			t.Errorf("%s: buckets (-want +got):\n%s", when, diff)
		}
	}
	check("after the outage")
	if got := listIDs(t, other, Filter{State: telephony.StateEnded}, 100); len(got) != n {
		t.Errorf("listed %d ended calls, want %d", len(got), n)
	}
	// Writing the final records again (a retry, a Flush at shutdown) counts nothing more.
	for _, c := range finals {
		if err := b.Update(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	check("after writing the final records again")
}
