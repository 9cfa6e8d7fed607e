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
	// nodes is a digit trie; nodes[0] is the root (the empty prefix). A node's children
	// are contiguous, so a 10-bit mask and the index of the first child locate any child
	// without storing ten pointers: 8 bytes a node keep 100,000 rules in a few megabytes.
	nodes []node
}

// MaxRules is the most rules one gateway's set may hold: a node packs its rule's index
// into 22 bits.
const MaxRules = 1<<22 - 1

type node struct {
	first uint32 // index in nodes of the lowest-digit child
	// bits 0–9: bit d set when there is a child for digit d; above: 1 + the index in
	// rules of the rule for exactly this prefix, 0 if none.
	meta uint32
}

const maskBits = 10

func (n node) mask() uint32 { return n.meta & (1<<maskBits - 1) }

// rule returns the index in rules of the node's own rule, or -1.
func (n node) rule() int { return int(n.meta>>maskBits) - 1 }

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
	if len(sorted) > MaxRules {
		return nil, fmt.Errorf("%w: %d rules, at most %d", ErrInvalidRule, len(sorted), MaxRules)
	}
	rs := &RuleSet{rules: sorted, nodes: make([]node, 1, trieSize(sorted))}
	// A span is the run of sorted rules under node at: they all start with its path, which
	// is depth digits long. Sorting puts a node's own rule (the shortest) first. Nodes are
	// expanded depth first, so a node's children block follows its parent's block closely
	// and a number walking down a sparse branch reads neighbouring memory, not one cache
	// line per digit.
	type span struct{ at, lo, hi, depth int }
	stack := []span{{0, 0, len(sorted), 0}}
	var children []span
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		lo := s.lo
		if lo < s.hi && len(sorted[lo].Prefix) == s.depth {
			rs.nodes[s.at].meta = uint32(lo+1) << maskBits
			lo++
		}
		rs.nodes[s.at].first = uint32(len(rs.nodes))
		children = children[:0]
		for lo < s.hi {
			d := sorted[lo].Prefix[s.depth]
			hi := lo + 1
			for hi < s.hi && sorted[hi].Prefix[s.depth] == d {
				hi++
			}
			rs.nodes[s.at].meta |= 1 << (d - '0')
			children = append(children, span{len(rs.nodes), lo, hi, s.depth + 1})
			rs.nodes = append(rs.nodes, node{})
			lo = hi
		}
		for i := len(children) - 1; i >= 0; i-- {
			stack = append(stack, children[i]) // the lowest digit is expanded first
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
	best := rs.nodes[0].rule()
	at, walking := uint32(0), true
	for i := 0; i < len(normalized); i++ {
		d := normalized[i] - '0'
		if d > 9 {
			return Decision{}
		}
		if !walking {
			continue // still checking that the rest is digits
		}
		n := rs.nodes[at]
		bit := uint32(1) << d
		if n.meta&bit == 0 {
			walking = false
			continue
		}
		at = n.first + uint32(bits.OnesCount32(n.mask()&(bit-1)))
		if r := rs.nodes[at].rule(); r >= 0 {
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
