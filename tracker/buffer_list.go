package tracker

import (
	"context"
	"slices"

	"github.com/ccplane/telephony"
)

// List implements Store: the store's page, with the buffered versions of the calls in the
// part of the order it covers put in (or taken out, if they no longer match).
func (b *Buffered) List(ctx context.Context, f Filter) ([]*telephony.Call, Cursor, error) {
	page, next, err := b.store.List(ctx, f)
	if err != nil {
		return nil, Cursor{}, err
	}
	b.mu.Lock()
	pending := make([]*telephony.Call, 0, len(b.entries))
	for _, e := range b.entries {
		pending = append(pending, e.call)
	}
	b.mu.Unlock()
	page, next = mergePage(f, page, next, pending)
	return page, next, nil
}

// mergePage puts the buffered versions of calls into a page of the store. The page covers
// the order from f.After (exclusive) down to next (inclusive), or to the end when next is
// zero; a buffered call there replaces the store's version, or joins the page if only its
// buffered version matches. Creation times never change, so every call stays in the same
// page, and a page grown past the limit ends earlier, with the next page starting there.
func mergePage(f Filter, page []*telephony.Call, next Cursor, pending []*telephony.Call) ([]*telephony.Call, Cursor) {
	latest := make(map[string]*telephony.Call)
	for _, c := range pending {
		cur := cursorOf(c)
		if (f.After.IsZero() || cur.compare(f.After) < 0) && (next.IsZero() || cur.compare(next) >= 0) {
			latest[c.ID] = c
		}
	}
	if len(latest) == 0 {
		return page, next
	}
	out := make([]*telephony.Call, 0, len(page)+len(latest))
	for _, c := range page {
		if p, ok := latest[c.ID]; ok {
			c = p
			delete(latest, p.ID)
			if !f.matches(c) {
				continue
			}
			c = c.Clone()
		}
		out = append(out, c)
	}
	for _, p := range latest {
		if f.matches(p) {
			out = append(out, p.Clone())
		}
	}
	slices.SortFunc(out, func(a, b *telephony.Call) int { return cursorOf(b).compare(cursorOf(a)) })
	if len(out) > f.limit() {
		out = out[:f.limit()]
		next = cursorOf(out[len(out)-1])
	}
	return out, next
}
