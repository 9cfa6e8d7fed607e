package tracker

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ccplane/telephony"
)

// Memory is a Store in process memory, for the embedded default and for tests. It is safe
// for concurrent use. Records and aggregates are kept until the process ends: there is no
// retention, so a long-running instance without Redis grows with every call.
type Memory struct {
	mu        sync.RWMutex
	byID      map[string]*telephony.Call
	byRequest map[string]string // request id → call id
	order     []Cursor          // every call, oldest first by (created_at, id)
	buckets   map[bucketKey]map[string]int64
	labels    []string // report label keys
}

// NewMemory returns an empty in-memory tracker.
func NewMemory() *Memory {
	return &Memory{
		byID:      make(map[string]*telephony.Call),
		byRequest: make(map[string]string),
		buckets:   make(map[bucketKey]map[string]int64),
	}
}

// WithReportLabels sets the label keys whose values get buckets of their own (see Store),
// and returns m. Call it before using m. It panics on a key the server would not accept as
// a label key (see RedisConfig.ReportLabels), as that is a mistake in the program.
func (m *Memory) WithReportLabels(keys ...string) *Memory {
	keys, err := reportLabelKeys(keys)
	if err != nil {
		panic(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.labels = keys
	return m
}

// Create implements Store. The tracker keeps its own copy of c.
func (m *Memory) Create(_ context.Context, c *telephony.Call) (got *telephony.Call, created bool, err error) {
	if err := validate(c); err != nil {
		return nil, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.RequestID != "" {
		if id, ok := m.byRequest[c.RequestID]; ok && id != c.ID {
			return m.byID[id].Clone(), false, nil
		}
		m.byRequest[c.RequestID] = c.ID
	}
	if old, ok := m.byID[c.ID]; ok {
		return old.Clone(), true, nil // the same Create again
	}
	m.byID[c.ID] = c.Clone()
	// Calls arrive in creation order but for clock steps, so the search is usually the end.
	at, _ := slices.BinarySearchFunc(m.order, cursorOf(c), Cursor.compare)
	m.order = slices.Insert(m.order, at, cursorOf(c))
	if c.Termination.Ended() {
		m.countLocked(c)
	}
	return c.Clone(), true, nil
}

// Update implements Store.
func (m *Memory) Update(_ context.Context, c *telephony.Call) error {
	if err := validate(c); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.byID[c.ID]
	switch {
	case !ok:
		return ErrNotFound
	case old.Termination.Ended() && !c.Termination.Ended():
		return nil // a stale intermediate version: the ended record is final
	case !old.Termination.Ended() && c.Termination.Ended():
		m.countLocked(c)
	}
	m.byID[c.ID] = c.Clone()
	return nil
}

// countLocked adds the counters of c, which just ended, into its bucket and its label
// buckets.
func (m *Memory) countLocked(c *telephony.Call) {
	counters := Counters(c)
	k := bucketOf(c)
	for _, label := range append([]string{""}, reportLabels(c, m.labels)...) {
		k.label = label
		b := m.buckets[k]
		if b == nil {
			b = make(map[string]int64)
			m.buckets[k] = b
		}
		for name, n := range counters {
			b[name] += n
		}
	}
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, id string) (*telephony.Call, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c, ok := m.byID[id]
	if !ok {
		return nil, ErrNotFound
	}
	return c.Clone(), nil
}

// List implements Store.
func (m *Memory) List(_ context.Context, f Filter) ([]*telephony.Call, Cursor, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	end := len(m.order)
	if !f.After.IsZero() {
		end, _ = slices.BinarySearchFunc(m.order, f.After, Cursor.compare)
	}
	if !f.CreatedBefore.IsZero() {
		// The first call created at CreatedBefore or later, whatever its id.
		before, _ := slices.BinarySearchFunc(m.order, f.CreatedBefore, func(c Cursor, t time.Time) int {
			return c.CreatedAt.Compare(t)
		})
		end = min(end, before)
	}
	var out []*telephony.Call
	for i := end - 1; i >= 0; i-- {
		if m.order[i].CreatedAt.Before(f.CreatedAfter) {
			break // older ones are all before it too
		}
		c := m.byID[m.order[i].ID]
		if !f.matches(c) {
			continue
		}
		if len(out) == f.limit() {
			return out, cursorOf(out[len(out)-1]), nil
		}
		out = append(out, c.Clone())
	}
	return out, Cursor{}, nil
}

// Buckets implements Store.
func (m *Memory) Buckets(_ context.Context, gateway, label string, from, to time.Time) ([]Bucket, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	first, end := hourRange(from, to)
	var out []Bucket
	for k, counters := range m.buckets {
		if gateway != "" && k.gateway != gateway || k.label != label || len(counters) == 0 || k.hour < first || k.hour >= end {
			continue
		}
		out = append(out, Bucket{Gateway: k.gateway, Hour: time.Unix(k.hour, 0).UTC(), Label: k.label, Counters: maps.Clone(counters)})
	}
	sortBuckets(out)
	return out, nil
}

func sortBuckets(bs []Bucket) {
	slices.SortFunc(bs, func(a, b Bucket) int {
		return cmp.Or(strings.Compare(a.Gateway, b.Gateway), a.Hour.Compare(b.Hour), strings.Compare(a.Label, b.Label))
	})
}
