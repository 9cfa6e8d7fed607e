package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// parsePrefix reads a direction prefix as a user writes it: digits, with an optional leading
// "+" that is dropped; "" (or "+") is the empty prefix, which matches every number. The
// server checks the length.
func parsePrefix(s string) (string, error) {
	p := strings.TrimPrefix(s, "+")
	for _, c := range []byte(p) {
		if c < '0' || c > '9' {
			return "", fmt.Errorf("prefix %q is not digits", s)
		}
	}
	return p, nil
}

// parseAction reads "allow" or "deny", in any case.
func parseAction(s string) (telephonyv1.DirectionAction, error) {
	switch strings.ToLower(s) {
	case "allow":
		return telephonyv1.DirectionAction_DIRECTION_ACTION_ALLOW, nil
	case "deny":
		return telephonyv1.DirectionAction_DIRECTION_ACTION_DENY, nil
	}
	return 0, fmt.Errorf("action %q is not allow or deny", s)
}

// parseRule reads a rule from its prefix and action fields.
func parseRule(prefix, action string) (*telephonyv1.DirectionRule, error) {
	p, err := parsePrefix(prefix)
	if err != nil {
		return nil, err
	}
	a, err := parseAction(action)
	if err != nil {
		return nil, err
	}
	return &telephonyv1.DirectionRule{Prefix: p, Action: a}, nil
}

// parseRuleArgs reads RULE arguments, each PREFIX:allow or PREFIX:deny (":allow" is the
// empty prefix). A prefix given twice is an error: the server wants them unique.
func parseRuleArgs(args []string) ([]*telephonyv1.DirectionRule, error) {
	rules := make([]*telephonyv1.DirectionRule, 0, len(args))
	seen := map[string]bool{}
	for _, arg := range args {
		prefix, action, ok := strings.Cut(arg, ":")
		if !ok {
			return nil, fmt.Errorf("rule %q: want PREFIX:allow or PREFIX:deny", arg)
		}
		r, err := parseRule(prefix, action)
		if err != nil {
			return nil, fmt.Errorf("rule %q: %w", arg, err)
		}
		if seen[r.GetPrefix()] {
			return nil, fmt.Errorf("rule %q: prefix %s given twice", arg, displayPrefix(r.GetPrefix()))
		}
		seen[r.GetPrefix()] = true
		rules = append(rules, r)
	}
	return rules, nil
}

// csvError is a malformed line of a rules file; callctl reports it as a usage error.
type csvError struct {
	line int
	msg  string
}

func (e csvError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// utf8BOM starts the CSV files some spreadsheets write.
const utf8BOM = "\ufeff"

// parseRulesCSV reads a rules file: one "prefix,action" record a line (action allow or
// deny, in any case; fields may be quoted and surrounded by spaces), an optional header
// record "prefix,action" first, blank lines and lines starting with # ignored. An empty file
// is no rules. Malformed content is a csvError naming the line; other errors come from r.
func parseRulesCSV(r io.Reader) ([]*telephonyv1.DirectionRule, error) {
	br := bufio.NewReader(r)
	if b, err := br.Peek(len(utf8BOM)); err == nil && string(b) == utf8BOM {
		_, _ = br.Discard(len(utf8BOM))
	}
	cr := csv.NewReader(br)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1 // counted below, to report it our way
	cr.TrimLeadingSpace = true

	var rules []*telephonyv1.DirectionRule
	seen := map[string]int{} // prefix → line
	first := true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return rules, nil
		}
		if pe, ok := errors.AsType[*csv.ParseError](err); ok {
			return nil, csvError{line: pe.Line, msg: pe.Err.Error()}
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if len(rec) == 1 && rec[0] == "" {
			continue // a line of spaces
		}
		if len(rec) != 2 {
			return nil, csvError{line: line, msg: fmt.Sprintf("want prefix,action, got %d fields", len(rec))}
		}
		if first {
			first = false
			if strings.EqualFold(rec[0], "prefix") && strings.EqualFold(rec[1], "action") {
				continue
			}
		}
		r, err := parseRule(rec[0], rec[1])
		if err != nil {
			return nil, csvError{line: line, msg: err.Error()}
		}
		if prev, dup := seen[r.GetPrefix()]; dup {
			return nil, csvError{line: line, msg: fmt.Sprintf("prefix %s already on line %d", displayPrefix(r.GetPrefix()), prev)}
		}
		seen[r.GetPrefix()] = line
		rules = append(rules, r)
	}
}

// displayPrefix shows a prefix in a message, the empty one as "".
func displayPrefix(p string) string {
	if p == "" {
		return `""`
	}
	return p
}
