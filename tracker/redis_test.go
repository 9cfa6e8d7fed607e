package tracker

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/internal/testenv"
)

func TestRedis(t *testing.T) {
	testStore(t, func(t *testing.T) Store { return newRedisStore(t) })
}

// UpdateMany is Update, batched: every Update of the suite goes through it, one call at a
// time, and then in the batches a write-behind buffer makes of many calls.
func TestRedisUpdateMany(t *testing.T) {
	t.Run("one at a time", func(t *testing.T) {
		testStore(t, func(t *testing.T) Store { return batchOfOne{newRedisStore(t)} })
	})
	t.Run("write-behind batches", func(t *testing.T) {
		testStore(t, func(t *testing.T) Store {
			b := newBuffered(t, BufferConfig{WriteBehind: true}, newRedisStore(t))
			runBuffered(t, b)
			return b
		})
	})
}

// batchOfOne is a Redis whose Update is UpdateMany of one call.
type batchOfOne struct{ *Redis }

func (b batchOfOne) Update(ctx context.Context, c *telephony.Call) error {
	return b.UpdateMany(ctx, []*telephony.Call{c})[0]
}

// The layout is an interface too: operators read it with redis-cli, a Cluster needs each
// call's keys in one slot, and retention is the keys' TTL.
func TestRedisLayout(t *testing.T) {
	ctx := t.Context()
	c := newClient(t, testenv.StartRedis(t))
	s := newRedis(t, RedisConfig{Retention: 48 * time.Hour, Now: suiteClock}, c)
	call := &telephony.Call{ID: "id-1", RequestID: "req-1", Gateway: "gw-1", CreatedAt: suiteT0, State: telephony.StateDialing}
	if _, _, err := s.Create(ctx, call); err != nil {
		t.Fatal(err)
	}
	final := ended(call, 486, telephony.CauseRemoteRejected, suiteT0.Add(time.Second))
	if err := s.Update(ctx, final); err != nil {
		t.Fatal(err)
	}
	hour := strconv.FormatInt(HourOf(final).Unix(), 10)
	member := fmt.Sprintf("%019d:id-1", suiteT0.UnixNano())
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	want := []string{"call:{id-1}", "callreq:{req-1}", "calls:all", "calls:{g:gw-1}", "report:gateways",
		"report:{g:gw-1}:" + hour, "report:{g:gw-1}:" + hour + ":ids", "report:{g:gw-1}:hours"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Fatalf("keys (-want +got):\n%s", diff)
	}
	tests := []struct {
		key     string
		read    func(key string) (any, error)
		want    any
		expires bool // with the retention as TTL; else never
	}{
		{key: "call:{id-1}", read: func(k string) (any, error) {
			h, err := c.HGetAll(ctx, k).Result()
			delete(h, "r") // the encoded record: its decoding is tested by the suite
			return h, err
		}, want: map[string]string{"e": "1", "bg": "gw-1", "bh": hour}, expires: true},
		{key: "callreq:{req-1}", read: func(k string) (any, error) { return c.Get(ctx, k).Result() }, want: "id-1", expires: true},
		{key: "calls:all", read: func(k string) (any, error) { return c.ZRange(ctx, k, 0, -1).Result() }, want: []string{member}},
		{key: "calls:{g:gw-1}", read: func(k string) (any, error) { return c.ZRange(ctx, k, 0, -1).Result() }, want: []string{member}},
		{key: "report:gateways", read: func(k string) (any, error) { return c.SMembers(ctx, k).Result() }, want: []string{"gw-1"}},
		{key: "report:{g:gw-1}:hours", read: func(k string) (any, error) { return c.ZRange(ctx, k, 0, -1).Result() }, want: []string{hour}},
		{key: "report:{g:gw-1}:" + hour, read: func(k string) (any, error) { return c.HGetAll(ctx, k).Result() },
			want: stringCounters(Counters(final)), expires: true},
		{key: "report:{g:gw-1}:" + hour + ":ids", read: func(k string) (any, error) { return c.SMembers(ctx, k).Result() },
			want: []string{"id-1"}, expires: true},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			got, err := tc.read(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("content (-want +got):\n%s", diff)
			}
			ttl, err := c.PTTL(ctx, tc.key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if tc.expires && (ttl <= 47*time.Hour || ttl > 48*time.Hour) {
				t.Errorf("TTL: got %v, want the retention, 48h", ttl)
			}
			if !tc.expires && ttl != -1 {
				t.Errorf("TTL: got %v, want none (trimmed by time instead)", ttl)
			}
		})
	}
}

func stringCounters(m map[string]int64) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = strconv.FormatInt(v, 10)
	}
	return out
}

// Index entries and hours older than the retention are trimmed as new calls come, so the
// listing and the report forget what the record keys' TTL removes.
func TestRedisRetentionTrimsIndexes(t *testing.T) {
	ctx := t.Context()
	c := newClient(t, testenv.StartRedis(t))
	now := suiteT0
	s := newRedis(t, RedisConfig{Retention: 24 * time.Hour, Now: func() time.Time { return now }}, c)
	write := func(id string, at time.Time) *telephony.Call {
		t.Helper()
		var final *telephony.Call
		if err := runCall(ctx, s, id, "gw-1", at, &final); err != nil {
			t.Fatal(err)
		}
		return final
	}
	write("old", suiteT0)
	now = suiteT0.Add(25 * time.Hour)
	young := write("young", now)

	if got := listIDs(t, s, Filter{}, 10); !slices.Equal(got, []string{"young"}) {
		t.Errorf("listed %v, want [young]", got)
	}
	if got := listIDs(t, s, Filter{Gateway: "gw-1"}, 10); !slices.Equal(got, []string{"young"}) {
		t.Errorf("listed gw-1: %v, want [young]", got)
	}
	buckets, err := s.Buckets(ctx, "", "", suiteT0.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(expectBuckets([]*telephony.Call{young}), buckets); diff != "" {
		t.Errorf("buckets (-want +got):\n%s", diff)
	}
	// The old record itself goes by its TTL, which Redis counts on its own clock.
	if ttl := c.PTTL(ctx, callKey("old")).Val(); ttl <= 0 || ttl > 24*time.Hour {
		t.Errorf("old record TTL: got %v, want at most the retention, 24h", ttl)
	}
}

// A new instance (a restarted service) reads what the previous one wrote, and so does one
// after Redis itself restarted, which also lost the scripts it had loaded.
func TestRedisRecordsSurviveRestart(t *testing.T) {
	ctx := t.Context()
	srv := testenv.StartRedisServer(t, testenv.RedisOptions{Persist: true})
	before := newRedis(t, RedisConfig{Now: suiteClock}, newClient(t, srv.Addr()))
	var finals []*telephony.Call
	for i := range 5 {
		var final *telephony.Call
		if err := runCall(ctx, before, fmt.Sprintf("r-%d", i), "gw-1", suiteT0.Add(time.Duration(i)*time.Minute), &final); err != nil {
			t.Fatal(err)
		}
		finals = append(finals, final)
	}
	live := &telephony.Call{ID: "r-live", Gateway: "gw-1", CreatedAt: suiteT0.Add(time.Hour), State: telephony.StateRinging}
	if _, _, err := before.Create(ctx, live); err != nil {
		t.Fatal(err)
	}
	check := func(s *Redis, finals []*telephony.Call, wantIDs []string) {
		t.Helper()
		for _, want := range finals {
			got, err := s.Get(ctx, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, equalCalls); diff != "" {
				t.Errorf("%s (-want +got):\n%s", want.ID, diff)
			}
		}
		if got := listIDs(t, s, Filter{}, 2); !slices.Equal(got, wantIDs) {
			t.Errorf("listed %v, want %v", got, wantIDs)
		}
		got, err := s.Buckets(ctx, "", "", suiteT0.Add(-time.Hour), suiteT0.Add(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(expectBuckets(finals), got); diff != "" {
			t.Errorf("buckets (-want +got):\n%s", diff)
		}
	}
	ids := []string{"r-live", "r-4", "r-3", "r-2", "r-1", "r-0"}
	check(newRedis(t, RedisConfig{Now: suiteClock}, newClient(t, srv.Addr())), finals, ids)

	srv.Stop()
	srv.Start()
	after := newRedis(t, RedisConfig{Now: suiteClock}, newClient(t, srv.Addr()))
	check(after, finals, ids)
	end := ended(live, 200, telephony.CauseRemoteHangup, live.CreatedAt.Add(time.Minute))
	if err := after.Update(ctx, end); err != nil {
		t.Fatalf("ending a call after Redis restarted: %v", err)
	}
	check(after, append(finals, end), ids)
}

// A request id claimed by a Create that failed before writing its record is taken over by
// the client's retry, rather than answering a call that never existed.
func TestRedisCreateTakesOverAbandonedClaim(t *testing.T) {
	ctx := t.Context()
	c := newClient(t, testenv.StartRedis(t))
	s := newRedis(t, RedisConfig{Now: suiteClock}, c)
	s.claimWait = 20 * time.Millisecond
	if err := c.Set(ctx, requestKey("req-1"), "ghost", 0).Err(); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		call        *telephony.Call
		wantCreated bool
		wantID      string
	}{
		{call: &telephony.Call{ID: "retry", RequestID: "req-1", CreatedAt: suiteT0}, wantCreated: true, wantID: "retry"},
		{call: &telephony.Call{ID: "another", RequestID: "req-1", CreatedAt: suiteT0}, wantCreated: false, wantID: "retry"},
	}
	for _, st := range steps {
		got, created, err := s.Create(ctx, st.call)
		if err != nil || created != st.wantCreated || got.ID != st.wantID {
			t.Errorf("Create(%s): got %v, created %v, %v, want call %s, created %v", st.call.ID, got, created, err, st.wantID, st.wantCreated)
		}
	}
	if owner := c.Get(ctx, requestKey("req-1")).Val(); owner != "retry" {
		t.Errorf("claim: got %q, want %q", owner, "retry")
	}
}

// With ListScan small, a filter matching few calls pages through the index in short
// pages, and finds the same calls.
func TestRedisListScanBound(t *testing.T) {
	ctx := t.Context()
	s := newRedis(t, RedisConfig{ListScan: 5, Now: suiteClock}, newClient(t, testenv.StartRedis(t)))
	for i := range 40 {
		c := &telephony.Call{ID: fmt.Sprintf("s-%02d", i), Gateway: "gw", CreatedAt: suiteT0.Add(time.Duration(i) * time.Second)}
		if i == 3 || i == 31 {
			c.Labels = map[string]string{"pick": "me"}
		}
		if _, _, err := s.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	f := Filter{Labels: map[string]string{"pick": "me"}, Limit: 10}
	page, next, err := s.List(ctx, f)
	if err != nil || len(page) != 0 || next.ID != "s-35" {
		t.Errorf("first page: got %d calls, next %v, %v, want none and a cursor at s-35 (5 read)", len(page), next, err)
	}
	if got := listIDs(t, s, f, 10); !slices.Equal(got, []string{"s-31", "s-03"}) {
		t.Errorf("pages: got %v, want [s-31 s-03]", got)
	}
}

// A filter matching few calls reads the index in several batches within one List; the
// last call of a batch is not read again by the next.
func TestRedisListReadsBatches(t *testing.T) {
	ctx := t.Context()
	s := newRedisStore(t)
	picks := map[int]bool{3: true, 16: true, 47: true, 48: true} // 48 ends the first batch of 32, 16 the second
	var want []string
	for i := 79; i >= 0; i-- {
		c := &telephony.Call{ID: fmt.Sprintf("s-%02d", i), Gateway: "gw", CreatedAt: suiteT0.Add(time.Duration(i) * time.Second)}
		if picks[i] {
			c.Labels = map[string]string{"pick": "me"}
			want = append(want, c.ID)
		}
		if _, _, err := s.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	f := Filter{Labels: map[string]string{"pick": "me"}, Limit: 10}
	page, next, err := s.List(ctx, f)
	if err != nil || !next.IsZero() || len(page) != len(want) {
		t.Errorf("one List: got %d calls, next %v, %v, want all %d and no next page", len(page), next, err, len(want))
	}
	if got := listIDs(t, s, f, 10); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
