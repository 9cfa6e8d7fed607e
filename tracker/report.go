package tracker

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ccplane/telephony"
)

// Bucket is one gateway's counters (see Counters) for one hour: the sum of what every call
// created in that hour added, or with a Label, every such call that carries that label.
type Bucket struct {
	Gateway  string
	Hour     time.Time // start of the hour, UTC
	Label    string    // "" for all the gateway's calls, else "k=v" (see Store.Buckets)
	Counters map[string]int64
}

// Granularity is the length of a report's periods. Periods are UTC hours or days.
type Granularity int

// The granularities. The zero value is Hourly; any value other than Daily reports hourly.
const (
	Hourly Granularity = iota
	Daily
)

// ReportQuery selects the calls a report covers: those of Gateway ("" = every gateway)
// created in [From, To). Counters are kept per hour, so the range is applied to whole hours:
// From is rounded down to the hour and an hour is included when it starts before To. A zero
// From or To leaves that side open.
type ReportQuery struct {
	Gateway     string
	From, To    time.Time
	Granularity Granularity
}

// Meanings holds what particular providers mean by a code when it differs from the usual
// practice (some send 480 when our channel capacity is exceeded, 603 for a fraud block):
// gateway → code → their meaning, in a sentence for the operator.
type Meanings map[string]map[int]string

// Report is the SIP-response report of a query.
type Report struct {
	Query    ReportQuery
	Total    Stats           // every gateway of the report together
	Gateways []GatewayReport // the gateways with calls in the range, by name
}

// GatewayReport is one gateway's figures over the whole range and per period.
type GatewayReport struct {
	Gateway string
	Total   Stats
	Periods []Period // the periods with calls, oldest first
}

// Period is the figures of one hour or day (UTC) of one gateway. Start is the start of the
// hour or day even when the query covers only part of a day.
type Period struct {
	Start, End time.Time
	Stats
}

// Stats are the counts and ratios of a set of ended calls. A ratio is 0 when its base is 0.
type Stats struct {
	Calls    int64 // ended calls, 9XX included
	Attempts int64 // calls for which an INVITE was sent
	Answered int64 // calls whose last response is 2xx
	Blocked  int64 // calls we refused before dialling: last response 9XX
	// ASR is the answer-seizure ratio, Answered / Attempts: calls we blocked are no attempts.
	ASR float64
	// NER is the network effectiveness ratio: the attempts for which the provider brought
	// back the callee side's verdict (answered, busy, no answer, declined) / Attempts.
	NER float64
	// ACD is the average talk time (EndedAt − AnsweredAt) of answered calls, to the ms.
	ACD time.Duration
	// PDD50 and PDD95 are the median and 95th percentile of the post-dial delay (INVITE sent
	// → first 18x) of the PDDCalls calls that had an 18x, estimated from a histogram: off by
	// less than the width of the bucket the true value lies in (100 ms below 2 s, 250 ms to
	// 5 s, 500 ms to 10 s, 1 s to 30 s); a delay beyond 30 s is reported as 30 s.
	PDD50, PDD95 time.Duration
	PDDCalls     int64
	// KillShare is the share of calls ended by our side: kill / (kill + finish). 9XX
	// rejections are kills.
	KillShare float64
	Codes     []CodeCount  // by count, most frequent first, then by code
	Parties   []PartyCount // kill, then finish, then unspecified; only those with calls
	Causes    []CauseCount // by count, most frequent first, then by cause
}

// CodeCount is how many calls ended with a last response code, and what the code means.
type CodeCount struct {
	Code     int
	Reason   string  // the standard reason phrase (ours for 9XX)
	Count    int64   // calls
	Share    float64 // Count / Calls of the same Stats
	Meaning  string  // what the standard says
	Practice string  // what it usually means for an outbound call, and what to do
	// GatewayMeaning is what this gateway's provider means by the code (from Meanings),
	// shown beside the standard meaning; empty when none is configured, and always in the
	// Report's Total, which mixes gateways.
	GatewayMeaning string
}

// PartyCount is how many calls a party ended.
type PartyCount struct {
	Party telephony.Party
	Count int64
}

// CauseCount is how many calls ended for a cause. Counters written under a cause name this
// build does not know are reported as cause 0.
type CauseCount struct {
	Cause telephony.Cause
	Count int64
}

// BuildReport turns the buckets a store returned for q into the report. It ignores
// Bucket.Label: the caller passes the buckets of one label (or of none). Buckets outside q
// (another gateway, an hour out of range) are ignored, buckets of the same gateway and hour
// are added together, and counters it does not know are skipped. It does not modify buckets.
func BuildReport(q ReportQuery, buckets []Bucket, meanings Meanings) *Report {
	b := builder{meanings: meanings, explained: make(map[int]CodeInfo), causes: causesByName()}
	from := q.From.UTC().Truncate(time.Hour)
	period := time.Hour
	if q.Granularity == Daily {
		period = 24 * time.Hour // the zero Time is a UTC midnight: Truncate gives UTC days
	}
	type key struct {
		gateway string
		start   int64 // Unix seconds
	}
	periods := make(map[key]*agg)
	for _, bk := range buckets {
		hour := bk.Hour.UTC()
		if (q.Gateway != "" && bk.Gateway != q.Gateway) || (!q.From.IsZero() && hour.Before(from)) ||
			(!q.To.IsZero() && !hour.Before(q.To)) {
			continue
		}
		k := key{bk.Gateway, hour.Truncate(period).Unix()}
		a := periods[k]
		if a == nil {
			a = new(agg)
			periods[k] = a
		}
		for name, v := range bk.Counters {
			a.add(name, v, b.causes)
		}
	}

	keys := slices.SortedFunc(maps.Keys(periods), func(x, y key) int {
		return cmp.Or(strings.Compare(x.gateway, y.gateway), cmp.Compare(x.start, y.start))
	})
	r := &Report{Query: q}
	all := new(agg)
	for i := 0; i < len(keys); {
		j := i + 1 // keys[i:j] are one gateway's periods
		for j < len(keys) && keys[j].gateway == keys[i].gateway {
			j++
		}
		gw := GatewayReport{Gateway: keys[i].gateway, Periods: make([]Period, 0, j-i)}
		total := new(agg)
		for _, k := range keys[i:j] {
			if a := periods[k]; a.calls != 0 {
				start := time.Unix(k.start, 0).UTC()
				gw.Periods = append(gw.Periods, Period{Start: start, End: start.Add(period), Stats: b.stats(a, gw.Gateway)})
				total.merge(a)
			}
		}
		i = j
		if total.calls == 0 {
			continue
		}
		gw.Total = b.stats(total, gw.Gateway)
		r.Gateways = append(r.Gateways, gw)
		all.merge(total)
	}
	r.Total = b.stats(all, "")
	return r
}

// builder turns aggs into Stats, explaining each code once per report.
type builder struct {
	meanings  Meanings
	explained map[int]CodeInfo
	causes    map[string]telephony.Cause
}

// stats computes the figures of a; gateway selects the Meanings to show ("" for none).
func (b *builder) stats(a *agg, gateway string) Stats {
	s := Stats{
		Calls:    a.calls,
		Attempts: a.attempts,
		Answered: a.answered,
		ASR:      ratio(a.answered, a.attempts),
		NER:      ratio(a.ner, a.attempts),
		PDD50:    pddQuantile(&a.pdd, 0.50),
		PDD95:    pddQuantile(&a.pdd, 0.95),
	}
	if a.answered > 0 { // in two steps, so that a long sum of ms cannot overflow ns
		s.ACD = time.Duration(a.talkMS/a.answered)*time.Millisecond +
			time.Duration(a.talkMS%a.answered)*time.Millisecond/time.Duration(a.answered)
	}
	for _, n := range a.pdd {
		s.PDDCalls += n
	}
	kill, finish := a.parties[telephony.PartyKill], a.parties[telephony.PartyFinish]
	s.KillShare = ratio(kill, kill+finish)
	s.Parties = make([]PartyCount, 0, len(a.parties))
	for _, p := range []telephony.Party{telephony.PartyKill, telephony.PartyFinish, 0} {
		if n := a.parties[p]; n > 0 {
			s.Parties = append(s.Parties, PartyCount{Party: p, Count: n})
		}
	}
	s.Codes = make([]CodeCount, 0, len(a.codes))
	for _, c := range a.codes {
		code, n := c.code, c.n
		if code >= 900 && code <= 999 {
			s.Blocked += n
		}
		info, ok := b.explained[code]
		if !ok {
			info = Explain(code)
			b.explained[code] = info
		}
		s.Codes = append(s.Codes, CodeCount{Code: code, Reason: info.Phrase, Count: n,
			Share: ratio(n, a.calls), Meaning: info.Meaning, Practice: info.Practice})
		if gateway != "" {
			s.Codes[len(s.Codes)-1].GatewayMeaning = b.meanings[gateway][code]
		}
	}
	slices.SortFunc(s.Codes, func(x, y CodeCount) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Code, y.Code))
	})
	s.Causes = make([]CauseCount, 0, 8)
	for cause, n := range a.causes {
		if n != 0 {
			s.Causes = append(s.Causes, CauseCount{Cause: telephony.Cause(cause), Count: n})
		}
	}
	slices.SortFunc(s.Causes, func(x, y CauseCount) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Cause, y.Cause))
	})
	return s
}

func ratio(n, base int64) float64 {
	if base == 0 {
		return 0
	}
	return float64(n) / float64(base)
}

// causesByName maps each cause's counter name (see causeKey) to the cause.
func causesByName() map[string]telephony.Cause {
	m := map[string]telephony.Cause{"unspecified": 0}
	for c := telephony.Cause(1); c.String() != "unknown"; c++ {
		m[c.String()] = c
	}
	return m
}
