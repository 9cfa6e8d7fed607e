package directions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ccplane/telephony/internal/testenv"
)

func TestCacheCheck(t *testing.T) {
	s := NewMemory()
	if _, err := s.Replace(t.Context(), "gw-ru", []Rule{allow("7"), deny("7809")}); err != nil {
		t.Fatal(err)
	}
	c := NewCache(CacheConfig{Gateways: []string{"gw-ru", "gw-new"}}, s)
	if err := c.Load(t.Context()); err != nil {
		t.Fatalf("Load: %v", err)
	}
	tests := []struct {
		name     string
		gateway  string
		number   string
		wantNorm string
		want     Decision
		wantErr  []error
	}{
		{name: "allowed", gateway: "gw-ru", number: "+7 (916) 123-45-67", wantNorm: "79161234567",
			want: Decision{Allowed: true, Matched: true, Rule: allow("7")}},
		{name: "denied", gateway: "gw-ru", number: "78091234567", wantNorm: "78091234567",
			want: Decision{Matched: true, Rule: deny("7809")}},
		{name: "no rule matches", gateway: "gw-ru", number: "+44 20 7123 4567", wantNorm: "442071234567"},
		{name: "gateway without rules dials nothing", gateway: "gw-new", number: "79161234567", wantNorm: "79161234567"},
		{name: "invalid number", gateway: "gw-ru", number: "7916CALLME", wantErr: []error{ErrInvalidNumber}},
		{name: "unknown gateway", gateway: "gw-xx", number: "79161234567", wantNorm: "79161234567",
			wantErr: []error{ErrUnavailable, ErrUnknownGateway}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			norm, d, err := c.Check(tc.gateway, tc.number)
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("error: got %v, want %v", err, want)
				}
			}
			if tc.wantErr == nil && err != nil {
				t.Errorf("error: got %v, want nil", err)
			}
			if norm != tc.wantNorm || d != tc.want {
				t.Errorf("Check(%q, %q): got %q, %+v, want %q, %+v", tc.gateway, tc.number, norm, d, tc.wantNorm, tc.want)
			}
		})
	}
}

func TestCacheCheckDoesNotAllocate(t *testing.T) {
	s := NewMemory()
	if _, err := s.Replace(t.Context(), "gw", []Rule{allow("7"), deny("7809")}); err != nil {
		t.Fatal(err)
	}
	c := NewCache(CacheConfig{Gateways: []string{"gw"}}, s)
	if err := c.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := testing.AllocsPerRun(100, func() { _, _, _ = c.Check("gw", "78091234567") }); got != 0 {
		t.Errorf("allocations: got %v, want 0", got)
	}
}

// A gateway whose rules never loaded is unavailable, never allowed, and not "stale".
func TestCacheNeverLoaded(t *testing.T) {
	down := errors.New("connection refused")
	s := &fakeStore{Store: NewMemory(),
		rules: func(context.Context, string) ([]Rule, uint64, error) { return nil, 0, down }}
	c := NewCache(CacheConfig{Gateways: []string{"gw"}}, s)
	if _, _, err := c.Check("gw", "79161234567"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Check before Load: got %v, want %v", err, ErrUnavailable)
	}
	if err := c.Load(t.Context()); !errors.Is(err, down) || !strings.Contains(err.Error(), `"gw"`) {
		t.Errorf("Load: got %v, want %v naming the gateway", err, down)
	}
	if _, d, err := c.Check("gw", "79161234567"); !errors.Is(err, ErrUnavailable) || d.Allowed {
		t.Errorf("Check after a failed Load: got %+v, %v, want %v", d, err, ErrUnavailable)
	}
	if v, ok := c.Version("gw"); ok {
		t.Errorf("Version: got %d, true, want false", v)
	}
	if got := c.Stale(); got != nil {
		t.Errorf("Stale: got %v, want nil", got)
	}
}

// Load serves the gateways that loaded and reports the others.
func TestCacheLoadPartly(t *testing.T) {
	s := &fakeStore{Store: NewMemory()}
	s.rules = func(ctx context.Context, gw string) ([]Rule, uint64, error) {
		if gw == "gw-bad" {
			return nil, 0, errors.New("slot moved")
		}
		return s.Store.Rules(ctx, gw)
	}
	if _, err := s.Replace(t.Context(), "gw-ok", []Rule{allow("")}); err != nil {
		t.Fatal(err)
	}
	c := NewCache(CacheConfig{Gateways: []string{"gw-bad", "gw-ok"}}, s)
	if err := c.Load(t.Context()); err == nil || !strings.Contains(err.Error(), "gw-bad") || strings.Contains(err.Error(), "gw-ok") {
		t.Errorf("Load: got %v, want an error about gw-bad only", err)
	}
	if _, d, err := c.Check("gw-ok", "1"); err != nil || !d.Allowed {
		t.Errorf("Check gw-ok: got %+v, %v, want allowed", d, err)
	}
}

// When refreshing fails, the last rules stay in force and Stale says since when.
func TestCacheStale(t *testing.T) {
	tests := []struct {
		name      string
		failure   func(context.Context, string) ([]Rule, uint64, error)
		wantLevel string
	}{
		{name: "store down", wantLevel: "WARN",
			failure: func(context.Context, string) ([]Rule, uint64, error) { return nil, 0, errors.New("connection refused") }},
		// Refusing to compile keeps the old rules rather than widening or emptying them.
		{name: "stored rules do not compile", wantLevel: "ERROR",
			failure: func(context.Context, string) ([]Rule, uint64, error) {
				return []Rule{allow("44"), {Prefix: "44x", Action: ActionDeny}}, 9, nil
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := NewMemory()
			if _, err := mem.Replace(t.Context(), "gw", []Rule{allow("7")}); err != nil {
				t.Fatal(err)
			}
			var failing atomic.Bool
			s := &fakeStore{Store: mem, rules: func(ctx context.Context, gw string) ([]Rule, uint64, error) {
				if failing.Load() {
					return tc.failure(ctx, gw)
				}
				return mem.Rules(ctx, gw)
			}}
			clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			var log bytes.Buffer
			c := NewCache(CacheConfig{
				Gateways: []string{"gw"},
				Logger:   slog.New(slog.NewTextHandler(&log, nil)),
				Now:      func() time.Time { return clock },
			}, s)
			if err := c.Load(t.Context()); err != nil {
				t.Fatal(err)
			}

			failing.Store(true)
			failedAt := clock
			for range 2 { // the second failure must not move the time
				if err := c.Refresh(t.Context(), "gw"); err == nil {
					t.Fatal("Refresh: got nil, want the failure")
				}
				clock = clock.Add(time.Minute)
			}
			if diff := cmp.Diff(map[string]time.Time{"gw": failedAt}, c.Stale()); diff != "" {
				t.Errorf("Stale (-want +got):\n%s", diff)
			}
			if _, d, err := c.Check("gw", "79161234567"); err != nil || !d.Allowed {
				t.Errorf("Check while stale: got %+v, %v, want allowed by the last rules", d, err)
			}
			if got, want := strings.Count(log.String(), "directions may be stale"), 1; got != want {
				t.Errorf("stale warnings: got %d, want %d\n%s", got, want, log.String())
			}
			if !strings.Contains(log.String(), "level="+tc.wantLevel+` msg="directions may be stale`) {
				t.Errorf("log: got %s, want the stale message at %s", log.String(), tc.wantLevel)
			}

			failing.Store(false)
			if err := c.Refresh(t.Context(), "gw"); err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if got := c.Stale(); got != nil {
				t.Errorf("Stale after recovery: got %v, want nil", got)
			}
		})
	}
}

func TestCacheRefresh(t *testing.T) {
	s := NewMemory()
	c := NewCache(CacheConfig{Gateways: []string{"gw"}}, s)
	if err := c.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	v, err := s.Replace(t.Context(), "gw", []Rule{allow("7")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(t.Context(), "gw"); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if _, d, _ := c.Check("gw", "79161234567"); !d.Allowed {
		t.Errorf("Check right after Refresh: got %+v, want allowed", d)
	}
	if got, ok := c.Version("gw"); got != v || !ok {
		t.Errorf("Version: got %d, %v, want %d", got, ok, v)
	}
	if err := c.Refresh(t.Context(), "gw-xx"); !errors.Is(err, ErrUnknownGateway) {
		t.Errorf("Refresh of an unknown gateway: got %v, want %v", err, ErrUnknownGateway)
	}
}

// Two caches on one Memory: a change reaches both without Refresh.
func TestCacheRunFollowsChanges(t *testing.T) {
	s := NewMemory()
	var caches []*Cache
	for range 2 {
		c := NewCache(CacheConfig{Gateways: []string{"gw"}, CheckInterval: time.Hour}, s)
		if err := c.Load(t.Context()); err != nil {
			t.Fatal(err)
		}
		runCache(t, c)
		caches = append(caches, c)
	}
	v, err := s.Replace(t.Context(), "gw", []Rule{allow("7")})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range caches {
		testenv.Eventually(t, fmt.Sprintf("cache %d at version %d", i, v), func() bool {
			got, _ := c.Version("gw")
			return got == v
		})
	}
}

func TestCacheRunTwice(t *testing.T) {
	c := NewCache(CacheConfig{Gateways: []string{"gw"}}, &fakeStore{Store: NewMemory(), subscribe: deaf})
	runCache(t, c)
	testenv.Eventually(t, "Run to start", c.running.Load)
	if err := c.Run(t.Context()); err == nil {
		t.Error("second Run: got nil, want an error")
	}
}

// A gateway that failed to load is loaded by Run once the store answers.
func TestCacheRunRetriesFailedLoad(t *testing.T) {
	mem := NewMemory()
	var down atomic.Bool
	down.Store(true)
	fail := errors.New("connection refused")
	s := &fakeStore{Store: mem, subscribe: deaf,
		rules: func(ctx context.Context, gw string) ([]Rule, uint64, error) {
			if down.Load() {
				return nil, 0, fail
			}
			return mem.Rules(ctx, gw)
		},
		version: func(ctx context.Context, gw string) (uint64, error) {
			if down.Load() {
				return 0, fail
			}
			return mem.Version(ctx, gw)
		}}
	c := NewCache(CacheConfig{Gateways: []string{"gw"}, CheckInterval: 5 * time.Millisecond}, s)
	if err := c.Load(t.Context()); err == nil {
		t.Fatal("Load: got nil, want the failure")
	}
	runCache(t, c)
	down.Store(false)
	testenv.Eventually(t, "the gateway to load", func() bool { _, ok := c.Version("gw"); return ok })
}

// Lookups during swaps see one rule set or the other, whole: set A allows 123 and has
// no 1234; set B denies 1234 and has no 123.
func TestCacheAtomicSwap(t *testing.T) {
	s := NewMemory()
	c := NewCache(CacheConfig{Gateways: []string{"gw"}}, s)
	a, b := []Rule{allow("123"), deny("9")}, []Rule{deny("1234"), allow("9")}
	if _, err := s.Replace(t.Context(), "gw", a); err != nil {
		t.Fatal(err)
	}
	if err := c.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantA := Decision{Allowed: true, Matched: true, Rule: allow("123")}
	wantB := Decision{Matched: true, Rule: deny("1234")}

	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var seenA, seenB atomic.Bool
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				_, d, err := c.Check("gw", "123456")
				switch {
				case err != nil:
					t.Errorf("Check: %v", err)
					return
				case d == wantA:
					seenA.Store(true)
				case d == wantB:
					seenB.Store(true)
				default:
					t.Errorf("Check during swaps: got %+v, want %+v or %+v", d, wantA, wantB)
					return
				}
			}
		})
	}
	deadline := time.Now().Add(testenv.WaitFor)
	for i := 0; i < 200 || !(seenA.Load() && seenB.Load()); i++ {
		set := a
		if i%2 == 0 {
			set = b
		}
		if _, err := s.Replace(ctx, "gw", set); err != nil {
			t.Fatal(err)
		}
		if err := c.Refresh(ctx, "gw"); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Errorf("readers saw A: %v, B: %v after %v of swaps", seenA.Load(), seenB.Load(), testenv.WaitFor)
			break
		}
	}
	stop()
	wg.Wait()
}

func TestCacheConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     CacheConfig
		wantErr bool
	}{
		{name: "zero", cfg: CacheConfig{}},
		{name: "gateways", cfg: CacheConfig{Gateways: []string{"a", "b", "a"}, CheckInterval: time.Second}},
		{name: "empty gateway", cfg: CacheConfig{Gateways: []string{"a", ""}}, wantErr: true},
		{name: "negative interval", cfg: CacheConfig{CheckInterval: -time.Second}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err != nil) != tc.wantErr {
				t.Errorf("Validate: got %v, want error: %v", err, tc.wantErr)
			}
		})
	}
}
