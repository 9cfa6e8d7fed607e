package sipengine

import (
	"testing"
	"time"
)

func TestHealthRecord(t *testing.T) {
	tests := []struct {
		name               string
		downAfter, upAfter int
		start              GatewayState
		probes             string // one letter per probe: a(nswered) or f(ailed)
		want               string // the state after each probe: u(p) or d(own)
		wantChanges        int
	}{
		{name: "answers keep it up", downAfter: 2, upAfter: 1, start: GatewayUp, probes: "aaa", want: "uuu"},
		{name: "one failure is not enough", downAfter: 2, upAfter: 1, start: GatewayUp, probes: "fafa", want: "uuuu"},
		{name: "two failures in a row", downAfter: 2, upAfter: 1, start: GatewayUp, probes: "ffff", want: "uddd", wantChanges: 1},
		{name: "first answer brings it back", downAfter: 2, upAfter: 1, start: GatewayUp, probes: "ffa", want: "udu", wantChanges: 2},
		{name: "down after one", downAfter: 1, upAfter: 1, start: GatewayUp, probes: "faf", want: "dud", wantChanges: 3},
		{name: "back after three in a row", downAfter: 1, upAfter: 3, start: GatewayDown, probes: "aafaaa", want: "dddddu", wantChanges: 1},
		{name: "failures while down change nothing", downAfter: 2, upAfter: 2, start: GatewayDown, probes: "fffa", want: "dddd"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := health{state: tc.start}
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			var got []byte
			changes, lastChange := 0, -1
			for i, p := range []byte(tc.probes) {
				now := t0.Add(time.Duration(i) * time.Second)
				if h.record(p == 'a', now, tc.downAfter, tc.upAfter) {
					changes, lastChange = changes+1, i
				}
				got = append(got, h.state.String()[0])
			}
			if string(got) != tc.want || changes != tc.wantChanges {
				t.Errorf("states %s with %d changes, want %s with %d", got, changes, tc.want, tc.wantChanges)
			}
			if want := t0.Add(time.Duration(lastChange) * time.Second); lastChange >= 0 && !h.since.Equal(want) {
				t.Errorf("since %v, want the last change at %v", h.since, want)
			}
		})
	}
}

func TestGatewayStateString(t *testing.T) {
	for s, want := range map[GatewayState]string{GatewayUp: "up", GatewayDown: "down", GatewayUnmonitored: "unmonitored", 0: "unknown", 9: "unknown"} {
		if got := s.String(); got != want {
			t.Errorf("GatewayState(%d).String() = %q, want %q", int(s), got, want)
		}
	}
}
