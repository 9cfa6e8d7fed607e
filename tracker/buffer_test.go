package tracker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/internal/testenv"
)

// While its store works, Buffered is the store, also when it writes behind.
func TestBuffered(t *testing.T) {
	testStore(t, func(t *testing.T) Store {
		return newBuffered(t, BufferConfig{}, NewMemory().WithReportLabels(suiteReportLabels...))
	})
}

func TestBufferedWriteBehind(t *testing.T) {
	testStore(t, func(t *testing.T) Store {
		b := newBuffered(t, BufferConfig{WriteBehind: true}, NewMemory().WithReportLabels(suiteReportLabels...))
		runBuffered(t, b)
		return b
	})
}

func newBuffered(t testing.TB, cfg BufferConfig, s Store) *Buffered {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	b, err := NewBuffered(cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// errUnreachable is what flakyStore fails with while down.
var errUnreachable = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

// flakyStore is a Memory that fails every call while down, like a store whose server is
// gone. attempts counts the Updates that reached it, failed or not. With maxPage set, List
// pages hold at most that many calls, whatever the limit, as Redis's do when ListScan cuts
// them short. updated, if set, is called after each Update the store took.
type flakyStore struct {
	*Memory
	down     atomic.Bool
	attempts atomic.Int64
	maxPage  int
	updated  func(c *telephony.Call)
}

func newFlaky() *flakyStore { return &flakyStore{Memory: NewMemory()} }

func (f *flakyStore) Create(ctx context.Context, c *telephony.Call) (*telephony.Call, bool, error) {
	if f.down.Load() {
		return nil, false, errUnreachable
	}
	return f.Memory.Create(ctx, c)
}

func (f *flakyStore) Update(ctx context.Context, c *telephony.Call) error {
	f.attempts.Add(1)
	if f.down.Load() {
		return errUnreachable
	}
	err := f.Memory.Update(ctx, c)
	if err == nil && f.updated != nil {
		f.updated(c)
	}
	return err
}

func (f *flakyStore) Get(ctx context.Context, id string) (*telephony.Call, error) {
	if f.down.Load() {
		return nil, errUnreachable
	}
	return f.Memory.Get(ctx, id)
}

func (f *flakyStore) List(ctx context.Context, fl Filter) ([]*telephony.Call, Cursor, error) {
	if f.down.Load() {
		return nil, Cursor{}, errUnreachable
	}
	if f.maxPage > 0 {
		fl.Limit = min(fl.limit(), f.maxPage)
	}
	return f.Memory.List(ctx, fl)
}

// createAll creates calls c-0 … c-(n-1) in the store, a second apart, dialling.
func createAll(t *testing.T, s Store, n int) []*telephony.Call {
	t.Helper()
	calls := make([]*telephony.Call, n)
	for i := range calls {
		calls[i] = &telephony.Call{ID: fmt.Sprintf("c-%d", i), Gateway: "gw", State: telephony.StateDialing,
			CreatedAt: suiteT0.Add(time.Duration(i) * time.Second)}
		if _, _, err := s.Create(t.Context(), calls[i]); err != nil {
			t.Fatal(err)
		}
	}
	return calls
}

func ringing(c *telephony.Call) *telephony.Call {
	c = c.Clone()
	c.State, c.LastResponse = telephony.StateRinging, telephony.Status{Code: 180}
	return c
}

func TestBufferedKeepsUpdatesWhileStoreIsDown(t *testing.T) {
	ctx := t.Context()
	fs := newFlaky()
	b := newBuffered(t, BufferConfig{}, fs)
	calls := createAll(t, b, 3)
	fs.down.Store(true)
	latest := []*telephony.Call{
		ended(calls[0], 486, telephony.CauseRemoteRejected, suiteT0.Add(time.Minute)),
		ringing(calls[1]),
		ended(calls[2], 200, telephony.CauseRemoteHangup, suiteT0.Add(time.Minute)),
	}
	for _, c := range []*telephony.Call{ringing(calls[0]), latest[0], latest[1], ringing(calls[2]), latest[2]} {
		if err := b.Update(ctx, c); err != nil {
			t.Fatalf("Update(%s) while the store is down: %v, want nil (buffered)", c.ID, err)
		}
	}
	if n := fs.attempts.Load(); n != 1 {
		t.Errorf("Updates that tried the store: got %d, want 1 (then it is known down)", n)
	}
	if n := b.Pending(); n != 3 {
		t.Errorf("Pending: got %d, want 3 (the latest version of each call)", n)
	}
	for _, want := range latest {
		got, err := b.Get(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Get(%s) while down (-want +got):\n%s", want.ID, diff)
		}
	}
	if _, _, err := b.List(ctx, Filter{}); !errors.Is(err, errUnreachable) {
		t.Errorf("List while down: got %v, want the store's error", err)
	}

	fs.down.Store(false)
	tests := []struct {
		name   string
		filter Filter
		want   []string
	}{
		{name: "buffered versions match", filter: Filter{State: telephony.StateEnded}, want: []string{"c-2", "c-0"}},
		{name: "stored versions are replaced", filter: Filter{State: telephony.StateDialing}, want: []string{}},
		{name: "all", want: []string{"c-2", "c-1", "c-0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := listIDs(t, b, tc.filter, 1); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}

	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := b.Pending(); n != 0 {
		t.Errorf("Pending after Flush: got %d, want 0", n)
	}
	for _, want := range latest {
		got, _ := fs.Memory.Get(ctx, want.ID)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("stored %s after Flush (-want +got):\n%s", want.ID, diff)
		}
	}
	got, err := b.Buckets(ctx, "", "", suiteT0.Add(-time.Hour), suiteT0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(expectBuckets([]*telephony.Call{latest[0], latest[2]}), got); diff != "" {
		t.Errorf("buckets (-want +got):\n%s", diff)
	}
}

// A call with a buffered version is written through the buffer, even once the store works
// again: a direct write could land before the older buffered one and be overwritten.
func TestBufferedWritesACallInOrder(t *testing.T) {
	ctx := t.Context()
	fs := newFlaky()
	b := newBuffered(t, BufferConfig{}, fs)
	calls := createAll(t, b, 2)
	fs.down.Store(true)
	if err := b.Update(ctx, ringing(calls[0])); err != nil {
		t.Fatal(err)
	}
	fs.down.Store(false)
	// As Run leaves it once it has written other records while this call's still waits.
	b.mu.Lock()
	b.down = false
	b.mu.Unlock()
	final := ended(calls[0], 200, telephony.CauseRemoteHangup, suiteT0.Add(time.Minute))
	steps := []struct {
		name        string
		update      *telephony.Call
		wantStored  telephony.State // in the store, before a flush
		wantGet     *telephony.Call
		wantPending int
	}{
		{name: "behind a buffered version", update: final, wantStored: telephony.StateDialing, wantGet: final, wantPending: 1},
		{name: "stale after a buffered end", update: ringing(calls[0]), wantStored: telephony.StateDialing, wantGet: final, wantPending: 1},
		{name: "another call goes straight to the store", update: ringing(calls[1]), wantStored: telephony.StateDialing, wantGet: final, wantPending: 1},
	}
	for _, st := range steps {
		if err := b.Update(ctx, st.update); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got, _ := fs.Memory.Get(ctx, calls[0].ID); got.State != st.wantStored {
			t.Errorf("%s: stored state %v, want %v", st.name, got.State, st.wantStored)
		}
		if got, _ := b.Get(ctx, calls[0].ID); !cmp.Equal(got, st.wantGet) {
			t.Errorf("%s: Get: got %+v, want %+v", st.name, got, st.wantGet)
		}
		if n := b.Pending(); n != st.wantPending {
			t.Errorf("%s: Pending: got %d, want %d", st.name, n, st.wantPending)
		}
	}
	if got, _ := fs.Memory.Get(ctx, calls[1].ID); got.State != telephony.StateRinging {
		t.Errorf("call 1 in the store: got %v, want ringing", got.State)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := fs.Memory.Get(ctx, calls[0].ID); !cmp.Equal(got, final) {
		t.Errorf("call 0 after Flush: got %+v, want the final version", got)
	}
}

// When the buffer is full, intermediate records give way to final ones and old to new.
func TestBufferedBound(t *testing.T) {
	tests := []struct {
		name        string
		updates     []string // call index and version: "p1" = call 1 ringing, "f1" = call 1 ended
		wantKept    []string // the buffered versions, as updates names them
		wantDropped int64
	}{
		{name: "within the bound", updates: []string{"p1", "p2", "f3"}, wantKept: []string{"p1", "p2", "f3"}},
		{name: "newer versions take no room", updates: []string{"p1", "p2", "p3", "f1", "f2"}, wantKept: []string{"f1", "f2", "p3"}},
		{name: "oldest intermediate goes", updates: []string{"p1", "p2", "p3", "p4"}, wantKept: []string{"p2", "p3", "p4"}, wantDropped: 1},
		{name: "a final record displaces an intermediate one", updates: []string{"f1", "p2", "p3", "f4"},
			wantKept: []string{"f1", "p3", "f4"}, wantDropped: 1},
		{name: "an intermediate record does not displace a final one", updates: []string{"f1", "f2", "f3", "p4"},
			wantKept: []string{"f1", "f2", "f3"}, wantDropped: 1},
		{name: "the oldest final goes for a new final", updates: []string{"f1", "f2", "f3", "f4", "p5"},
			wantKept: []string{"f2", "f3", "f4"}, wantDropped: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			fs := newFlaky()
			b := newBuffered(t, BufferConfig{Bound: 3}, fs)
			calls := createAll(t, fs, 6)
			version := func(name string) *telephony.Call {
				c := calls[name[1]-'0']
				if name[0] == 'f' {
					return ended(c, 486, telephony.CauseRemoteRejected, suiteT0.Add(time.Minute))
				}
				return ringing(c)
			}
			fs.down.Store(true)
			for _, u := range tc.updates {
				if err := b.Update(ctx, version(u)); err != nil {
					t.Fatal(err)
				}
			}
			var want []*telephony.Call
			for _, k := range tc.wantKept {
				want = append(want, version(k))
			}
			var got []*telephony.Call
			for _, c := range calls {
				if c, _ := b.Get(ctx, c.ID); c != nil {
					got = append(got, c)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("buffered (-want +got):\n%s", diff)
			}
			if n := b.Dropped(); n != tc.wantDropped {
				t.Errorf("Dropped: got %d, want %d", n, tc.wantDropped)
			}
		})
	}
}

// Buffered versions join the pages they belong to, and pages stay without gaps or
// duplicates when that makes one longer than the limit, or when the store's pages are
// shorter than it.
func TestBufferedListPages(t *testing.T) {
	for _, maxPage := range []int{0, 1, 2} {
		t.Run(fmt.Sprintf("store pages of at most %d", maxPage), func(t *testing.T) { testBufferedListPages(t, maxPage) })
	}
}

func testBufferedListPages(t *testing.T, maxPage int) {
	ctx := t.Context()
	fs := newFlaky()
	fs.maxPage = maxPage
	b := newBuffered(t, BufferConfig{}, fs)
	calls := createAll(t, b, 8)
	fs.down.Store(true)
	for _, i := range []int{1, 2, 3, 6} {
		if err := b.Update(ctx, ended(calls[i], 486, telephony.CauseRemoteRejected, suiteT0.Add(time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	fs.down.Store(false)
	tests := []struct {
		name   string
		filter Filter
		want   []string
	}{
		{name: "only buffered versions match", filter: Filter{State: telephony.StateEnded}, want: []string{"c-6", "c-3", "c-2", "c-1"}},
		{name: "buffered versions no longer match", filter: Filter{State: telephony.StateDialing}, want: []string{"c-7", "c-5", "c-4", "c-0"}},
		{name: "mixed", want: []string{"c-7", "c-6", "c-5", "c-4", "c-3", "c-2", "c-1", "c-0"}},
		{name: "after a cursor", filter: Filter{State: telephony.StateEnded, After: Cursor{CreatedAt: calls[3].CreatedAt, ID: "c-3"}},
			want: []string{"c-2", "c-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, limit := range []int{1, 3, 10} {
				if got := listIDs(t, b, tc.filter, limit); !slices.Equal(got, tc.want) {
					t.Errorf("pages of %d: got %v, want %v", limit, got, tc.want)
				}
			}
		})
	}
}

// Flush gives up when its context ends, saying so, and keeps what it could not write.
func TestBufferedFlushUntilContextEnds(t *testing.T) {
	fs := newFlaky()
	b := newBuffered(t, BufferConfig{RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond}, fs)
	calls := createAll(t, b, 1)
	fs.down.Store(true)
	if err := b.Update(t.Context(), ringing(calls[0])); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := b.Flush(ctx); !errors.Is(err, errUnreachable) {
		t.Errorf("Flush: got %v, want the store's error", err)
	}
	if n := b.Pending(); n != 1 {
		t.Errorf("Pending: got %d, want 1", n)
	}
	if n := fs.attempts.Load(); n < 3 {
		t.Errorf("store attempts: got %d, want a few retries", n)
	}
}

// A record the store refuses (its call is unknown) is not kept for ever.
func TestBufferedDropsRefusedRecords(t *testing.T) {
	ctx := t.Context()
	fs := newFlaky()
	b := newBuffered(t, BufferConfig{}, fs)
	fs.down.Store(true)
	if err := b.Update(ctx, &telephony.Call{ID: "never-created"}); err != nil {
		t.Fatal(err)
	}
	fs.down.Store(false)
	if err := b.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v, want nil (the record is dropped and logged)", err)
	}
	if n := b.Pending(); n != 0 {
		t.Errorf("Pending: got %d, want 0", n)
	}
	if err := b.Update(ctx, &telephony.Call{ID: "never-created"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update of an unknown call with the store up: got %v, want %v", err, ErrNotFound)
	}
}

// A version that arrives while the previous one is being written is written after it, not
// lost with it.
func TestBufferedNewerVersionDuringWrite(t *testing.T) {
	ctx := t.Context()
	fs := newFlaky()
	b := newBuffered(t, BufferConfig{}, fs)
	calls := createAll(t, b, 1)
	fs.down.Store(true)
	if err := b.Update(ctx, ringing(calls[0])); err != nil {
		t.Fatal(err)
	}
	fs.down.Store(false)
	final := ended(calls[0], 200, telephony.CauseRemoteHangup, suiteT0.Add(time.Minute))
	fs.updated = func(c *telephony.Call) {
		if c.State == telephony.StateRinging { // the buffered version has just been written
			if err := b.Update(ctx, final); err != nil {
				t.Errorf("Update during the write: %v", err)
			}
		}
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := fs.Memory.Get(ctx, calls[0].ID); !cmp.Equal(got, final) {
		t.Errorf("stored after Flush: got %+v, want the final version", got)
	}
	if n := b.Pending(); n != 0 {
		t.Errorf("Pending: got %d, want 0", n)
	}
}

// With WriteBehind an Update never waits for the store, even one that hangs, and the
// versions of a call that pile up meanwhile reach the store as one write of the latest.
func TestBufferedWriteBehindNeverWaits(t *testing.T) {
	ctx := t.Context()
	store := newFlaky()
	gate := make(chan struct{})
	var writes atomic.Int64
	store.updated = func(*telephony.Call) {
		if writes.Add(1) == 1 {
			<-gate // the first write hangs until the test has made its Updates
		}
	}
	b := newBuffered(t, BufferConfig{WriteBehind: true}, store)
	runBuffered(t, b)
	c := &telephony.Call{ID: "wb", Gateway: "gw", CreatedAt: suiteT0, State: telephony.StateDialing}
	if _, _, err := b.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	trying := c.Clone()
	trying.State = telephony.StateTrying
	if err := b.Update(ctx, trying); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the first write to hang in the store", func() bool { return writes.Load() == 1 })

	versions := []telephony.State{telephony.StateRinging, telephony.StateEarlyMedia, telephony.StateAnswered}
	done := make(chan error, 1)
	go func() {
		for _, s := range versions {
			v := c.Clone()
			v.State = s
			if err := b.Update(ctx, v); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testenv.WaitFor):
		t.Fatal("Update waited for a store that hangs")
	}
	if got, _ := b.Get(ctx, c.ID); got.State != telephony.StateAnswered {
		t.Errorf("Get while the store hangs: state %v, want the latest, answered", got.State)
	}
	close(gate)
	testenv.Eventually(t, "the latest version in the store", func() bool {
		got, err := store.Memory.Get(ctx, c.ID)
		return err == nil && got.State == telephony.StateAnswered
	})
	if n := writes.Load(); n != 2 {
		t.Errorf("store writes: %d, want 2 (the hung one, then the three later versions as one)", n)
	}
}

// With a Linger, the versions of a call made within it reach the store as one write of the
// latest, and Get answers that version from the buffer meanwhile.
func TestBufferedLingerCollapsesVersions(t *testing.T) {
	ctx := t.Context()
	store := newFlaky()
	var writes atomic.Int64
	store.updated = func(*telephony.Call) { writes.Add(1) }
	b := newBuffered(t, BufferConfig{WriteBehind: true, Linger: 500 * time.Millisecond}, store)
	runBuffered(t, b)
	c := &telephony.Call{ID: "linger", Gateway: "gw", CreatedAt: suiteT0, State: telephony.StateDialing}
	if _, _, err := b.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	update := func(s telephony.State) {
		t.Helper()
		v := c.Clone()
		v.State = s
		if err := b.Update(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	stored := func(s telephony.State) {
		t.Helper()
		testenv.Eventually(t, fmt.Sprintf("the store to have the call %v", s), func() bool {
			got, err := store.Memory.Get(ctx, c.ID)
			return err == nil && got.State == s
		})
	}
	// A first version, written alone: Run is then waiting to be woken, as in a busy service.
	update(telephony.StateTrying)
	stored(telephony.StateTrying)
	writes.Store(0)

	for _, s := range []telephony.State{telephony.StateRinging, telephony.StateEarlyMedia, telephony.StateAnswered} {
		update(s)
		// Without the linger, Run would write each version in this pause.
		time.Sleep(20 * time.Millisecond)
	}
	if got, _ := b.Get(ctx, c.ID); got.State != telephony.StateAnswered {
		t.Errorf("Get within the linger: state %v, want the latest, answered", got.State)
	}
	stored(telephony.StateAnswered)
	if n := writes.Load(); n != 1 {
		t.Errorf("store writes: %d, want 1 (three versions within the linger)", n)
	}
}
