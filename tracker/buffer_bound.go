package tracker

import (
	"container/list"

	"github.com/ccplane/telephony"
)

// putLocked makes c the buffered version of its call, within the bound.
func (b *Buffered) putLocked(c *telephony.Call) {
	if e := b.entries[c.ID]; e != nil {
		if e.call.Termination.Ended() {
			return // the first end is the call's end, as in the stores
		}
		b.listOf(e.call).Remove(e.elem)
		e.call = c
		e.elem = b.listOf(c).PushBack(e)
		return
	}
	if len(b.entries) >= b.cfg.Bound && !b.evictLocked(c) {
		return
	}
	e := &entry{call: c}
	e.elem = b.listOf(c).PushBack(e)
	b.entries[c.ID] = e
}

// evictLocked makes room for c in a full buffer by dropping the oldest intermediate record,
// or if there is none and c is final, the oldest final one. It reports false if c itself
// must go: an intermediate record is worth less than any final one, and a call whose
// intermediate record is lost still writes its final one when it ends.
func (b *Buffered) evictLocked(c *telephony.Call) bool {
	if !b.full {
		b.full = true
		b.log.Error("call record buffer full: dropping records, intermediate ones first", "bound", b.cfg.Bound)
	}
	b.dropped++
	victim := oldestIdle(&b.partial)
	if victim == nil && c.Termination.Ended() {
		victim = oldestIdle(&b.final)
	}
	if victim == nil {
		if c.Termination.Ended() {
			b.log.Error("final call record dropped: buffer full", "call_id", c.ID)
		}
		return false
	}
	if victim.call.Termination.Ended() {
		b.log.Error("final call record dropped: buffer full", "call_id", victim.call.ID)
	}
	b.removeLocked(victim)
	return true
}

func oldestIdle(l *list.List) *entry {
	for el := l.Front(); el != nil; el = el.Next() {
		if e := el.Value.(*entry); !e.inflight {
			return e
		}
	}
	return nil
}

func (b *Buffered) removeLocked(e *entry) {
	b.listOf(e.call).Remove(e.elem)
	delete(b.entries, e.call.ID)
}

func (b *Buffered) listOf(c *telephony.Call) *list.List {
	if c.Termination.Ended() {
		return &b.final
	}
	return &b.partial
}
