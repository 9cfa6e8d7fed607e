package tracker

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony"
)

func TestLiveness(t *testing.T) {
	onBackends(t, testLiveness)
}

// Instance A dies with a ringing and an answered call; B ends the ringing one at once, as
// RecoverLost would, and leaves the rest: A's other call, its own.
func testLiveness(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	a := newInstance(t, c, "A", suiteT0)
	b := newInstance(t, c, "B", recoverAt)
	ring := rang(dialing("ringing", 0))
	answer := pickedUp(dialing("answered", 1))
	own := dialing("own", 2)
	mustCreate(t, a, dialing("ringing", 0), ring)
	mustCreate(t, a, dialing("answered", 1), answer)
	mustCreate(t, b, own)

	alive := func(want map[string]bool) {
		t.Helper()
		for inst, w := range want {
			if got, err := b.Alive(ctx, inst); got != w || err != nil {
				t.Errorf("Alive(%s): got %v, %v, want %v", inst, got, err, w)
			}
		}
	}
	endIfDead := func(id string, want *telephony.Call, wantEnded bool) {
		t.Helper()
		got, ended, err := b.EndIfOwnerDead(ctx, id)
		if err != nil {
			t.Fatalf("EndIfOwnerDead(%s): %v", id, err)
		}
		if diff := cmp.Diff(want, got, equalCalls); diff != "" || ended != wantEnded {
			t.Errorf("EndIfOwnerDead(%s): got ended %v, want %v; call (-want +got):\n%s", id, ended, wantEnded, diff)
		}
	}

	alive(map[string]bool{"A": true, "B": true, "never": false})
	endIfDead("ringing", ring, false)
	endIfDead("own", own, false)

	crash(t, c, "A")
	alive(map[string]bool{"A": false, "B": true})
	// Until B's own heartbeat has held a whole TTL (RunOwnership sets this, not run here so
	// that its RecoverLost leaves the calls to EndIfOwnerDead), B does not judge: after an
	// outage of Redis every heartbeat has lapsed.
	endIfDead("ringing", ring, false)
	b.owner.judging.Store(true)
	endIfDead("ringing", lost(ring, recoverAt), true)
	endIfDead("ringing", lost(ring, recoverAt), false) // ended already
	checkCalls(t, b, answer, own)
	checkBuckets(t, b, lost(ring, recoverAt))
	checkOwnerKeys(t, c, "A", false, true, "answered")

	if _, _, err := b.EndIfOwnerDead(ctx, "unknown"); !errors.Is(err, ErrNotFound) {
		t.Errorf("EndIfOwnerDead(unknown): got %v, want %v", err, ErrNotFound)
	}
}
