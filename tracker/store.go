package tracker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ccplane/telephony"
)

// Store keeps the call records and the report's hourly aggregates. Memory, Redis and
// Buffered implement it, and all three pass the same test suite. Implementations are safe
// for concurrent use; the records they return are copies the caller may keep.
//
// A record that says the call ended (Termination.Ended) is final: a later write that does
// not say so is ignored, so a retried or reordered intermediate version never reopens a call.
// The first time a store sees a record ended (through Create or Update), it adds
// Counters(c) into the bucket (c.Gateway, HourOf(c)), and into the bucket (c.Gateway,
// HourOf(c), "k=v") of each of the store's report label keys k the call carries (with value
// v, "" included), exactly once per call however often the ended record is written again.
// Only the configured keys are aggregated (RedisConfig.ReportLabels,
// Memory.WithReportLabels), so that a label of one value per call (a CRM id) does not make
// one bucket per call.
type Store interface {
	// Create stores a new call. When c.RequestID was already claimed by another call,
	// nothing is stored and that call is returned with created false: the caller must not
	// dial again. Writing the same call (same ID) again returns it with created true.
	Create(ctx context.Context, c *telephony.Call) (got *telephony.Call, created bool, err error)
	// Update replaces the record of an existing call (ErrNotFound if there is none).
	Update(ctx context.Context, c *telephony.Call) error
	// Get returns the record of call id, or ErrNotFound.
	Get(ctx context.Context, id string) (*telephony.Call, error)
	// List returns the calls that match f, newest first (by CreatedAt, then ID), at most
	// f.Limit of them, and the cursor to pass as f.After for the next page; the zero Cursor
	// means there is no next page. A page may hold fewer calls than the limit and still
	// have a next page (Redis bounds the work of one List), so callers page until the
	// cursor is zero.
	List(ctx context.Context, f Filter) ([]*telephony.Call, Cursor, error)
	// Buckets returns the hourly aggregates of gateway ("" = every gateway) of the hours
	// that overlap [from, to): from is rounded down to its hour, as ReportQuery does, and a
	// zero to leaves the end open. They are ordered by gateway, then hour. Label "" selects
	// the buckets of all the gateway's calls; "k=v" only the calls with label k = v, which
	// has buckets only if k is one of the store's report label keys (none otherwise, and
	// none for a label without "=").
	Buckets(ctx context.Context, gateway, label string, from, to time.Time) ([]Bucket, error)
}

var (
	_ Store = (*Memory)(nil)
	_ Store = (*Redis)(nil)
	_ Store = (*Buffered)(nil)
)

var (
	// ErrNotFound is returned for a call id the tracker has no record of.
	ErrNotFound = errors.New("tracker: call not found")
	// ErrInvalidCall is returned for a record that cannot be stored (no ID).
	ErrInvalidCall = errors.New("tracker: invalid call record")
)

// DefaultRetention is how long the Redis store keeps records and aggregates by default.
const DefaultRetention = 30 * 24 * time.Hour

// validate rejects what no store can key: the ID names the record everywhere.
func validate(c *telephony.Call) error {
	if c == nil || c.ID == "" {
		return fmt.Errorf("%w: no call id", ErrInvalidCall)
	}
	return nil
}

// permanent reports whether a store error will not go away by writing again later: the
// record itself is refused. Anything else (a network error, a timeout, a Redis that is
// loading or failing over) is worth retrying.
func permanent(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalidCall)
}

// bucketKey names one aggregate: a gateway, an hour in Unix seconds, which unlike a
// time.Time compares equal whatever the location it was computed in, and a label ("" for
// all the gateway's calls, else "k=v").
type bucketKey struct {
	gateway string
	hour    int64
	label   string
}

func bucketOf(c *telephony.Call) bucketKey {
	return bucketKey{gateway: c.Gateway, hour: HourOf(c).Unix()}
}

// Report label keys are label keys as the server accepts them: letters, digits, '_', '-'
// and '.', at most 63 bytes. Having no '=' (nor ':'), a key is split from its value at the
// first '=' of "k=v", whatever the value holds (up to 256 bytes, no control characters, but
// ':' and '=' allowed).
const maxReportLabelKey = 63

// reportLabelKeys checks the report label keys and returns them without duplicates (a key
// given twice must not count a call twice), in the order given.
func reportLabelKeys(keys []string) ([]string, error) {
	var out []string
	for _, k := range keys {
		if !validLabelKey(k) {
			return nil, fmt.Errorf("tracker: report label key %q: want 1 to %d letters, digits, '_', '-' or '.'", k, maxReportLabelKey)
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

func validLabelKey(k string) bool {
	if k == "" || len(k) > maxReportLabelKey {
		return false
	}
	for _, r := range k {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.'
		if !ok {
			return false
		}
	}
	return true
}

// reportLabels returns the labels "k=v" of c of the report label keys keys.
func reportLabels(c *telephony.Call, keys []string) []string {
	var out []string
	for _, k := range keys {
		if v, ok := c.Labels[k]; ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// hourRange is the Unix seconds of the first hour Buckets returns and of the hour after the
// last (math.MaxInt64 when to is zero).
func hourRange(from, to time.Time) (first, end int64) {
	first, end = from.UTC().Truncate(time.Hour).Unix(), math.MaxInt64
	if !to.IsZero() {
		end = to.Unix()
		if to.After(time.Unix(end, 0)) {
			end++ // an hour starting within the second before to is before it
		}
	}
	return first, end
}
