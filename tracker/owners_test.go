package tracker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/internal/testenv"
)

// recoverAt is when the survivors of the tests below find the lost calls.
var recoverAt = suiteT0.Add(2 * time.Hour)

// newInstance returns a store of instance inst on c, whose clock says at.
func newInstance(t *testing.T, c redis.UniversalClient, inst string, at time.Time) *Redis {
	t.Helper()
	return newRedis(t, RedisConfig{Instance: inst, Now: func() time.Time { return at }}, c)
}

// crash stops inst the way a killed process does: its heartbeat is gone, the rest stays.
func crash(t *testing.T, c redis.UniversalClient, inst string) {
	t.Helper()
	if err := c.Del(t.Context(), heartbeatKey(inst)).Err(); err != nil {
		t.Fatal(err)
	}
}

// lost is c as recovery ends it.
func lost(c *telephony.Call, at time.Time) *telephony.Call {
	c = c.Clone()
	c.State, c.EndedAt = telephony.StateEnded, at
	c.Termination = telephony.Termination{Party: telephony.PartyKill, Cause: telephony.CauseLost}
	return c
}

// mustCreate creates c and writes each of its later versions.
func mustCreate(t *testing.T, s Store, c *telephony.Call, updates ...*telephony.Call) {
	t.Helper()
	if _, _, err := s.Create(t.Context(), c); err != nil {
		t.Fatalf("Create(%s): %v", c.ID, err)
	}
	for _, u := range updates {
		if err := s.Update(t.Context(), u); err != nil {
			t.Fatalf("Update(%s): %v", u.ID, err)
		}
	}
}

// dialing is a new call of the tests, created at suiteT0 plus n seconds.
func dialing(id string, n int) *telephony.Call {
	return &telephony.Call{ID: id, RequestID: "req-" + id, Gateway: "gw", From: "100", To: "79001234567",
		Labels: map[string]string{"campaign": "x"}, State: telephony.StateDialing, CreatedAt: suiteT0.Add(time.Duration(n) * time.Second)}
}

func rang(c *telephony.Call) *telephony.Call {
	c = c.Clone()
	c.State, c.LastResponse = telephony.StateRinging, telephony.Status{Code: 180, Reason: "Ringing"}
	c.InviteSentAt, c.ProgressAt = c.CreatedAt.Add(time.Millisecond), c.CreatedAt.Add(800*time.Millisecond)
	return c
}

func pickedUp(c *telephony.Call) *telephony.Call {
	c = rang(c)
	c.State, c.LastResponse = telephony.StateAnswered, telephony.Status{Code: 200, Reason: "OK"}
	c.AnsweredAt, c.SDPAnswer = c.CreatedAt.Add(3*time.Second), "v=0\r\n"
	return c
}

// checkCalls fails unless the store holds want, by ID.
func checkCalls(t *testing.T, s Store, want ...*telephony.Call) {
	t.Helper()
	for _, w := range want {
		got, err := s.Get(t.Context(), w.ID)
		if err != nil {
			t.Fatalf("Get(%s): %v", w.ID, err)
		}
		if diff := cmp.Diff(w, got, equalCalls); diff != "" {
			t.Errorf("call %s (-want +got):\n%s", w.ID, diff)
		}
	}
}

// checkBuckets fails unless the store's buckets count the ended calls want, each once.
func checkBuckets(t *testing.T, s Store, want ...*telephony.Call) {
	t.Helper()
	got, err := s.Buckets(t.Context(), "", "", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(expectBuckets(want), got); diff != "" {
		t.Errorf("buckets (-want +got):\n%s", diff)
	}
}

// checkOwnerKeys fails unless instance inst has a heartbeat (alive), a live set of exactly
// live, and an entry in instances (known).
func checkOwnerKeys(t *testing.T, c redis.UniversalClient, inst string, alive, known bool, live ...string) {
	t.Helper()
	ctx := t.Context()
	if got := c.Exists(ctx, heartbeatKey(inst)).Val() == 1; got != alive {
		t.Errorf("instance %s: got heartbeat %v, want %v", inst, got, alive)
	}
	if got := c.SIsMember(ctx, instancesKey, inst).Val(); got != known {
		t.Errorf("instance %s: got in %s %v, want %v", inst, instancesKey, got, known)
	}
	got := c.SMembers(ctx, liveKey(inst)).Val()
	slices.Sort(got)
	slices.Sort(live)
	if !slices.Equal(got, live) {
		t.Errorf("instance %s: got live calls %v, want %v", inst, got, live)
	}
	if len(live) == 0 && c.Exists(ctx, liveKey(inst)).Val() != 0 {
		t.Errorf("instance %s: empty live set still there", inst)
	}
}

func TestRecoverLost(t *testing.T) {
	t.Run("standalone", func(t *testing.T) {
		t.Parallel()
		testRecoverLost(t, newClient(t, testenv.StartRedis(t)))
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		testRecoverLost(t, startClusterRedis(t, 1)[0])
	})
}

// Instance A dies with a ringing and an answered call; B ends them as KILL / LOST with
// their last response, once, and nothing else: not A's ended calls, not the calls of L,
// which lives.
func testRecoverLost(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	a := newInstance(t, c, "A", suiteT0)
	b := newInstance(t, c, "B", recoverAt)
	l := newInstance(t, c, "L", suiteT0)

	ring := rang(dialing("ringing", 0))
	answer := pickedUp(dialing("answered", 1))
	rejected := ended(dialing("rejected", 2), 486, telephony.CauseRemoteRejected, suiteT0.Add(time.Minute))
	blocked := dialing("blocked", 3)
	blocked.State, blocked.EndedAt, blocked.LastResponse = telephony.StateEnded, blocked.CreatedAt, telephony.StatusDirectionBlocked
	blocked.Termination = telephony.Termination{Party: telephony.PartyKill, Cause: telephony.CauseDirectionBlocked}
	mustCreate(t, a, dialing("ringing", 0), ring)
	mustCreate(t, a, dialing("answered", 1), rang(answer), answer)
	mustCreate(t, a, dialing("rejected", 2), rejected)
	mustCreate(t, a, blocked)
	living := rang(dialing("living", 4))
	mustCreate(t, l, dialing("living", 4), living)
	checkOwnerKeys(t, c, "A", true, true, "ringing", "answered")

	if n, err := b.RecoverLost(ctx); err != nil || n != 0 {
		t.Fatalf("RecoverLost while A lives: got %d, %v, want 0, nil", n, err)
	}
	checkCalls(t, b, ring, answer, rejected, blocked, living)

	crash(t, c, "A")
	n, err := b.RecoverLost(ctx)
	if err != nil || n != 2 {
		t.Fatalf("RecoverLost: got %d, %v, want 2, nil", n, err)
	}
	want := []*telephony.Call{lost(ring, recoverAt), lost(answer, recoverAt), rejected, blocked, living}
	checkCalls(t, b, want...)
	checkBuckets(t, b, want[:4]...)
	checkOwnerKeys(t, c, "A", false, false)
	checkOwnerKeys(t, c, "L", true, true, "living")
	checkOwnerKeys(t, c, "B", false, false) // B created nothing: it owns nothing

	buckets, err := b.Buckets(ctx, "", "", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var causeLost, calls int64
	for _, bk := range buckets {
		causeLost += bk.Counters[prefixCause+"lost"]
		calls += bk.Counters[counterCalls]
	}
	if causeLost != 2 || calls != 4 {
		t.Errorf("buckets count %d calls, %d lost; want 4 calls, 2 lost", calls, causeLost)
	}

	if n, err := b.RecoverLost(ctx); err != nil || n != 0 {
		t.Fatalf("RecoverLost again: got %d, %v, want 0, nil", n, err)
	}
	checkCalls(t, b, want...)
	checkBuckets(t, b, want[:4]...)
}

// Two survivors recovering the same dead instance at once end each call once between them,
// and count it once.
func TestRecoverLostConcurrent(t *testing.T) {
	ctx := t.Context()
	c := newClient(t, testenv.StartRedis(t))
	a := newInstance(t, c, "A", suiteT0)
	var calls []*telephony.Call
	for i := range 40 {
		call := rang(dialing(fmt.Sprintf("call-%02d", i), i))
		mustCreate(t, a, dialing(call.ID, i), call)
		calls = append(calls, call)
	}
	crash(t, c, "A")

	survivors := []*Redis{newInstance(t, c, "B", recoverAt), newInstance(t, c, "C", recoverAt.Add(time.Second))}
	counts := make([]int, len(survivors))
	errs := make([]error, len(survivors))
	var wg sync.WaitGroup
	for i, s := range survivors {
		wg.Go(func() { counts[i], errs[i] = s.RecoverLost(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if counts[0]+counts[1] != len(calls) {
		t.Errorf("the survivors ended %v calls, want %d between them", counts, len(calls))
	}
	var want []*telephony.Call
	for _, call := range calls {
		got, err := a.Get(ctx, call.ID)
		if err != nil {
			t.Fatal(err)
		}
		// Whichever survivor ended it, the record is its end, whole.
		w := lost(call, recoverAt)
		if got.EndedAt.Equal(recoverAt.Add(time.Second)) {
			w = lost(call, recoverAt.Add(time.Second))
		}
		if diff := cmp.Diff(w, got, equalCalls); diff != "" {
			t.Errorf("call %s (-want +got):\n%s", call.ID, diff)
		}
		want = append(want, got)
	}
	checkBuckets(t, a, want...)
	for _, s := range survivors {
		if n, err := s.RecoverLost(ctx); err != nil || n != 0 {
			t.Errorf("RecoverLost again: got %d, %v, want 0, nil", n, err)
		}
	}
	checkBuckets(t, a, want...)
	checkOwnerKeys(t, c, "A", false, false)
}

// An instance restarted under a new id ends the calls its previous life left, and never
// its own, even with its heartbeat gone.
func TestRecoverLostAfterRestart(t *testing.T) {
	ctx := t.Context()
	c := newClient(t, testenv.StartRedis(t))
	before := newInstance(t, c, "A-1", suiteT0)
	old := pickedUp(dialing("old", 0))
	mustCreate(t, before, dialing("old", 0), old)
	crash(t, c, "A-1")

	after := newInstance(t, c, "A-2", recoverAt)
	fresh := rang(dialing("fresh", 1))
	mustCreate(t, after, dialing("fresh", 1), fresh)
	crash(t, c, "A-2") // its heartbeat lapsed: still its own calls
	n, err := after.RecoverLost(ctx)
	if err != nil || n != 1 {
		t.Fatalf("RecoverLost: got %d, %v, want 1, nil", n, err)
	}
	checkCalls(t, after, lost(old, recoverAt), fresh)
	checkBuckets(t, after, lost(old, recoverAt))
	checkOwnerKeys(t, c, "A-1", false, false)
	checkOwnerKeys(t, c, "A-2", false, true, "fresh")
}

// A crash between the steps of Create or of an end leaves an ID in a live set whose record
// is missing, or ended and maybe not counted: recovery counts it once and removes it, and
// never writes its own end over one already written.
func TestRecoverLostBetweenSteps(t *testing.T) {
	ctx := t.Context()
	c := newClient(t, testenv.StartRedis(t))
	a := newInstance(t, c, "A", suiteT0)
	// Create stopped after owning the call, before writing its record.
	if err := a.own(ctx, "never-written"); err != nil {
		t.Fatal(err)
	}
	// An end written, not counted: the record step of Update, without the rest.
	mustCreate(t, a, dialing("uncounted", 0))
	uncounted := ended(dialing("uncounted", 0), 486, telephony.CauseRemoteRejected, suiteT0.Add(time.Minute))
	data, err := encodeCall(uncounted)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.update.Run(ctx, c, []string{callKey("uncounted")}, data, "1", a.ttl, "gw", HourOf(uncounted).Unix()).Err(); err != nil {
		t.Fatal(err)
	}
	// An end counted, not removed from the live set.
	counted := ended(dialing("counted", 1), 487, telephony.CauseHangupRequested, suiteT0.Add(time.Minute))
	mustCreate(t, a, dialing("counted", 1), counted)
	if err := c.SAdd(ctx, liveKey("A"), "counted").Err(); err != nil {
		t.Fatal(err)
	}
	checkBuckets(t, a, counted)
	crash(t, c, "A")

	b := newInstance(t, c, "B", recoverAt)
	// A survivor that read the record before its owner ended it does not replace that end.
	if written, err := b.write(ctx, lost(dialing("uncounted", 0), recoverAt), "A", true); err != nil || written {
		t.Fatalf("recovery's write over an ended record: got written %v, %v, want false, nil", written, err)
	}
	for range 2 {
		if n, err := b.RecoverLost(ctx); err != nil || n != 0 {
			t.Fatalf("RecoverLost: got %d, %v, want 0, nil", n, err)
		}
		checkCalls(t, b, uncounted, counted)
		checkBuckets(t, b, uncounted, counted)
		checkOwnerKeys(t, c, "A", false, false)
	}
}

// Release forgets an instance whose calls have all ended, and leaves one with unfinished
// calls to recovery, at once.
func TestRelease(t *testing.T) {
	ctx := t.Context()
	c := newClient(t, testenv.StartRedis(t))
	clean := newInstance(t, c, "clean", suiteT0)
	done := ended(dialing("done", 0), 200, telephony.CauseRemoteHangup, suiteT0.Add(time.Minute))
	mustCreate(t, clean, dialing("done", 0), pickedUp(dialing("done", 0)), done)
	checkOwnerKeys(t, c, "clean", true, true)
	if err := clean.Release(ctx); err != nil {
		t.Fatal(err)
	}
	checkOwnerKeys(t, c, "clean", false, false)

	hasty := newInstance(t, c, "hasty", suiteT0)
	left := pickedUp(dialing("left", 1))
	mustCreate(t, hasty, dialing("left", 1), left)
	if err := hasty.Release(ctx); err != nil {
		t.Fatal(err)
	}
	checkOwnerKeys(t, c, "hasty", false, true, "left")
	b := newInstance(t, c, "B", recoverAt)
	if n, err := b.RecoverLost(ctx); err != nil || n != 1 {
		t.Fatalf("RecoverLost: got %d, %v, want 1, nil", n, err)
	}
	checkCalls(t, b, done, lost(left, recoverAt))
	checkOwnerKeys(t, c, "hasty", false, false)

	none := newRedis(t, RedisConfig{}, c)
	if err := none.Release(ctx); !errors.Is(err, ErrNoInstance) {
		t.Errorf("Release without an instance: got %v, want %v", err, ErrNoInstance)
	}
	if err := none.RunOwnership(ctx, time.Second); !errors.Is(err, ErrNoInstance) {
		t.Errorf("RunOwnership without an instance: got %v, want %v", err, ErrNoInstance)
	}
	if err := b.RunOwnership(ctx, -time.Second); err == nil {
		t.Error("RunOwnership with a negative interval: got nil, want an error")
	}
}

// RunOwnership keeps the heartbeat up while it runs; once it stops and the heartbeat
// expires, another instance's RunOwnership ends the calls left.
func TestRunOwnership(t *testing.T) {
	const interval = 20 * time.Millisecond
	c := newClient(t, testenv.StartRedis(t))
	// run runs s.RunOwnership until stop, or the end of the test.
	run := func(s *Redis) (stop func()) {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.RunOwnership(ctx, interval) }()
		stop = sync.OnceFunc(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("RunOwnership: got %v, want nil", err)
			}
		})
		t.Cleanup(stop)
		return stop
	}
	a := newRedis(t, RedisConfig{Instance: "A"}, c)
	stopA := run(a)
	testenv.Eventually(t, "A's heartbeat", func() bool {
		ttl := c.PTTL(t.Context(), heartbeatKey("A")).Val()
		return ttl > 0 && ttl <= beatsPerTTL*interval && c.SIsMember(t.Context(), instancesKey, "A").Val()
	})
	call := pickedUp(dialing("call", 0))
	mustCreate(t, a, dialing("call", 0), call)

	b := newRedis(t, RedisConfig{Instance: "B"}, c)
	run(b)
	stopA()
	testenv.Eventually(t, "A's call ended as lost", func() bool {
		got, err := b.Get(t.Context(), "call")
		return err == nil && got.Termination.Cause == telephony.CauseLost
	})
	got, err := b.Get(t.Context(), "call")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(lost(call, got.EndedAt), got, equalCalls); diff != "" || got.EndedAt.IsZero() {
		t.Errorf("call (-want +got):\n%s", diff)
	}
	testenv.Eventually(t, "A forgotten", func() bool { return !c.SIsMember(t.Context(), instancesKey, "A").Val() })
}

// The whole suite again with calls owned: ownership changes nothing a store answers.
func TestRedisOwned(t *testing.T) {
	testStore(t, func(t *testing.T) Store {
		return newRedis(t, RedisConfig{Now: suiteClock, Instance: "i-1", ReportLabels: suiteReportLabels}, newClient(t, testenv.StartRedis(t)))
	})
}
