package tracker

import (
	"fmt"
	"strconv"
	"time"

	"github.com/ccplane/telephony"
)

// The keys. A call's record is under its own hash tag; everything of one gateway (its
// index, its buckets and the list of their hours) under the gateway's, so the aggregate
// script may touch them together in a Cluster. "g:" keeps the tag from being empty for a
// gateway named "", which would hash each key by its whole name instead.
const (
	allKey      = "calls:all"
	gatewaysKey = "report:gateways"
)

func callKey(id string) string         { return "call:{" + id + "}" }
func requestKey(rid string) string     { return "callreq:{" + rid + "}" }
func gatewayIndexKey(gw string) string { return "calls:{g:" + gw + "}" }
func bucketKeyOf(k bucketKey) string {
	return "report:{g:" + k.gateway + "}:" + strconv.FormatInt(k.hour, 10) + labelSuffix(k.label)
}

// hoursKey is the index of the hours of gw's buckets of label ("" = the plain buckets).
func hoursKey(gw, label string) string { return "report:{g:" + gw + "}:hours" + labelSuffix(label) }

// labelSuffix ends the key of a label bucket or of its hours: the label is last, after a
// ":L:" no other key of the gateway has there, so its value needs no escaping (see
// maxReportLabelKey).
func labelSuffix(label string) string {
	if label == "" {
		return ""
	}
	return ":L:" + label
}

// bucketIDsKey is the set of the IDs counted in a plain bucket, which guards its label
// buckets too.
func bucketIDsKey(k bucketKey) string   { return bucketKeyOf(k) + ":ids" }
func indexMember(c Cursor) string       { return nanosPrefix(c.CreatedAt) + ":" + c.ID }
func memberOf(c *telephony.Call) string { return indexMember(cursorOf(c)) }

// nanosPrefix is a time as 19 decimal digits of Unix nanoseconds, so that index members
// (all of score 0) sort by time, then id, as strings: ZRANGEBYLEX then pages and trims by
// exact creation time, which a float64 score could not hold to the nanosecond. Times
// before 1970 (a zero CreatedAt) count as 1970.
func nanosPrefix(t time.Time) string {
	n := int64(0)
	if t.After(time.Unix(0, 0)) {
		n = t.UnixNano()
	}
	s := strconv.FormatInt(n, 10)
	return "0000000000000000000"[len(s):] + s
}

// parseMember is the cursor of an index member.
func parseMember(m string) (Cursor, error) {
	if len(m) < 21 || m[19] != ':' {
		return Cursor{}, fmt.Errorf("tracker: index member %q is not <nanos>:<id>", m)
	}
	n, err := strconv.ParseInt(m[:19], 10, 64)
	if err != nil {
		return Cursor{}, fmt.Errorf("tracker: index member %q: %w", m, err)
	}
	return Cursor{CreatedAt: time.Unix(0, n), ID: m[20:]}, nil
}
