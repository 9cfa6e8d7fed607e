package directions

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"
)

// RuleSet is one gateway's rules compiled for lookup. It is immutable, so any number of
// goroutines may use it while a newer one replaces it. The nil *RuleSet blocks everything.
type RuleSet struct {
	rules []Rule // sorted by prefix, one per prefix
	// nodes is a digit trie in breadth-first order; nodes[0] is the root (the empty
	// prefix). A node's children are contiguous, so a 10-bit mask and the index of the
	// first child locate any child without storing ten pointers: 12 bytes a node keeps
	// 100,000 rules in a few megabytes that stay in cache.
	nodes []node
}

type node struct {
	first int32  // index in nodes of the lowest-digit child
	rule  int32  // index in rules of the rule for exactly this prefix, or -1
	mask  uint16 // bit d set: there is a child for digit d
}

// Decision is the outcome of matching a number against a gateway's rules.
type Decision struct {
	// Allowed reports whether the number may be dialled.
	Allowed bool
	// Matched is false when no rule matched, which blocks the number.
	Matched bool
	// Rule is the rule that decided, the longest matching prefix; zero if none matched.
	Rule Rule
}

// Compile validates rules and compiles them. The same prefix twice with the same action
// is kept once; with different actions it is an error wrapping ErrInvalidRule, since
// either choice could open a blocked direction. No rules compile to a set that blocks
// every number.
func Compile(rules []Rule) (*RuleSet, error) {
	sorted, err := canonical(rules)
	if err != nil {
		return nil, err
	}
	size := trieSize(sorted)
	rs := &RuleSet{rules: sorted, nodes: make([]node, 1, size)}
	rs.nodes[0] = node{rule: -1}
	// spans[i] is the run of sorted rules under nodes[i]: they all start with its path,
	// which is depth digits long. Sorting puts a node's own rule (the shortest) first.
	type span struct{ lo, hi, depth int }
	spans := make([]span, 1, size)
	spans[0] = span{0, len(sorted), 0}
	for i := 0; i < len(rs.nodes); i++ {
		s := spans[i]
		lo := s.lo
		if lo < s.hi && len(sorted[lo].Prefix) == s.depth {
			rs.nodes[i].rule = int32(lo)
			lo++
		}
		rs.nodes[i].first = int32(len(rs.nodes))
		for lo < s.hi {
			d := sorted[lo].Prefix[s.depth]
			hi := lo + 1
			for hi < s.hi && sorted[hi].Prefix[s.depth] == d {
				hi++
			}
			rs.nodes[i].mask |= 1 << (d - '0')
			rs.nodes = append(rs.nodes, node{rule: -1})
			spans = append(spans, span{lo, hi, s.depth + 1})
			lo = hi
		}
	}
	return rs, nil
}

// trieSize returns the number of nodes the trie of sorted prefixes has: the root, and for
// each prefix the digits it does not share with the one before it.
func trieSize(sorted []Rule) int {
	n, prev := 1, ""
	for _, r := range sorted {
		common := 0
		for common < len(prev) && common < len(r.Prefix) && prev[common] == r.Prefix[common] {
			common++
		}
		n += len(r.Prefix) - common
		prev = r.Prefix
	}
	return n
}

// canonical validates rules and returns them sorted by prefix without duplicates.
func canonical(rules []Rule) ([]Rule, error) {
	for _, r := range rules {
		if err := r.Validate(); err != nil {
			return nil, err
		}
	}
	sorted := slices.Clone(rules)
	slices.SortFunc(sorted, func(a, b Rule) int { return strings.Compare(a.Prefix, b.Prefix) })
	out := sorted[:0]
	for _, r := range sorted {
		if n := len(out); n > 0 && out[n-1].Prefix == r.Prefix {
			if out[n-1].Action != r.Action {
				return nil, fmt.Errorf("%w: prefix %q is both allow and deny", ErrInvalidRule, r.Prefix)
			}
			continue
		}
		out = append(out, r)
	}
	return slices.Clip(out), nil
}

// Decide matches a normalised number (what Normalize returns) and returns the decision of
// the longest matching prefix. Anything that is not 1 to MaxDigits ASCII digits is
// blocked, never matched against a shorter part of itself. Decide does not allocate.
func (rs *RuleSet) Decide(normalized string) Decision {
	if rs == nil || len(rs.nodes) == 0 || len(normalized) == 0 || len(normalized) > MaxDigits {
		return Decision{}
	}
	best := rs.nodes[0].rule
	at, walking := int32(0), true
	for i := 0; i < len(normalized); i++ {
		d := normalized[i] - '0'
		if d > 9 {
			return Decision{}
		}
		if !walking {
			continue // still checking that the rest is digits
		}
		n := rs.nodes[at]
		bit := uint16(1) << d
		if n.mask&bit == 0 {
			walking = false
			continue
		}
		at = n.first + int32(bits.OnesCount16(n.mask&(bit-1)))
		if r := rs.nodes[at].rule; r >= 0 {
			best = r
		}
	}
	if best < 0 {
		return Decision{}
	}
	r := rs.rules[best]
	return Decision{Allowed: r.Action == ActionAllow, Matched: true, Rule: r}
}

// Rules returns a copy of the rules, sorted by prefix, one per prefix.
func (rs *RuleSet) Rules() []Rule {
	if rs == nil {
		return nil
	}
	return slices.Clone(rs.rules)
}

// Len returns the number of rules.
func (rs *RuleSet) Len() int {
	if rs == nil {
		return 0
	}
	return len(rs.rules)
}
