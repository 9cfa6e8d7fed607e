package directions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ccplane/telephony/internal/testenv"
)

// testStore is the suite every Store passes. newStore may return the same store to every
// subtest: each uses gateway IDs of its own.
func testStore(t *testing.T, newStore func(t *testing.T) Store) {
	t.Run("never set", func(t *testing.T) {
		t.Parallel()
		s, gw := newStore(t), t.Name()
		rules, v, err := s.Rules(t.Context(), gw)
		if err != nil || len(rules) != 0 || v != 0 {
			t.Errorf("Rules: got %v, %d, %v, want no rules, version 0", rules, v, err)
		}
		if v, err := s.Version(t.Context(), gw); err != nil || v != 0 {
			t.Errorf("Version: got %d, %v, want 0", v, err)
		}
	})
	t.Run("changes", func(t *testing.T) { t.Parallel(); testStoreChanges(t, newStore(t)) })
	t.Run("empty gateway", func(t *testing.T) { t.Parallel(); testStoreEmptyGateway(t, newStore(t)) })
	t.Run("subscribe", func(t *testing.T) { t.Parallel(); testStoreSubscribe(t, newStore(t)) })
	t.Run("seed races", func(t *testing.T) { t.Parallel(); testStoreSeedRace(t, newStore(t)) })
	t.Run("atomic replace", func(t *testing.T) { t.Parallel(); testStoreAtomicReplace(t, newStore(t)) })
	t.Run("many rules", func(t *testing.T) { t.Parallel(); testStoreManyRules(t, newStore(t)) })
}

// step is one call in a scenario and what the gateway holds after it.
type step struct {
	op       string // replace, add, remove or seed
	rules    []Rule
	prefixes []string // for remove
	wantErr  error    // the step must fail with it and change nothing
	noChange bool     // the step succeeds but changes nothing (a seed that does not seed)
	want     []Rule
}

func testStoreChanges(t *testing.T, s Store) {
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "replace replaces everything", steps: []step{
			{op: "replace", rules: []Rule{deny("7809"), allow("7")}, want: []Rule{allow("7"), deny("7809")}},
			{op: "replace", rules: []Rule{allow("44")}, want: []Rule{allow("44")}},
		}},
		{name: "replace with duplicates of one action", steps: []step{
			{op: "replace", rules: []Rule{allow("7"), allow("7"), allow("")}, want: []Rule{allow(""), allow("7")}},
		}},
		{name: "replace with nothing blocks all and stops seeding", steps: []step{
			{op: "replace", rules: []Rule{allow("7")}, want: []Rule{allow("7")}},
			{op: "replace", want: nil},
			{op: "seed", rules: []Rule{allow("1")}, noChange: true, want: nil},
		}},
		{name: "add upserts", steps: []step{
			{op: "replace", rules: []Rule{allow("7"), allow("33")}, want: []Rule{allow("33"), allow("7")}},
			{op: "add", rules: []Rule{deny("7"), allow("44")}, want: []Rule{allow("33"), allow("44"), deny("7")}},
		}},
		{name: "add to a new gateway", steps: []step{
			{op: "add", rules: []Rule{allow("1")}, want: []Rule{allow("1")}},
		}},
		{name: "remove", steps: []step{
			{op: "replace", rules: []Rule{allow("7"), deny("7809"), allow("")}, want: []Rule{allow(""), allow("7"), deny("7809")}},
			{op: "remove", prefixes: []string{"7809", "999", ""}, want: []Rule{allow("7")}},
			{op: "remove", prefixes: []string{"7"}, want: nil},
		}},
		{name: "seed only once", steps: []step{
			{op: "seed", rules: []Rule{allow("7"), deny("7809")}, want: []Rule{allow("7"), deny("7809")}},
			{op: "seed", rules: []Rule{allow("44")}, noChange: true, want: []Rule{allow("7"), deny("7809")}},
			{op: "replace", rules: []Rule{allow("33")}, want: []Rule{allow("33")}},
			{op: "seed", rules: []Rule{allow("7")}, noChange: true, want: []Rule{allow("33")}},
		}},
		{name: "seeding nothing leaves the gateway unset", steps: []step{
			{op: "seed", noChange: true, want: nil},
			{op: "seed", rules: []Rule{allow("1")}, want: []Rule{allow("1")}},
		}},
		{name: "invalid input changes nothing", steps: []step{
			{op: "replace", rules: []Rule{allow("7")}, want: []Rule{allow("7")}},
			{op: "replace", rules: []Rule{allow("8"), allow("7a")}, wantErr: ErrInvalidRule, want: []Rule{allow("7")}},
			{op: "replace", rules: []Rule{allow("8"), deny("8")}, wantErr: ErrInvalidRule, want: []Rule{allow("7")}},
			{op: "add", rules: []Rule{{Prefix: "8"}}, wantErr: ErrInvalidRule, want: []Rule{allow("7")}},
			{op: "remove", prefixes: []string{"+7"}, wantErr: ErrInvalidRule, want: []Rule{allow("7")}},
		}},
		{name: "invalid seed", steps: []step{
			{op: "seed", rules: []Rule{allow("123456789012345678901")}, wantErr: ErrInvalidRule, want: nil},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, gw := t.Context(), t.Name()
			var last uint64
			for i, st := range tc.steps {
				v, err := apply(ctx, s, gw, st)
				switch {
				case st.wantErr != nil:
					if !errors.Is(err, st.wantErr) {
						t.Fatalf("step %d %s: got %v, want %v", i+1, st.op, err, st.wantErr)
					}
				case err != nil:
					t.Fatalf("step %d %s: %v", i+1, st.op, err)
				case st.noChange:
					if v != 0 {
						t.Errorf("step %d %s: got version %d, want 0 (nothing done)", i+1, st.op, v)
					}
				default:
					if v <= last {
						t.Errorf("step %d %s: got version %d, want more than %d", i+1, st.op, v, last)
					}
					last = v
				}
				rules, rv, err := s.Rules(ctx, gw)
				if err != nil {
					t.Fatalf("step %d: Rules: %v", i+1, err)
				}
				if diff := cmp.Diff(st.want, rules, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("step %d %s: rules (-want +got):\n%s", i+1, st.op, diff)
				}
				vv, err := s.Version(ctx, gw)
				if rv != last || vv != last || err != nil {
					t.Errorf("step %d %s: got versions %d (Rules), %d, %v (Version), want %d", i+1, st.op, rv, vv, err, last)
				}
			}
		})
	}
}

// apply runs a step; a seed returns version 1 if it seeded, 0 if not.
func apply(ctx context.Context, s Store, gw string, st step) (uint64, error) {
	switch st.op {
	case "replace":
		return s.Replace(ctx, gw, st.rules)
	case "add":
		return s.Add(ctx, gw, st.rules)
	case "remove":
		return s.Remove(ctx, gw, st.prefixes)
	case "seed":
		seeded, err := s.Seed(ctx, gw, st.rules)
		if err != nil || !seeded {
			return 0, err
		}
		return s.Version(ctx, gw)
	}
	return 0, fmt.Errorf("unknown op %q", st.op)
}

func testStoreEmptyGateway(t *testing.T, s Store) {
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
	}{
		{name: "rules", call: func() error { _, _, err := s.Rules(ctx, ""); return err }},
		{name: "version", call: func() error { _, err := s.Version(ctx, ""); return err }},
		{name: "replace", call: func() error { _, err := s.Replace(ctx, "", []Rule{allow("7")}); return err }},
		{name: "add", call: func() error { _, err := s.Add(ctx, "", []Rule{allow("7")}); return err }},
		{name: "remove", call: func() error { _, err := s.Remove(ctx, "", []string{"7"}); return err }},
		{name: "seed", call: func() error { _, err := s.Seed(ctx, "", []Rule{allow("7")}); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, ErrInvalidGateway) {
				t.Errorf("got %v, want %v", err, ErrInvalidGateway)
			}
		})
	}
}

func testStoreSubscribe(t *testing.T, s Store) {
	gw := t.Name()
	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan string, 100) // more than this test makes; Subscribe must not block on it
	done := make(chan error, 1)
	go func() {
		done <- s.Subscribe(ctx, func(g string) {
			if g == "" || g == gw { // other subtests share the store
				got <- g
			}
		})
	}()
	if g := receive(t, got, "the subscription"); g != "" {
		t.Fatalf("first call: got %q, want %q (subscribed)", g, "")
	}
	changes := []struct {
		name string
		op   func() error
	}{
		{name: "replace", op: func() error { _, err := s.Replace(ctx, gw, []Rule{allow("7")}); return err }},
		{name: "add", op: func() error { _, err := s.Add(ctx, gw, []Rule{deny("7809")}); return err }},
		{name: "remove", op: func() error { _, err := s.Remove(ctx, gw, []string{"7"}); return err }},
	}
	for _, c := range changes {
		if err := c.op(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if g := receive(t, got, "the notification of "+c.name); g != gw {
			t.Errorf("%s: got %q, want %q", c.name, g, gw)
		}
	}
	seeded, err := s.Seed(ctx, gw+"/seeded", []Rule{allow("1")})
	if !seeded || err != nil {
		t.Fatalf("Seed: got %v, %v, want seeded", seeded, err)
	}
	cancel()
	if err := receive(t, done, "Subscribe to return"); !errors.Is(err, context.Canceled) {
		t.Errorf("Subscribe after cancel: got %v, want %v", err, context.Canceled)
	}
}

// Of many seeds at once exactly one wins, and its rules are the gateway's.
func testStoreSeedRace(t *testing.T, s Store) {
	gw := t.Name()
	const n = 8
	seeded := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var err error
			seeded[i], err = s.Seed(t.Context(), gw, []Rule{allow(fmt.Sprint(i))})
			if err != nil {
				t.Errorf("Seed %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	winner := slices.Index(seeded, true)
	if got := len(slices.DeleteFunc(slices.Clone(seeded), func(b bool) bool { return !b })); got != 1 {
		t.Fatalf("seeds that won: got %d, want 1", got)
	}
	rules, v, err := s.Rules(t.Context(), gw)
	if diff := cmp.Diff([]Rule{allow(fmt.Sprint(winner))}, rules); diff != "" || v != 1 || err != nil {
		t.Errorf("rules after the race: version %d, %v, (-want +got):\n%s", v, err, diff)
	}
}

// A reader sees all of one rule set or all of the other, with its own version, never a
// mix: Replace alternates sets A (odd versions) and B (even versions).
func testStoreAtomicReplace(t *testing.T, s Store) {
	gw := t.Name()
	var a, b []Rule
	for i := range 200 {
		a = append(a, allow(fmt.Sprint(1000+i)))
	}
	for i := range 300 {
		b = append(b, deny(fmt.Sprint(2000+i)))
	}
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var reads [4]atomic.Int64
	for r := range reads {
		wg.Go(func() {
			for ctx.Err() == nil {
				rules, v, err := s.Rules(ctx, gw)
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("Rules: %v", err)
					}
					return
				}
				reads[r].Add(1)
				want := a
				switch {
				case v == 0:
					want = nil
				case v%2 == 0:
					want = b
				}
				if diff := cmp.Diff(want, rules, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("version %d: a mix of rule sets (-want +got):\n%s", v, diff)
					return
				}
			}
		})
	}
	// Replace until every reader has read many times, so reads and writes overlap.
	deadline := time.Now().Add(testenv.WaitFor)
	for i := 0; i < 100 || !readMany(&reads); i++ {
		set := a
		if i%2 == 1 {
			set = b
		}
		if _, err := s.Replace(ctx, gw, set); err != nil {
			t.Errorf("Replace: %v", err)
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("readers did not get to read in %v", testenv.WaitFor)
			break
		}
	}
	stop()
	wg.Wait()
}

func readMany(reads *[4]atomic.Int64) bool {
	for i := range reads {
		if reads[i].Load() < 20 {
			return false
		}
	}
	return true
}

// More rules than one Redis command carries in the scripts, and an odd count.
func testStoreManyRules(t *testing.T, s Store) {
	ctx, gw := t.Context(), t.Name()
	var rules []Rule
	var prefixes []string
	for i := range 2501 {
		rules = append(rules, allow(fmt.Sprint(100000+i)))
		prefixes = append(prefixes, fmt.Sprint(100000+i))
	}
	if _, err := s.Replace(ctx, gw, rules); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remove(ctx, gw, prefixes[1:]); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.Rules(ctx, gw)
	if diff := cmp.Diff(rules[:1], got); diff != "" || err != nil {
		t.Errorf("rules: %v (-want +got):\n%s", err, diff)
	}
}
