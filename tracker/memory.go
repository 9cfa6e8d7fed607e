package tracker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ccplane/telephony"
)

// ErrNotFound is returned for a call id the tracker has no record of.
var ErrNotFound = errors.New("tracker: call not found")

// Memory keeps records in process memory, for the embedded default and for tests. It is safe
// for concurrent use. Records are kept until the process ends.
type Memory struct {
	mu        sync.RWMutex
	byID      map[string]*telephony.Call
	byRequest map[string]string // request id → call id
	order     []Cursor          // every call, oldest first by (created_at, id)
}

// NewMemory returns an empty in-memory tracker.
func NewMemory() *Memory {
	return &Memory{
		byID:      make(map[string]*telephony.Call),
		byRequest: make(map[string]string),
	}
}

// Create stores a new call. When c carries a request id that an earlier call already claimed,
// nothing is stored and that earlier call is returned with created false: the caller must not
// dial again. The tracker keeps its own copy of c.
func (m *Memory) Create(_ context.Context, c *telephony.Call) (got *telephony.Call, created bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c.RequestID != "" {
		if id, ok := m.byRequest[c.RequestID]; ok {
			return m.byID[id].Clone(), false, nil
		}
		m.byRequest[c.RequestID] = c.ID
	}
	m.byID[c.ID] = c.Clone()
	// Calls arrive in creation order but for clock steps, so the search is usually the end.
	at, _ := slices.BinarySearchFunc(m.order, cursorOf(c), Cursor.compare)
	m.order = slices.Insert(m.order, at, cursorOf(c))
	return c.Clone(), true, nil
}

// Update replaces the record of an existing call with a copy of c.
func (m *Memory) Update(_ context.Context, c *telephony.Call) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.byID[c.ID]; !ok {
		return ErrNotFound
	}
	m.byID[c.ID] = c.Clone()
	return nil
}

// Get returns a copy of the record of call id.
func (m *Memory) Get(_ context.Context, id string) (*telephony.Call, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c, ok := m.byID[id]
	if !ok {
		return nil, ErrNotFound
	}
	return c.Clone(), nil
}

// List returns the calls that match f, newest first, at most f.Limit of them, and the cursor
// of the next page (empty when there is none).
func (m *Memory) List(_ context.Context, f Filter) ([]*telephony.Call, Cursor, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	end := len(m.order)
	if !f.After.IsZero() {
		end, _ = slices.BinarySearchFunc(m.order, f.After, Cursor.compare)
	}
	var out []*telephony.Call
	for i := end - 1; i >= 0; i-- {
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

// Filter selects calls for List. Its conditions combine with AND; zero fields match all.
type Filter struct {
	Gateway      string
	State        telephony.State
	Labels       map[string]string
	CreatedAfter time.Time // inclusive
	Limit        int       // default 50
	After        Cursor    // continue after this call (the previous page's last)
}

func (f Filter) limit() int {
	if f.Limit <= 0 {
		return 50
	}
	return f.Limit
}

func (f Filter) matches(c *telephony.Call) bool {
	if f.Gateway != "" && c.Gateway != f.Gateway {
		return false
	}
	if f.State != 0 && c.State != f.State {
		return false
	}
	if !f.CreatedAfter.IsZero() && c.CreatedAt.Before(f.CreatedAfter) {
		return false
	}
	for k, v := range f.Labels {
		if got, ok := c.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Cursor is a position in the newest-first order: the creation time and id of the last call
// of a page. The zero Cursor is the start.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// IsZero reports whether the cursor is the start of the list.
func (c Cursor) IsZero() bool { return c.ID == "" }

// compare orders cursors oldest first, by creation time and then id.
func (c Cursor) compare(o Cursor) int {
	if n := c.CreatedAt.Compare(o.CreatedAt); n != 0 {
		return n
	}
	return strings.Compare(c.ID, o.ID)
}

func cursorOf(c *telephony.Call) Cursor { return Cursor{CreatedAt: c.CreatedAt, ID: c.ID} }
