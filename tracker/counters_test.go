package tracker

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ccplane/telephony"
)

// callSpec describes an ended call for tests; offsets count from created, and 0 leaves the
// timestamp unset (ended defaults to 40 s).
type callSpec struct {
	gateway string
	created time.Time
	code    int
	cause   telephony.Cause
	invite  time.Duration
	pdd     time.Duration // progress = invite + pdd
	answer  time.Duration
	talk    time.Duration // ended = answer + talk
}

func (s callSpec) call() *telephony.Call {
	c := &telephony.Call{
		Gateway:      s.gateway,
		State:        telephony.StateEnded,
		LastResponse: telephony.Status{Code: s.code},
		Termination:  telephony.Termination{Party: s.cause.Party(), Cause: s.cause},
		CreatedAt:    s.created,
		EndedAt:      s.created.Add(40 * time.Second),
	}
	if s.invite != 0 {
		c.InviteSentAt = s.created.Add(s.invite)
	}
	if s.pdd != 0 {
		c.ProgressAt = c.InviteSentAt.Add(s.pdd)
	}
	if s.answer != 0 {
		c.AnsweredAt = s.created.Add(s.answer)
		c.EndedAt = c.AnsweredAt.Add(s.talk)
	}
	return c
}

var t1005 = time.Date(2026, 3, 2, 10, 5, 0, 0, time.UTC)

const milli = time.Millisecond

var (
	h10   = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	h11   = h10.Add(time.Hour)
	day1  = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	day2  = day1.Add(24 * time.Hour)
	d2h09 = day2.Add(9 * time.Hour)
)

// mixedBatch is the calls the report tests count. gw-a's 10:00 hour holds 11 calls: 10
// attempts, 3 answered (60 s, 50 ms, 30 s of talk), 6 callee verdicts, 6 kills, PDDs of 0.35,
// 0.8, 1.1, 2.4 and 3.4 s.
func mixedBatch() []callSpec {
	const (
		a, b = "gw-a", "gw-b"
		s    = time.Second
	)
	return []callSpec{
		{gateway: a, created: t1005, code: 200, cause: telephony.CauseRemoteHangup, invite: 100 * milli, pdd: 1100 * milli, answer: 6 * s, talk: time.Minute},
		{gateway: a, created: t1005, code: 486, cause: telephony.CauseRemoteRejected, invite: 100 * milli},
		{gateway: a, created: t1005, code: 404, cause: telephony.CauseRemoteRejected, invite: 100 * milli},
		{gateway: a, created: t1005, code: 180, cause: telephony.CauseRingTimeout, invite: 100 * milli, pdd: 2400 * milli},
		{gateway: a, created: t1005, code: 0, cause: telephony.CauseSetupTimeout, invite: 100 * milli},
		{gateway: a, created: t1005, code: 900, cause: telephony.CauseDirectionBlocked},
		{gateway: a, created: t1005, code: 200, cause: telephony.CauseHangupRequested, invite: 100 * milli, pdd: 800 * milli, answer: 30 * s, talk: 50 * milli},
		{gateway: a, created: t1005.Add(20 * time.Minute), code: 200, cause: telephony.CauseHangupRequested, invite: 100 * milli, pdd: 3400 * milli, answer: 9 * s, talk: 30 * s},
		{gateway: a, created: t1005.Add(30 * time.Minute), code: 603, cause: telephony.CauseRemoteRejected, invite: 100 * milli, pdd: 350 * milli},
		{gateway: a, created: t1005.Add(40 * time.Minute), code: 503, cause: telephony.CauseRemoteRejected, invite: 100 * milli},
		{gateway: a, created: t1005.Add(54 * time.Minute), code: 0, cause: telephony.CauseTransportError, invite: 100 * milli},

		{gateway: a, created: h11, code: 480, cause: telephony.CauseRemoteRejected, invite: 100 * milli, pdd: 5500 * milli},
		{gateway: a, created: h11.Add(59 * time.Minute), code: 200, cause: telephony.CauseRemoteHangup, invite: 100 * milli, pdd: 1500 * milli, answer: 5 * s, talk: 90 * s},
		{gateway: a, created: d2h09, code: 486, cause: telephony.CauseRemoteRejected, invite: 100 * milli},

		{gateway: b, created: t1005, code: 480, cause: telephony.CauseRemoteRejected, invite: 100 * milli},
		{gateway: b, created: t1005, code: 404, cause: telephony.CauseRemoteRejected, invite: 100 * milli},
		{gateway: b, created: t1005, code: 200, cause: telephony.CauseRemoteHangup, invite: 100 * milli, pdd: 600 * milli, answer: 4 * s, talk: 2 * time.Minute},
	}
}

func TestCounters(t *testing.T) {
	noParty := (callSpec{created: t1005, code: 0, invite: milli}).call()
	noParty.Termination = telephony.Termination{}
	causeOnly := (callSpec{created: t1005, code: 486, cause: telephony.CauseRemoteRejected, invite: milli}).call()
	causeOnly.Termination.Party = 0
	backwards := (callSpec{created: t1005, code: 180, cause: telephony.CauseHangupRequested, invite: 2 * time.Second}).call()
	backwards.ProgressAt = t1005.Add(time.Second)

	tests := []struct {
		name string
		call *telephony.Call
		want map[string]int64
	}{
		{name: "answered, remote bye", call: callSpec{created: t1005, code: 200, cause: telephony.CauseRemoteHangup,
			invite: 100 * milli, pdd: 1100 * milli, answer: 6 * time.Second, talk: time.Minute}.call(),
			want: map[string]int64{"calls": 1, "attempts": 1, "answered": 1, "ner": 1, "talk_ms": 60000,
				"code:200": 1, "party:finish": 1, "cause:remote_hangup": 1, "pdd:11": 1}},
		{name: "busy", call: callSpec{created: t1005, code: 486, cause: telephony.CauseRemoteRejected, invite: milli}.call(),
			want: map[string]int64{"calls": 1, "attempts": 1, "ner": 1, "code:486": 1, "party:finish": 1,
				"cause:remote_rejected": 1}},
		{name: "404 is no verdict", call: callSpec{created: t1005, code: 404, cause: telephony.CauseRemoteRejected, invite: milli}.call(),
			want: map[string]int64{"calls": 1, "attempts": 1, "code:404": 1, "party:finish": 1, "cause:remote_rejected": 1}},
		{name: "ring timeout on 180", call: callSpec{created: t1005, code: 180, cause: telephony.CauseRingTimeout,
			invite: milli, pdd: 2400 * milli}.call(),
			want: map[string]int64{"calls": 1, "attempts": 1, "ner": 1, "code:180": 1, "party:kill": 1,
				"cause:ring_timeout": 1, "pdd:21": 1}},
		{name: "hang-up while ringing is no verdict", call: callSpec{created: t1005, code: 183, cause: telephony.CauseHangupRequested,
			invite: milli, pdd: 30 * time.Second}.call(),
			want: map[string]int64{"calls": 1, "attempts": 1, "code:183": 1, "party:kill": 1,
				"cause:hangup_requested": 1, "pdd:62": 1}},
		{name: "setup timeout, no response", call: callSpec{created: t1005, code: 0, cause: telephony.CauseSetupTimeout, invite: milli}.call(),
			want: map[string]int64{"calls": 1, "attempts": 1, "code:0": 1, "party:kill": 1, "cause:setup_timeout": 1}},
		{name: "direction blocked is no attempt", call: callSpec{created: t1005, code: 900, cause: telephony.CauseDirectionBlocked}.call(),
			want: map[string]int64{"calls": 1, "code:900": 1, "party:kill": 1, "cause:direction_blocked": 1}},
		{name: "200 crossing our cancel", call: callSpec{created: t1005, code: 200, cause: telephony.CauseRingTimeout,
			invite: milli, pdd: 800 * milli, answer: 30 * time.Second, talk: 50 * milli}.call(),
			want: map[string]int64{"calls": 1, "attempts": 1, "answered": 1, "ner": 1, "talk_ms": 50,
				"code:200": 1, "party:kill": 1, "cause:ring_timeout": 1, "pdd:8": 1}},
		{name: "2xx counts as 200", call: callSpec{created: t1005, code: 202, cause: telephony.CauseRemoteHangup, invite: milli}.call(),
			want: map[string]int64{"calls": 1, "attempts": 1, "answered": 1, "ner": 1, "code:200": 1,
				"party:finish": 1, "cause:remote_hangup": 1}},
		{name: "provider response implies an attempt", call: callSpec{created: t1005, code: 403, cause: telephony.CauseRemoteRejected}.call(),
			want: map[string]int64{"calls": 1, "attempts": 1, "code:403": 1, "party:finish": 1, "cause:remote_rejected": 1}},
		{name: "party from cause", call: causeOnly,
			want: map[string]int64{"calls": 1, "attempts": 1, "ner": 1, "code:486": 1, "party:finish": 1,
				"cause:remote_rejected": 1}},
		{name: "no termination", call: noParty,
			want: map[string]int64{"calls": 1, "attempts": 1, "code:0": 1, "party:unspecified": 1, "cause:unspecified": 1}},
		{name: "progress before invite has no pdd", call: backwards,
			want: map[string]int64{"calls": 1, "attempts": 1, "code:180": 1, "party:kill": 1, "cause:hangup_requested": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Counters(tc.call)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Counters mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCountersPDDBuckets(t *testing.T) {
	tests := []struct {
		name  string
		delay time.Duration
		want  int
	}{
		{name: "zero", delay: 0, want: 0},
		{name: "below first bound", delay: 99 * milli, want: 0},
		{name: "on a bound opens the next bucket", delay: 100 * milli, want: 1},
		{name: "last 100 milli step", delay: 1999 * milli, want: 19},
		{name: "first 250 milli step", delay: 2 * time.Second, want: 20},
		{name: "inside 250 milli step", delay: 2400 * milli, want: 21},
		{name: "first 500 milli step", delay: 5100 * milli, want: 32},
		{name: "last 1 s step", delay: 29999 * milli, want: 61},
		{name: "30 s overflows", delay: 30 * time.Second, want: 62},
		{name: "an hour overflows", delay: time.Hour, want: 62},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := pddIndex(tc.delay); got != tc.want {
				t.Errorf("pddIndex(%v) = %v, want %v", tc.delay, got, tc.want)
			}
		})
	}
	for i := 1; i < len(pddBounds); i++ {
		if pddBounds[i] <= pddBounds[i-1] {
			t.Errorf("pddBounds[%d] = %v after %v, want increasing", i, pddBounds[i], pddBounds[i-1])
		}
	}
}

func TestCountersHourOf(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	tests := []struct {
		name    string
		created time.Time
		want    time.Time
	}{
		{name: "inside the hour", created: t1005, want: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)},
		{name: "on the hour", created: time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC), want: time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC)},
		{name: "other zone is put in UTC", created: time.Date(2026, 3, 2, 0, 30, 0, 0, paris), want: time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := HourOf(&telephony.Call{CreatedAt: tc.created})
			if !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Errorf("HourOf = %v, want %v", got, tc.want)
			}
		})
	}
}

func BenchmarkCounters(b *testing.B) {
	calls := make([]*telephony.Call, 0, len(mixedBatch()))
	for _, s := range mixedBatch() {
		calls = append(calls, s.call())
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		Counters(calls[i%len(calls)])
		i++
	}
}
