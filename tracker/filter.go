package tracker

import (
	"strings"
	"time"

	"github.com/ccplane/telephony"
)

// Filter selects calls for List. Its conditions combine with AND; zero fields match all.
type Filter struct {
	Gateway       string
	State         telephony.State
	Labels        map[string]string // every pair must be on the call
	CreatedAfter  time.Time         // inclusive
	CreatedBefore time.Time         // exclusive
	// LastCode is the last SIP response code the call must have; nil matches any. 0 is a
	// real value: no response at all (transport errors, blocked directions).
	LastCode *int
	Party    telephony.Party
	Cause    telephony.Cause
	Limit    int    // default 50
	After    Cursor // continue after this call (the previous page's last)
}

// defaultLimit is the page size of a Filter without one.
const defaultLimit = 50

func (f Filter) limit() int {
	if f.Limit <= 0 {
		return defaultLimit
	}
	return f.Limit
}

// matches reports whether c passes every condition of f but the cursor.
func (f Filter) matches(c *telephony.Call) bool {
	switch {
	case f.Gateway != "" && c.Gateway != f.Gateway,
		f.State != 0 && c.State != f.State,
		!f.CreatedAfter.IsZero() && c.CreatedAt.Before(f.CreatedAfter),
		!f.CreatedBefore.IsZero() && !c.CreatedAt.Before(f.CreatedBefore),
		f.LastCode != nil && c.LastResponse.Code != *f.LastCode,
		f.Party != 0 && c.Termination.Party != f.Party,
		f.Cause != 0 && c.Termination.Cause != f.Cause:
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
