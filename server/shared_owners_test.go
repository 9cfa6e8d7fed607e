package server

import (
	"context"
	"testing"
	"time"

	"github.com/ccplane/telephony"
)

// countingOwners answers Alive from a map and counts the questions.
type countingOwners struct {
	alive map[string]bool
	asked int
}

func (o *countingOwners) Alive(_ context.Context, instance string) (bool, error) {
	o.asked++
	return o.alive[instance], nil
}

func (o *countingOwners) OwnerOf(context.Context, string) (string, bool, error) {
	panic("not used")
}

func (o *countingOwners) EndIfOwnerDead(context.Context, string) (*telephony.Call, bool, error) {
	panic("not used")
}

// Many watchers of one owner's calls ask Redis once per period; a dead owner stays dead.
func TestOwnerCacheAsksOncePerPeriod(t *testing.T) {
	o := &countingOwners{alive: map[string]bool{"a": true}}
	c := newOwnerCache(&Shared{Owners: o, OwnerCheck: time.Hour})
	for range 100 {
		if alive, err := c.alive(t.Context(), "a"); !alive || err != nil {
			t.Fatalf("alive(a) = %v, %v; want true", alive, err)
		}
	}
	if o.asked != 1 {
		t.Errorf("100 checks of a live owner asked Redis %d times, want 1", o.asked)
	}
	c.ttl = 0 // every answer is stale from now on
	o.alive["a"] = false
	for range 3 {
		if alive, _ := c.alive(t.Context(), "a"); alive {
			t.Fatal("alive(a) = true after its heartbeat lapsed")
		}
	}
	o.alive["a"] = true
	if alive, _ := c.alive(t.Context(), "a"); alive {
		t.Error("an instance taken for dead came back alive: its calls are being ended as LOST")
	}
	if o.asked != 2 {
		t.Errorf("asked Redis %d times, want 2 (once alive, once dead, then remembered)", o.asked)
	}
}
