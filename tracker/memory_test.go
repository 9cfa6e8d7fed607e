package tracker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ccplane/telephony"
)

func TestMemoryCreateIsIdempotentPerRequestID(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	first, created, err := m.Create(ctx, &telephony.Call{ID: "a", RequestID: "req-1"})
	if err != nil || !created {
		t.Fatalf("first Create = %v, %v, want created", created, err)
	}
	again, created, err := m.Create(ctx, &telephony.Call{ID: "b", RequestID: "req-1"})
	if err != nil || created {
		t.Fatalf("second Create = %v, %v, want not created", created, err)
	}
	if again.ID != first.ID {
		t.Errorf("second Create returned call %q, want %q", again.ID, first.ID)
	}
	if _, err := m.Get(ctx, "b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(b) error = %v, want ErrNotFound", err)
	}
}

func TestMemoryUpdateAndGetCopy(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	c := &telephony.Call{ID: "a", Labels: map[string]string{"agent_id": "7"}}
	if _, _, err := m.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	c.State = telephony.StateRinging
	if err := m.Update(ctx, c); err != nil {
		t.Fatal(err)
	}
	c.Labels["agent_id"] = "changed after update"
	got, err := m.Get(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != telephony.StateRinging || got.Labels["agent_id"] != "7" {
		t.Errorf("got state %v labels %v, want ringing and agent_id=7 (a copy)", got.State, got.Labels)
	}
	if err := m.Update(ctx, &telephony.Call{ID: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update(unknown) error = %v, want ErrNotFound", err)
	}
}

func TestMemoryListNewestFirstWithFiltersAndPages(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for i := range 7 {
		gw := "a"
		if i%2 == 1 {
			gw = "b"
		}
		c := &telephony.Call{ID: fmt.Sprintf("c%d", i), Gateway: gw, CreatedAt: t0.Add(time.Duration(i) * time.Second),
			Labels: map[string]string{"campaign": "x"}}
		if _, _, err := m.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	f := Filter{Gateway: "a", Labels: map[string]string{"campaign": "x"}, Limit: 2}
	for page := 0; page < 5; page++ {
		calls, next, err := m.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range calls {
			got = append(got, c.ID)
		}
		if next.IsZero() {
			break
		}
		f.After = next
	}
	if want := "[c6 c4 c2 c0]"; fmt.Sprint(got) != want {
		t.Errorf("paged ids = %v, want %v", got, want)
	}
	calls, _, _ := m.List(ctx, Filter{CreatedAfter: t0.Add(5 * time.Second)})
	if len(calls) != 2 {
		t.Errorf("created_after kept %d calls, want 2", len(calls))
	}
	calls, _, _ = m.List(ctx, Filter{Labels: map[string]string{"campaign": "y"}})
	if len(calls) != 0 {
		t.Errorf("label filter kept %d calls, want 0", len(calls))
	}
}
