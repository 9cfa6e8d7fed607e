package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ccplane/telephony/client"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// newFlagSet returns a FlagSet that reports errors instead of printing or exiting; run
// prints usage itself.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags parses a command's flags, which may come before, between or after its
// positional arguments (everything after "--" is positional), and returns the positional
// arguments. Errors are usageError or helpError for the command.
func parseFlags(fs *flag.FlagSet, command string, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, helpError{command: command}
			}
			return nil, usageError{command: command, msg: err.Error()}
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// kvFlag collects a repeatable NAME=VALUE flag into a map; a NAME given twice is an error.
type kvFlag struct {
	m map[string]string
}

func (f *kvFlag) String() string {
	if f == nil {
		return ""
	}
	return client.FormatPairs(f.m, ",")
}

func (f *kvFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	switch {
	case !ok:
		return errors.New("want NAME=VALUE")
	case k == "":
		return errors.New("empty NAME in NAME=VALUE")
	}
	if _, dup := f.m[k]; dup {
		return fmt.Errorf("%s given twice", k)
	}
	if f.m == nil {
		f.m = map[string]string{}
	}
	f.m[k] = v
	return nil
}

// parseState reads a call state as a user writes it: "answered", "early_media",
// "early-media", "EARLY_MEDIA" or "CALL_STATE_EARLY_MEDIA".
func parseState(s string) (telephonyv1.CallState, error) {
	return parseEnum(s, "state", "call_state_", telephonyv1.CallState_name, client.StateName)
}

// parseParty reads a termination party as a user writes it: "kill", "FINISH" or
// "TERMINATION_PARTY_FINISH".
func parseParty(s string) (telephonyv1.TerminationParty, error) {
	return parseEnum(s, "party", "termination_party_", telephonyv1.TerminationParty_name, client.PartyName)
}

// parseCause reads a termination cause as a user writes it: "ring_timeout", "ring-timeout",
// "RING_TIMEOUT" or "TERMINATION_CAUSE_RING_TIMEOUT".
func parseCause(s string) (telephonyv1.TerminationCause, error) {
	return parseEnum(s, "cause", "termination_cause_", telephonyv1.TerminationCause_name, client.CauseName)
}

// parseEnum reads a value of a generated enum by the name callctl prints (name), in any
// case, with '-' for '_', optionally with the enum's prefix. The zero value (UNSPECIFIED) is
// not accepted; the error lists the accepted names in the order of the proto.
func parseEnum[E ~int32](s, what, prefix string, values map[int32]string, name func(E) string) (E, error) {
	want := strings.ReplaceAll(strings.ToLower(s), "-", "_")
	want = strings.TrimPrefix(want, prefix)
	var names []string
	for _, v := range slices.Sorted(maps.Keys(values)) {
		if v == 0 {
			continue
		}
		if name(E(v)) == want {
			return E(v), nil
		}
		names = append(names, name(E(v)))
	}
	return 0, fmt.Errorf("unknown %s %q (want one of %s)", what, s, strings.Join(names, ", "))
}

// timeFlag is a --from or --to flag; the zero time means the flag was not given.
type timeFlag struct {
	t time.Time
}

func (f *timeFlag) String() string {
	if f == nil || f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(s string) error {
	t, err := parseTime(s)
	if err != nil {
		return err
	}
	f.t = t
	return nil
}

// parseTime reads a time as RFC 3339 ("2026-11-25T10:00:00+01:00", "2026-11-25T09:00:00Z"),
// or without a zone, as UTC, to the second, the minute or the day ("2026-11-25T10:00",
// "2026-11-25"). UTC, because reports are cut into UTC hours and days: --from 2026-11-25
// --by day then starts on the first row's day.
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("want RFC 3339 (2026-11-25T10:00:00Z), or 2026-11-25T10:00 or 2026-11-25 as UTC")
}

// checkRange returns an error when both ends of a range are given and from is not before to.
func checkRange(from, to timeFlag) error {
	if !from.t.IsZero() && !to.t.IsZero() && !from.t.Before(to.t) {
		return errors.New("--from must be before --to")
	}
	return nil
}
