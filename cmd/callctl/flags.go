package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

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
	want := strings.ReplaceAll(strings.ToLower(s), "-", "_")
	want = strings.TrimPrefix(want, "call_state_")
	var names []string
	for _, v := range slices.Sorted(maps.Keys(telephonyv1.CallState_name)) {
		st := telephonyv1.CallState(v)
		if st == telephonyv1.CallState_CALL_STATE_UNSPECIFIED {
			continue
		}
		if client.StateName(st) == want {
			return st, nil
		}
		names = append(names, client.StateName(st))
	}
	return 0, fmt.Errorf("unknown state %q (want one of %s)", s, strings.Join(names, ", "))
}
