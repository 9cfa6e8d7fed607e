package tracker

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ccplane/telephony"
)

// Counter names. They are stored (a Redis hash per gateway and hour), so a name, and the
// meaning of a pdd bucket index, never changes once released: new rules get new names.
const (
	counterCalls    = "calls"    // every ended call, 9XX included
	counterAttempts = "attempts" // an INVITE left: the base of ASR and NER
	counterAnswered = "answered" // last response 2xx
	counterNER      = "ner"      // the callee side gave a verdict (see nerVerdict)
	counterTalkMS   = "talk_ms"  // EndedAt-AnsweredAt of answered calls, in milliseconds
	prefixCode      = "code:"    // code:<last response, 2xx folded to 200>
	prefixParty     = "party:"   // party:kill, party:finish (party:unspecified if unknown)
	prefixCause     = "cause:"   // cause:<telephony.Cause.String()>, cause:unspecified if 0
	prefixPDD       = "pdd:"     // pdd:<index into pddBounds> for calls with a first 18x
)

// pddBounds are the upper bounds, in milliseconds, of the post-dial delay histogram: bucket i
// holds [pddBounds[i-1], pddBounds[i]) (bucket 0 starts at 0) and the last bucket, index
// len(pddBounds), holds 30 s and more. Steps are 100 ms up to 2 s, where most PDDs of a
// healthy route fall, then 250 ms to 5 s, 500 ms to 10 s and 1 s to 30 s. Never modified.
var pddBounds = [...]int64{
	100, 200, 300, 400, 500, 600, 700, 800, 900, 1000,
	1100, 1200, 1300, 1400, 1500, 1600, 1700, 1800, 1900, 2000,
	2250, 2500, 2750, 3000, 3250, 3500, 3750, 4000, 4250, 4500, 4750, 5000,
	5500, 6000, 6500, 7000, 7500, 8000, 8500, 9000, 9500, 10000,
	11000, 12000, 13000, 14000, 15000, 16000, 17000, 18000, 19000, 20000,
	21000, 22000, 23000, 24000, 25000, 26000, 27000, 28000, 29000, 30000,
}

// pddBuckets is the number of histogram buckets: one per bound, and the one beyond 30 s.
const pddBuckets = len(pddBounds) + 1

// pddKeys are the counter names of the buckets, built once so that Counters does not format
// them. Never modified.
var pddKeys = func() (keys [pddBuckets]string) {
	for i := range keys {
		keys[i] = prefixPDD + strconv.Itoa(i)
	}
	return keys
}()

// pddIndex returns the histogram bucket of a post-dial delay.
func pddIndex(d time.Duration) int {
	i, found := slices.BinarySearch(pddBounds[:], d.Milliseconds())
	if found { // an upper bound is exclusive: the value opens the next bucket
		i++
	}
	return i
}

// pddQuantile estimates the q-quantile (0 < q ≤ 1) of the delays counted in hist: the value
// of rank ceil(q·n), placed by linear interpolation inside its bucket, with each of the
// bucket's k calls taken at the middle of its own 1/k slice of the bucket. The estimate lies
// in the same bucket as the true value, so it is off by less than that bucket's width (100 ms
// below 2 s, 250 ms to 5 s, 500 ms to 10 s, 1 s to 30 s); beyond 30 s it reports 30 s, a lower
// bound. It returns 0 when hist is empty.
func pddQuantile(hist *[pddBuckets]int64, q float64) time.Duration {
	var n int64
	for _, c := range hist {
		n += c
	}
	if n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q*float64(n) - 1e-9)) // 0.95×20 must stay rank 19 despite rounding
	rank = max(1, min(rank, n))
	var before int64
	for i, c := range hist {
		if before+c < rank {
			before += c
			continue
		}
		var lo int64
		if i > 0 {
			lo = pddBounds[i-1]
		}
		if i == len(pddBounds) {
			return time.Duration(lo) * time.Millisecond
		}
		width := float64(pddBounds[i] - lo)
		ms := float64(lo) + width*(float64(rank-before)-0.5)/float64(c)
		return time.Duration(math.Round(ms * float64(time.Millisecond)))
	}
	return 0 // not reached: rank ≤ n
}

// Counters returns what one ended call adds to its gateway's hourly aggregate (see HourOf): a
// flat map of counter name → increment, holding only non-zero increments. It is pure and
// deterministic; the store calls it once per call, when the call has ended, so calls still
// in progress are never counted. The counters, each incremented by 1 unless said otherwise:
//
//   - "calls": every ended call, those we blocked before dialling (9XX) included.
//   - "attempts": an INVITE was sent (InviteSentAt set). A provider response (1xx–6xx)
//     implies one even if the timestamp is missing, so answered ≤ attempts always holds.
//     9XX calls were never sent and are not attempts.
//   - "answered": the last response is 2xx (the callee picked up), a 200 that crossed our
//     CANCEL included: it was answered, with about zero talk time.
//   - "talk_ms": for answered calls, EndedAt − AnsweredAt in whole milliseconds (absent when
//     a timestamp is missing or the difference is not positive).
//   - "ner": the provider's network brought back the callee side's verdict: answered, busy
//     (486, 600), no answer (480, 408, or a last 18x when our ring timeout ended the call),
//     or the callee's rejection (603, 607). A hang-up of ours while it rang is no verdict.
//   - "code:<n>": the last response code. 0 (no response) and every other code count under
//     their own number, except that any 2xx counts as code:200.
//   - "party:kill" / "party:finish": who ended the call (Termination.Party, or the party of
//     its cause when unset; "party:unspecified" when neither is known).
//   - "cause:<name>": Termination.Cause by its String name ("cause:unspecified" for none).
//   - "pdd:<i>": post-dial delay InviteSentAt → ProgressAt (first 18x) in histogram bucket i
//     (see pddBounds), only for calls with both timestamps, in order.
func Counters(c *telephony.Call) map[string]int64 {
	code := c.LastResponse.Code
	if code/100 == 2 {
		code = 200
	}
	answered := code == 200
	m := make(map[string]int64, 9)
	m[counterCalls] = 1
	m[codeKey(code)] = 1
	m[partyKey(c.Termination)] = 1
	m[causeKey(c.Termination.Cause)] = 1
	if !c.InviteSentAt.IsZero() || (code >= 100 && code < 700) {
		m[counterAttempts] = 1
	}
	if answered {
		m[counterAnswered] = 1
		if talk := c.EndedAt.Sub(c.AnsweredAt); !c.AnsweredAt.IsZero() && !c.EndedAt.IsZero() && talk > 0 {
			m[counterTalkMS] = talk.Milliseconds()
		}
	}
	if nerVerdict(code, c.Termination.Cause) {
		m[counterNER] = 1
	}
	if !c.InviteSentAt.IsZero() && !c.ProgressAt.IsZero() && !c.ProgressAt.Before(c.InviteSentAt) {
		m[pddKeys[pddIndex(c.ProgressAt.Sub(c.InviteSentAt))]] = 1
	}
	return m
}

// nerVerdict reports whether a call that ended with last response code (2xx already folded
// to 200) and cause carries a verdict from the callee side, in the sense of ITU-T E.425's
// network effectiveness ratio: answer, user busy, ring no answer, terminal rejection.
func nerVerdict(code int, cause telephony.Cause) bool {
	switch code {
	case 200, 486, 600, 480, 408, 603, 607:
		return true
	}
	return code >= 180 && code <= 189 && cause == telephony.CauseRingTimeout
}

// HourOf returns the bucket a call's counters go to: its CreatedAt truncated to the hour, in
// UTC. A call is counted in the hour it was created, even if it ended in a later one.
func HourOf(c *telephony.Call) time.Time {
	return c.CreatedAt.UTC().Truncate(time.Hour)
}

func codeKey(code int) string {
	var buf [24]byte
	return string(strconv.AppendInt(append(buf[:0], prefixCode...), int64(code), 10))
}

func partyKey(t telephony.Termination) string {
	p := t.Party
	if p == 0 {
		p = t.Cause.Party()
	}
	switch p {
	case telephony.PartyKill:
		return prefixParty + "kill"
	case telephony.PartyFinish:
		return prefixParty + "finish"
	}
	return prefixParty + "unspecified"
}

func causeKey(c telephony.Cause) string {
	if c == 0 {
		return prefixCause + "unspecified"
	}
	return prefixCause + c.String()
}

// agg is a parsed sum of counters.
type agg struct {
	calls, attempts, answered, ner, talkMS int64
	pdd                                    [pddBuckets]int64
	parties                                [3]int64          // indexed by telephony.Party; 0 = unspecified
	causes                                 [causeSlots]int64 // indexed by telephony.Cause; 0 = unspecified or unknown
	codes                                  []codeTally       // a period sees a few codes: a slice beats a map
}

// causeSlots bounds the causes an agg tells apart, well above the dozen that exist.
const causeSlots = 32

type codeTally struct {
	code int
	n    int64
}

func (a *agg) addCode(code int, n int64) {
	for i := range a.codes {
		if a.codes[i].code == code {
			a.codes[i].n += n
			return
		}
	}
	if a.codes == nil {
		a.codes = make([]codeTally, 0, 16)
	}
	a.codes = append(a.codes, codeTally{code, n})
}

// add adds one counter; causes maps a cause name to its value.
func (a *agg) add(name string, v int64, causes map[string]telephony.Cause) {
	switch name {
	case counterCalls:
		a.calls += v
	case counterAttempts:
		a.attempts += v
	case counterAnswered:
		a.answered += v
	case counterNER:
		a.ner += v
	case counterTalkMS:
		a.talkMS += v
	case prefixParty + "kill":
		a.parties[telephony.PartyKill] += v
	case prefixParty + "finish":
		a.parties[telephony.PartyFinish] += v
	case prefixParty + "unspecified":
		a.parties[0] += v
	default:
		if rest, ok := strings.CutPrefix(name, prefixCode); ok {
			if code, err := strconv.Atoi(rest); err == nil {
				a.addCode(code, v)
			}
		} else if rest, ok := strings.CutPrefix(name, prefixCause); ok {
			if cause := causes[rest]; cause < causeSlots {
				a.causes[cause] += v
			} else {
				a.causes[0] += v
			}
		} else if rest, ok := strings.CutPrefix(name, prefixPDD); ok {
			if i, err := strconv.Atoi(rest); err == nil && i >= 0 && i < pddBuckets {
				a.pdd[i] += v
			}
		}
	}
}

func (a *agg) merge(o *agg) {
	a.calls += o.calls
	a.attempts += o.attempts
	a.answered += o.answered
	a.ner += o.ner
	a.talkMS += o.talkMS
	for i, n := range o.pdd {
		a.pdd[i] += n
	}
	for i, n := range o.parties {
		a.parties[i] += n
	}
	for i, n := range o.causes {
		a.causes[i] += n
	}
	for _, c := range o.codes {
		a.addCode(c.code, c.n)
	}
}
