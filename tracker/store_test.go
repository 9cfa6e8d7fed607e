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
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ccplane/telephony"
)

// testStore is the suite every Store passes. newStore returns an empty store each time,
// with report label keys suiteReportLabels: listings and buckets see everything a store
// holds.
func testStore(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("create is idempotent per request id", func(t *testing.T) { t.Parallel(); testStoreCreate(t, newStore(t)) })
	t.Run("update and get", func(t *testing.T) { t.Parallel(); testStoreUpdate(t, newStore(t)) })
	t.Run("invalid records", func(t *testing.T) { t.Parallel(); testStoreInvalid(t, newStore(t)) })
	t.Run("list", func(t *testing.T) { t.Parallel(); testStoreList(t, newStore(t)) })
	t.Run("buckets count each call once", func(t *testing.T) { t.Parallel(); testStoreBuckets(t, newStore(t)) })
	t.Run("label buckets", func(t *testing.T) { t.Parallel(); testStoreLabelBuckets(t, newStore(t)) })
	t.Run("concurrent calls", func(t *testing.T) { t.Parallel(); testStoreConcurrent(t, newStore(t)) })
}

// suiteT0 is the hour the suite's calls start in; the nanoseconds check that stores keep them.
var suiteT0 = time.Date(2026, 11, 25, 10, 0, 0, 123, time.UTC)

// equalCalls compares records: a nil and an empty label map are the same record.
var equalCalls = cmpopts.EquateEmpty()

func testStoreCreate(t *testing.T, s Store) {
	ctx := t.Context()
	first := &telephony.Call{ID: "a", RequestID: "req-1", Gateway: "gw", CreatedAt: suiteT0, State: telephony.StateDialing,
		Labels: map[string]string{"campaign": "x"}}
	steps := []struct {
		name        string
		call        *telephony.Call
		wantCreated bool
		want        *telephony.Call // the call Create answers
	}{
		{name: "first of a request", call: first, wantCreated: true, want: first},
		{name: "same request, another call", call: &telephony.Call{ID: "b", RequestID: "req-1", Gateway: "gw", CreatedAt: suiteT0.Add(time.Second)},
			wantCreated: false, want: first},
		{name: "the same Create again", call: first, wantCreated: true, want: first},
		{name: "no request id", call: &telephony.Call{ID: "c", Gateway: "gw", CreatedAt: suiteT0.Add(2 * time.Second)}, wantCreated: true},
		{name: "another request", call: &telephony.Call{ID: "d", RequestID: "req-2", Gateway: "gw", CreatedAt: suiteT0.Add(3 * time.Second)}, wantCreated: true},
	}
	for _, st := range steps {
		got, created, err := s.Create(ctx, st.call)
		if err != nil {
			t.Fatalf("%s: Create: %v", st.name, err)
		}
		want := st.want
		if want == nil {
			want = st.call
		}
		if created != st.wantCreated {
			t.Errorf("%s: got created %v, want %v", st.name, created, st.wantCreated)
		}
		if diff := cmp.Diff(want, got, equalCalls); diff != "" {
			t.Errorf("%s: Create returned (-want +got):\n%s", st.name, diff)
		}
	}
	if _, err := s.Get(ctx, "b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(b): got %v, want %v (its request was a's)", err, ErrNotFound)
	}
	if got := listIDs(t, s, Filter{}, 10); fmt.Sprint(got) != "[d c a]" {
		t.Errorf("listed %v, want [d c a]", got)
	}
	// The caller's call is not the store's: changing it changes nothing stored.
	first.Labels["campaign"] = "changed by the caller"
	if got, err := s.Get(ctx, "a"); err != nil || got.Labels["campaign"] != "x" {
		t.Errorf("Get(a) after the caller changed its copy: got %v, %v, want campaign x", got, err)
	}
}

func testStoreUpdate(t *testing.T, s Store) {
	ctx := t.Context()
	c := &telephony.Call{ID: "call-1", RequestID: "r", Gateway: "gw", From: "100", To: "79001234567",
		Labels: map[string]string{"agent_id": "7"}, SIPCallID: "sip-1", State: telephony.StateDialing, CreatedAt: suiteT0}
	if _, _, err := s.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	ringing := c.Clone()
	ringing.State, ringing.LastResponse = telephony.StateRinging, telephony.Status{Code: 180, Reason: "Ringing"}
	ringing.InviteSentAt, ringing.ProgressAt = suiteT0.Add(time.Millisecond), suiteT0.Add(700*time.Millisecond)
	answered := ringing.Clone()
	answered.State, answered.LastResponse = telephony.StateAnswered, telephony.Status{Code: 200, Reason: "OK"}
	answered.AnsweredAt, answered.SDPAnswer = suiteT0.Add(3*time.Second), "v=0\r\n"
	hungUp := answered.Clone()
	hungUp.State, hungUp.EndedAt = telephony.StateEnded, suiteT0.Add(time.Minute)
	hungUp.Termination = telephony.Termination{Party: telephony.PartyFinish, Cause: telephony.CauseRemoteHangup,
		Reason: &telephony.Reason{Protocol: "Q.850", Cause: 16, Text: "Normal call clearing"}}
	stale := answered.Clone()
	stale.SDPAnswer = "an intermediate version arriving late"

	steps := []struct {
		name   string
		update *telephony.Call
		want   *telephony.Call
	}{
		{name: "ringing", update: ringing, want: ringing},
		{name: "answered", update: answered, want: answered},
		{name: "ended", update: hungUp, want: hungUp},
		{name: "ended again", update: hungUp, want: hungUp},
		{name: "stale intermediate after the end", update: stale, want: hungUp},
	}
	for _, st := range steps {
		if err := s.Update(ctx, st.update); err != nil {
			t.Fatalf("%s: Update: %v", st.name, err)
		}
		got, err := s.Get(ctx, c.ID)
		if err != nil {
			t.Fatalf("%s: Get: %v", st.name, err)
		}
		if diff := cmp.Diff(st.want, got, equalCalls); diff != "" {
			t.Errorf("%s: record (-want +got):\n%s", st.name, diff)
		}
	}
	got, _ := s.Get(ctx, c.ID)
	got.Labels["agent_id"] = "changed by the reader"
	if again, _ := s.Get(ctx, c.ID); again.Labels["agent_id"] != "7" {
		t.Errorf("a reader's change reached the store: got agent_id %q, want 7", again.Labels["agent_id"])
	}
	if err := s.Update(ctx, &telephony.Call{ID: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update(unknown): got %v, want %v", err, ErrNotFound)
	}
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(unknown): got %v, want %v", err, ErrNotFound)
	}
}

func testStoreInvalid(t *testing.T, s Store) {
	ctx := t.Context()
	tests := []struct {
		name string
		op   func() error
	}{
		{name: "create without id", op: func() error { _, _, err := s.Create(ctx, &telephony.Call{Gateway: "gw"}); return err }},
		{name: "update without id", op: func() error { return s.Update(ctx, &telephony.Call{Gateway: "gw"}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.op(); !errors.Is(err, ErrInvalidCall) {
				t.Errorf("got %v, want %v", err, ErrInvalidCall)
			}
		})
	}
}

// listFixture is 30 calls over three gateways and about three and a half hours, five
// outcomes, two campaigns, and ties: every tenth call shares its creation time with the
// one before, so the id breaks the tie.
func listFixture() []*telephony.Call {
	var calls []*telephony.Call
	for i := range 30 {
		at := suiteT0.Add(time.Duration(i) * 7 * time.Minute)
		if i%10 == 5 {
			at = calls[i-1].CreatedAt
		}
		c := &telephony.Call{
			ID:        fmt.Sprintf("call-%02d", i),
			Gateway:   []string{"gw-a", "gw-b", "gw-c"}[i%3],
			Labels:    map[string]string{"campaign": []string{"x", "y"}[i%2]},
			CreatedAt: at,
		}
		if i%4 == 0 {
			c.Labels["agent"] = "7"
		}
		switch i % 5 {
		case 0: // live
			c.State = telephony.StateDialing
			if i%2 == 1 {
				c.State, c.LastResponse = telephony.StateRinging, telephony.Status{Code: 180}
			}
		case 1:
			c = ended(c, 200, telephony.CauseRemoteHangup, at.Add(2*time.Minute))
		case 2:
			c = ended(c, 486, telephony.CauseRemoteRejected, at.Add(time.Second))
		case 3:
			c = ended(c, 180, telephony.CauseRingTimeout, at.Add(time.Minute))
		case 4:
			c = ended(c, 0, telephony.CauseTransportError, at)
		}
		calls = append(calls, c)
	}
	return calls
}

func testStoreList(t *testing.T, s Store) {
	ctx := t.Context()
	calls := listFixture()
	// Created out of order and then brought to their state, as the server does.
	for _, i := range []int{3, 0, 29, 14, 5, 4} {
		calls[i], calls[len(calls)-1-i] = calls[len(calls)-1-i], calls[i]
	}
	for _, c := range calls {
		first := &telephony.Call{ID: c.ID, Gateway: c.Gateway, Labels: c.Labels, CreatedAt: c.CreatedAt, State: telephony.StateDialing}
		if _, _, err := s.Create(ctx, first); err != nil {
			t.Fatal(err)
		}
		if err := s.Update(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	at := func(i int) time.Time { return suiteT0.Add(time.Duration(i) * 7 * time.Minute) }
	code := func(n int) *int { return &n }
	tests := []struct {
		name   string
		filter Filter
		want   func(c *telephony.Call) bool
	}{
		{name: "everything", want: func(*telephony.Call) bool { return true }},
		{name: "gateway", filter: Filter{Gateway: "gw-b"}, want: func(c *telephony.Call) bool { return c.Gateway == "gw-b" }},
		{name: "unknown gateway", filter: Filter{Gateway: "gw-z"}, want: func(*telephony.Call) bool { return false }},
		{name: "created after, inclusive", filter: Filter{CreatedAfter: at(20)},
			want: func(c *telephony.Call) bool { return !c.CreatedAt.Before(at(20)) }},
		{name: "created before, exclusive", filter: Filter{CreatedBefore: at(6)},
			want: func(c *telephony.Call) bool { return c.CreatedAt.Before(at(6)) }},
		{name: "time range and gateway", filter: Filter{Gateway: "gw-a", CreatedAfter: at(4), CreatedBefore: at(24)},
			want: func(c *telephony.Call) bool {
				return c.Gateway == "gw-a" && !c.CreatedAt.Before(at(4)) && c.CreatedAt.Before(at(24))
			}},
		{name: "range between two calls", filter: Filter{CreatedAfter: at(3).Add(time.Nanosecond), CreatedBefore: at(4)},
			want: func(*telephony.Call) bool { return false }},
		{name: "last code 0 means no response", filter: Filter{LastCode: code(0)},
			want: func(c *telephony.Call) bool { return c.LastResponse.Code == 0 }},
		{name: "last code 180", filter: Filter{LastCode: code(180)},
			want: func(c *telephony.Call) bool { return c.LastResponse.Code == 180 }},
		{name: "party kill", filter: Filter{Party: telephony.PartyKill},
			want: func(c *telephony.Call) bool { return c.Termination.Party == telephony.PartyKill }},
		{name: "party finish", filter: Filter{Party: telephony.PartyFinish},
			want: func(c *telephony.Call) bool { return c.Termination.Party == telephony.PartyFinish }},
		{name: "cause", filter: Filter{Cause: telephony.CauseRingTimeout},
			want: func(c *telephony.Call) bool { return c.Termination.Cause == telephony.CauseRingTimeout }},
		{name: "state ended", filter: Filter{State: telephony.StateEnded},
			want: func(c *telephony.Call) bool { return c.State == telephony.StateEnded }},
		{name: "state ringing", filter: Filter{State: telephony.StateRinging},
			want: func(c *telephony.Call) bool { return c.State == telephony.StateRinging }},
		{name: "one label", filter: Filter{Labels: map[string]string{"campaign": "x"}},
			want: func(c *telephony.Call) bool { return c.Labels["campaign"] == "x" }},
		{name: "two labels", filter: Filter{Labels: map[string]string{"campaign": "x", "agent": "7"}},
			want: func(c *telephony.Call) bool { return c.Labels["campaign"] == "x" && c.Labels["agent"] == "7" }},
		{name: "label nobody has", filter: Filter{Labels: map[string]string{"agent": "8"}},
			want: func(*telephony.Call) bool { return false }},
		{name: "everything at once", filter: Filter{Gateway: "gw-a", Party: telephony.PartyKill, LastCode: code(0),
			Cause: telephony.CauseTransportError, State: telephony.StateEnded, Labels: map[string]string{"campaign": "x"},
			CreatedAfter: at(0), CreatedBefore: at(30)},
			want: func(c *telephony.Call) bool {
				return c.Gateway == "gw-a" && c.Termination.Cause == telephony.CauseTransportError && c.Labels["campaign"] == "x"
			}},
	}
	newestFirst := slices.Clone(calls)
	slices.SortFunc(newestFirst, func(a, b *telephony.Call) int { return cursorOf(b).compare(cursorOf(a)) })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want []string
			for _, c := range newestFirst {
				if tc.want(c) {
					want = append(want, c.ID)
				}
			}
			for _, limit := range []int{1, 4, 100} {
				if got := listIDs(t, s, tc.filter, limit); !slices.Equal(got, want) {
					t.Errorf("pages of %d: got %v, want %v", limit, got, want)
				}
			}
		})
	}
	t.Run("records as stored", func(t *testing.T) {
		got, _, err := s.List(ctx, Filter{Gateway: "gw-b", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var want []*telephony.Call
		for _, c := range newestFirst {
			if c.Gateway == "gw-b" {
				want = append(want, c)
			}
		}
		if diff := cmp.Diff(want, got, equalCalls); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("default limit", func(t *testing.T) {
		got, next, err := s.List(ctx, Filter{})
		if err != nil || len(got) != len(calls) || !next.IsZero() {
			t.Errorf("got %d calls, next %v, %v, want all %d and no next page", len(got), next, err, len(calls))
		}
	})
}

// listIDs pages through f, limit calls at a time, and returns the ids in order. It fails the
// test if a page is over the limit, a call comes twice, or the pages do not end.
func listIDs(t *testing.T, s Store, f Filter, limit int) []string {
	t.Helper()
	f.Limit = limit
	ids := []string{}
	seen := make(map[string]bool)
	for range 1000 {
		page, next, err := s.List(t.Context(), f)
		if err != nil {
			t.Fatalf("List(%+v): %v", f, err)
		}
		if len(page) > limit {
			t.Fatalf("List(%+v): got %d calls, want at most %d", f, len(page), limit)
		}
		for _, c := range page {
			if seen[c.ID] {
				t.Fatalf("List(%+v): call %s came twice", f, c.ID)
			}
			seen[c.ID] = true
			ids = append(ids, c.ID)
		}
		if next.IsZero() {
			return ids
		}
		f.After = next
	}
	t.Fatalf("List(%+v): still a next page after 1000", f)
	return nil
}

func testStoreBuckets(t *testing.T, s Store) {
	ctx := t.Context()
	h0 := suiteT0.Truncate(time.Hour)
	var finals []*telephony.Call
	for i := range 12 {
		c := &telephony.Call{ID: fmt.Sprintf("b-%02d", i), Gateway: []string{"gw-a", "gw-b"}[i%2],
			CreatedAt: h0.Add(time.Duration(i) * 15 * time.Minute), State: telephony.StateDialing}
		if _, _, err := s.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		ringing := c.Clone()
		ringing.State, ringing.LastResponse = telephony.StateRinging, telephony.Status{Code: 180}
		ringing.InviteSentAt, ringing.ProgressAt = c.CreatedAt.Add(time.Millisecond), c.CreatedAt.Add(900*time.Millisecond)
		final := ended(ringing, []int{200, 486, 180}[i%3], []telephony.Cause{telephony.CauseRemoteHangup,
			telephony.CauseRemoteRejected, telephony.CauseRingTimeout}[i%3], c.CreatedAt.Add(5*time.Minute))
		// A final version written again differently (a retry that reads another clock, say)
		// is not a second end.
		rewritten := final.Clone()
		rewritten.LastResponse = telephony.Status{Code: 503}
		for _, u := range []*telephony.Call{ringing, final, final, rewritten, ringing} {
			if err := s.Update(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		finals = append(finals, final)
	}
	// Created ended (refused before dialling): counted too.
	blocked := ended(&telephony.Call{ID: "b-blocked", Gateway: "gw-a", CreatedAt: h0.Add(time.Minute)},
		900, telephony.CauseDirectionBlocked, h0.Add(time.Minute))
	for range 2 { // the second Create as a retry after a lost reply
		if _, _, err := s.Create(ctx, blocked); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Update(ctx, blocked); err != nil {
		t.Fatal(err)
	}
	finals = append(finals, blocked)
	// Live calls are not counted.
	if _, _, err := s.Create(ctx, &telephony.Call{ID: "b-live", Gateway: "gw-a", CreatedAt: h0, State: telephony.StateRinging}); err != nil {
		t.Fatal(err)
	}

	all := expectBuckets(finals)
	if len(all) != 6 {
		t.Fatalf("fixture makes %d buckets, want 6 (two gateways, three hours)", len(all))
	}
	tests := []struct {
		name     string
		gateway  string
		from, to time.Time
		want     []Bucket
	}{
		{name: "all", from: h0, to: h0.Add(3 * time.Hour), want: all},
		{name: "wider", from: h0.Add(-24 * time.Hour), to: h0.Add(24 * time.Hour), want: all},
		{name: "one gateway", gateway: "gw-b", from: h0, to: h0.Add(3 * time.Hour),
			want: slices.DeleteFunc(slices.Clone(all), func(b Bucket) bool { return b.Gateway != "gw-b" })},
		{name: "to is exclusive", from: h0.Add(time.Hour), to: h0.Add(2 * time.Hour),
			want: slices.DeleteFunc(slices.Clone(all), func(b Bucket) bool { return !b.Hour.Equal(h0.Add(time.Hour)) })},
		{name: "from inside an hour takes that hour", from: h0.Add(time.Hour + time.Minute), to: h0.Add(2 * time.Hour),
			want: slices.DeleteFunc(slices.Clone(all), func(b Bucket) bool { return !b.Hour.Equal(h0.Add(time.Hour)) })},
		{name: "to inside an hour takes that hour", from: h0, to: h0.Add(time.Hour + time.Nanosecond),
			want: slices.DeleteFunc(slices.Clone(all), func(b Bucket) bool { return b.Hour.After(h0.Add(time.Hour)) })},
		{name: "zero to is open", gateway: "gw-a", from: h0.Add(time.Hour),
			want: slices.DeleteFunc(slices.Clone(all), func(b Bucket) bool { return b.Gateway != "gw-a" || b.Hour.Equal(h0) })},
		{name: "unknown gateway", gateway: "gw-z", from: h0, to: h0.Add(3 * time.Hour)},
		{name: "empty range", from: h0, to: h0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Buckets(ctx, tc.gateway, "", tc.from, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// suiteReportLabels are the report label keys of the suite's stores.
var suiteReportLabels = []string{"campaign", "agent_id"}

func testStoreLabelBuckets(t *testing.T, s Store) {
	ctx := t.Context()
	h0 := suiteT0.Truncate(time.Hour)
	calls := []*telephony.Call{
		{ID: "l-1", Gateway: "gw-a", CreatedAt: h0, Labels: map[string]string{"campaign": "spring", "agent_id": "7", "crm": "x"}},
		{ID: "l-2", Gateway: "gw-a", CreatedAt: h0.Add(time.Hour), Labels: map[string]string{"campaign": "spring", "agent_id": "8"}},
		{ID: "l-3", Gateway: "gw-b", CreatedAt: h0, Labels: map[string]string{"agent_id": "7"}},
		// A value may hold ':' and '=': its buckets are its own.
		{ID: "l-4", Gateway: "gw-a", CreatedAt: h0, Labels: map[string]string{"campaign": "spring:agent_id=7"}},
		{ID: "l-5", Gateway: "gw-a", CreatedAt: h0, Labels: map[string]string{"campaign": ""}},
		{ID: "l-6", Gateway: "gw-b", CreatedAt: h0.Add(time.Hour)},
	}
	var finals []*telephony.Call
	for i, c := range calls {
		c.State = telephony.StateDialing
		if _, _, err := s.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		final := ended(c, []int{200, 486}[i%2], []telephony.Cause{telephony.CauseRemoteHangup, telephony.CauseRemoteRejected}[i%2],
			c.CreatedAt.Add(5*time.Minute))
		// Ended again, differently, and with other labels: counted once, as first ended.
		again := final.Clone()
		again.LastResponse = telephony.Status{Code: 503}
		again.Labels = map[string]string{"campaign": "autumn"}
		for _, u := range []*telephony.Call{final, final, again} {
			if err := s.Update(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		finals = append(finals, final)
	}

	from, to := h0.Add(-time.Hour), h0.Add(3*time.Hour)
	tests := []struct {
		gateway, label string
		want           []Bucket
	}{
		{label: "", want: expectBuckets(finals)},
		{label: "campaign=spring", want: expectLabelBuckets(finals, "campaign=spring")},
		{label: "agent_id=7", want: expectLabelBuckets(finals, "agent_id=7")},
		{gateway: "gw-b", label: "agent_id=7", want: expectLabelBuckets(finals[2:3], "agent_id=7")},
		{label: "agent_id=8", want: expectLabelBuckets(finals, "agent_id=8")},
		{label: "campaign=spring:agent_id=7", want: expectLabelBuckets(finals, "campaign=spring:agent_id=7")},
		{label: "campaign=", want: expectLabelBuckets(finals, "campaign=")},
		{label: "crm=x"},           // not a report label key
		{label: "campaign=autumn"}, // only in a version written after the first end
		{label: "campaign"},        // no value
		{gateway: "gw-z", label: "agent_id=7"},
	}
	for _, tc := range tests {
		got, err := s.Buckets(ctx, tc.gateway, tc.label, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Buckets(%q, %q) (-want +got):\n%s", tc.gateway, tc.label, diff)
		}
	}
	if n := len(expectLabelBuckets(finals, "agent_id=7")); n != 2 {
		t.Errorf("fixture makes %d agent_id=7 buckets, want 2 (two gateways)", n)
	}
}

// testStoreConcurrent runs calls the way the server does, one goroutine each, and checks
// that each ended call was counted once.
func testStoreConcurrent(t *testing.T, s Store) {
	ctx := t.Context()
	const calls = 40
	finals := make([]*telephony.Call, calls)
	errs := make(chan error, calls) // one result per call
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() { errs <- runCall(ctx, s, fmt.Sprintf("conc-%02d", i), "gw-c", suiteT0, &finals[i]) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Buckets(ctx, "", "", suiteT0.Add(-time.Hour), suiteT0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(expectBuckets(finals), got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// runCall writes one call's life: created, eight intermediate versions, ended. It puts the
// final version in *final.
func runCall(ctx context.Context, s Store, id, gw string, at time.Time, final **telephony.Call) error {
	c := &telephony.Call{ID: id, RequestID: "req-" + id, Gateway: gw, From: "100", To: "79001234567",
		Labels: map[string]string{"campaign": "bench"}, State: telephony.StateDialing, CreatedAt: at}
	if _, _, err := s.Create(ctx, c); err != nil {
		return err
	}
	c = c.Clone()
	for step := range 8 {
		c.State = []telephony.State{telephony.StateTrying, telephony.StateRinging, telephony.StateEarlyMedia}[step%3]
		c.LastResponse = telephony.Status{Code: []int{100, 180, 183}[step%3]}
		if err := s.Update(ctx, c); err != nil {
			return err
		}
	}
	c = ended(c, 200, telephony.CauseRemoteHangup, at.Add(time.Minute))
	*final = c
	return s.Update(ctx, c)
}
