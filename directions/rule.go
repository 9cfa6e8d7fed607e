package directions

import (
	"fmt"
	"strconv"
)

// MaxDigits is the longest number and the longest prefix, in digits. E.164 allows 15; the
// slack is for carrier routing prefixes.
const MaxDigits = 20

// Action is what a rule does to the numbers it matches.
type Action int8

// The zero Action is invalid, so a rule that was never given an action cannot allow.
const (
	ActionAllow Action = 1
	ActionDeny  Action = 2
)

// String returns "allow" or "deny", the names used in Redis and config.
func (a Action) String() string {
	switch a {
	case ActionAllow:
		return "allow"
	case ActionDeny:
		return "deny"
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

// ParseAction parses "allow" or "deny". Anything else is an error wrapping ErrInvalidRule.
func ParseAction(s string) (Action, error) {
	switch s {
	case "allow":
		return ActionAllow, nil
	case "deny":
		return ActionDeny, nil
	}
	return 0, fmt.Errorf("%w: action %q: want allow or deny", ErrInvalidRule, s)
}

// MarshalText encodes a valid action as its name, so configs and JSON carry words.
func (a Action) MarshalText() ([]byte, error) {
	if a != ActionAllow && a != ActionDeny {
		return nil, fmt.Errorf("%w: action %d", ErrInvalidRule, a)
	}
	return []byte(a.String()), nil
}

// UnmarshalText decodes what ParseAction accepts.
func (a *Action) UnmarshalText(b []byte) error {
	v, err := ParseAction(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Rule says what to do with the numbers that start with Prefix. Prefix is 0 to MaxDigits
// ASCII digits; the empty prefix matches every number.
type Rule struct {
	Prefix string
	Action Action
}

// Validate returns an error wrapping ErrInvalidRule if the prefix is not 0 to MaxDigits
// ASCII digits or the action is neither allow nor deny.
func (r Rule) Validate() error {
	if err := validatePrefix(r.Prefix); err != nil {
		return err
	}
	if r.Action != ActionAllow && r.Action != ActionDeny {
		return fmt.Errorf("%w: prefix %q: action %d: want allow or deny", ErrInvalidRule, r.Prefix, r.Action)
	}
	return nil
}

// validatePrefix is Validate's prefix half, also used for the prefixes given to Remove.
// Prefixes are stored as given, so unlike numbers they are never normalised: "+7" is an
// error, not "7".
func validatePrefix(p string) error {
	if len(p) > MaxDigits {
		return fmt.Errorf("%w: prefix of %d characters: at most %d digits", ErrInvalidRule, len(p), MaxDigits)
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return fmt.Errorf("%w: prefix %q: %q at position %d is not a digit", ErrInvalidRule, p, p[i], i+1)
		}
	}
	return nil
}
