package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ccplane/telephony/client"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// directionsCommand is "callctl directions SUBCOMMAND GATEWAY ...", over DirectionService.
func directionsCommand() command {
	return command{
		name:     "directions",
		synopsis: "SUBCOMMAND GATEWAY [args]",
		summary:  "show, change and check a gateway's directions (the prefixes it may dial)",
		about: "Shows and changes the directions of a gateway, the number prefixes it may dial, and\n" +
			"checks numbers against them. The longest matching prefix decides; a number that no\n" +
			"rule matches is blocked.\n" +
			"\n" +
			"A RULE is PREFIX:allow or PREFIX:deny. A PREFIX is digits, and a leading + is dropped;\n" +
			"the empty prefix (\":deny\") matches every number and is printed as " + client.AnyPrefix + ". --file reads\n" +
			"the rules from CSV lines \"prefix,action\" instead (action allow or deny, in any case;\n" +
			"an optional first line \"prefix,action\" is a header; blank lines and lines starting\n" +
			"with # are ignored). An empty file given to set removes every rule, which blocks\n" +
			"every number.\n" +
			"\n" +
			"set, add and remove print the rules then in force, as list does; check prints the\n" +
			"verdict and the number as it would be dialled, and exits 0 whether it is allowed or\n" +
			"blocked. --json prints protojson instead.\n" +
			"\n" +
			"Examples:\n" +
			"  callctl directions set carrier-a :deny 7:allow 7809:deny\n" +
			"  callctl directions set carrier-a --file rules.csv\n" +
			"  callctl directions check carrier-a +78091234567",
		flags:       func() *flag.FlagSet { fs, _ := ruleFileFlagSet(); return fs },
		subcommands: directionsSubcommands(),
		run:         runDirections,
	}
}

func directionsSubcommands() []subcommand {
	return []subcommand{
		{
			name:     "set",
			synopsis: "GATEWAY [--file F | RULE...]",
			summary:  "replace all of a gateway's rules at once",
			run: func(ctx context.Context, a *app, args []string) error {
				return a.runRuleChange(ctx, "set", args, true, (*client.Client).SetDirections)
			},
		},
		{
			name:     "add",
			synopsis: "GATEWAY [--file F | RULE...]",
			summary:  "add rules, replacing those with the same prefix",
			run: func(ctx context.Context, a *app, args []string) error {
				return a.runRuleChange(ctx, "add", args, false, (*client.Client).AddRules)
			},
		},
		{name: "remove", synopsis: "GATEWAY PREFIX...", summary: "remove the rules with these prefixes", run: runDirectionsRemove},
		{name: "list", synopsis: "GATEWAY", summary: "print a gateway's rules and their version", run: runDirectionsList},
		{name: "check", synopsis: "GATEWAY NUMBER", summary: "tell whether NUMBER would be dialled, and which rule decides", run: runDirectionsCheck},
	}
}

// runDirections runs the subcommand that args start with.
func runDirections(ctx context.Context, a *app, args []string) error {
	// Parsing stops at the subcommand; this only catches -h and flags put before it.
	fs := newFlagSet("directions")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return helpError{command: "directions"}
		}
		return usageError{command: "directions", msg: err.Error()}
	}
	args = fs.Args()
	if len(args) == 0 {
		return usageError{command: "directions", msg: "directions: SUBCOMMAND is required"}
	}
	for _, s := range directionsSubcommands() {
		if s.name == args[0] {
			return s.run(ctx, a, args[1:])
		}
	}
	return usageError{command: "directions", msg: fmt.Sprintf("directions: unknown subcommand %q", args[0])}
}

// badDirections returns a usage error of directions subcommand sub.
func badDirections(sub, format string, args ...any) error {
	return usageError{command: "directions", msg: "directions " + sub + ": " + fmt.Sprintf(format, args...)}
}

// parseGateway parses a directions subcommand line, fs's flags anywhere, and returns its
// GATEWAY and the positional arguments after it.
func parseGateway(fs *flag.FlagSet, sub string, args []string) (string, []string, error) {
	pos, err := parseFlags(fs, "directions", args)
	if err != nil {
		return "", nil, err
	}
	switch {
	case len(pos) == 0:
		return "", nil, badDirections(sub, "GATEWAY is required")
	case pos[0] == "":
		return "", nil, badDirections(sub, "GATEWAY is empty")
	}
	return pos[0], pos[1:], nil
}

func ruleFileFlagSet() (*flag.FlagSet, *string) {
	fs := newFlagSet("directions")
	file := fs.String("file", "", "set and add: read the rules from CSV `FILE` (\"-\" = stdin)")
	return fs, file
}

// parseRuleChange parses a set or add command line into its gateway and rules, reading
// --file from disk or stdin. No rules at all is a usage error unless emptyOK, and then only
// from a file, so that a forgotten argument never blocks every number. Every error is a
// usageError or helpError, except for a file that cannot be read.
func parseRuleChange(sub string, args []string, stdin io.Reader, emptyOK bool) (string, []*telephonyv1.DirectionRule, error) {
	fs, file := ruleFileFlagSet()
	gateway, pos, err := parseGateway(fs, sub, args)
	if err != nil {
		return "", nil, err
	}
	var rules []*telephonyv1.DirectionRule
	switch {
	case *file != "" && len(pos) > 0:
		return "", nil, badDirections(sub, "give --file or RULEs, not both")
	case *file != "":
		name, r := *file, stdin
		if name == "-" {
			name = "stdin"
		} else {
			f, err := os.Open(name)
			if err != nil {
				return "", nil, fmt.Errorf("read --file: %w", err)
			}
			defer f.Close()
			r = f
		}
		rules, err = parseRulesCSV(r)
		if _, ok := errors.AsType[csvError](err); ok {
			return "", nil, badDirections(sub, "%s: %v", name, err)
		}
		if err != nil {
			return "", nil, fmt.Errorf("read --file %s: %w", name, err)
		}
		if len(rules) == 0 && !emptyOK {
			return "", nil, badDirections(sub, "no rules in %s", name)
		}
	case len(pos) > 0:
		if rules, err = parseRuleArgs(pos); err != nil {
			return "", nil, badDirections(sub, "%v", err)
		}
	case emptyOK:
		return "", nil, badDirections(sub, "give RULEs or --file (an empty file removes every rule, blocking every number)")
	default:
		return "", nil, badDirections(sub, "give RULEs or --file")
	}
	return gateway, rules, nil
}

// runRuleChange runs set or add: rpc sends the rules, and the rules then in force are
// printed.
func (a *app) runRuleChange(ctx context.Context, sub string, args []string, emptyOK bool,
	rpc func(*client.Client, context.Context, string, []*telephonyv1.DirectionRule) (*telephonyv1.Directions, error)) error {
	gateway, rules, err := parseRuleChange(sub, args, a.stdin, emptyOK)
	if err != nil {
		return err
	}
	d, err := request(ctx, a, func(ctx context.Context, c *client.Client) (*telephonyv1.Directions, error) {
		return rpc(c, ctx, gateway, rules)
	})
	if err != nil {
		return err
	}
	return a.printDirections(d)
}

// parseRemove parses "remove GATEWAY PREFIX..."; PREFIX may be "" (the rule for every number).
func parseRemove(args []string) (string, []string, error) {
	gateway, pos, err := parseGateway(newFlagSet("directions"), "remove", args)
	if err != nil {
		return "", nil, err
	}
	if len(pos) == 0 {
		return "", nil, badDirections("remove", "PREFIX is required")
	}
	prefixes := make([]string, len(pos))
	for i, s := range pos {
		if prefixes[i], err = parsePrefix(s); err != nil {
			return "", nil, badDirections("remove", "%v", err)
		}
	}
	return gateway, prefixes, nil
}

func runDirectionsRemove(ctx context.Context, a *app, args []string) error {
	gateway, prefixes, err := parseRemove(args)
	if err != nil {
		return err
	}
	d, err := request(ctx, a, func(ctx context.Context, c *client.Client) (*telephonyv1.Directions, error) {
		return c.RemoveRules(ctx, gateway, prefixes)
	})
	if err != nil {
		return err
	}
	return a.printDirections(d)
}

func runDirectionsList(ctx context.Context, a *app, args []string) error {
	gateway, pos, err := parseGateway(newFlagSet("directions"), "list", args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return badDirections("list", "unexpected argument %q", pos[0])
	}
	d, err := request(ctx, a, func(ctx context.Context, c *client.Client) (*telephonyv1.Directions, error) {
		return c.ListDirections(ctx, gateway)
	})
	if err != nil {
		return err
	}
	return a.printDirections(d)
}

// parseCheck parses "check GATEWAY NUMBER"; the server reads the number.
func parseCheck(args []string) (string, string, error) {
	gateway, pos, err := parseGateway(newFlagSet("directions"), "check", args)
	if err != nil {
		return "", "", err
	}
	switch {
	case len(pos) == 0:
		return "", "", badDirections("check", "NUMBER is required")
	case len(pos) > 1:
		return "", "", badDirections("check", "want one NUMBER, got %d arguments (quote a number with spaces)", len(pos))
	case pos[0] == "":
		return "", "", badDirections("check", "NUMBER is empty")
	}
	return gateway, pos[0], nil
}

func runDirectionsCheck(ctx context.Context, a *app, args []string) error {
	gateway, number, err := parseCheck(args)
	if err != nil {
		return err
	}
	resp, err := request(ctx, a, func(ctx context.Context, c *client.Client) (*telephonyv1.CheckDirectionResponse, error) {
		return c.CheckDirection(ctx, gateway, number)
	})
	if err != nil {
		return err
	}
	if a.global.json {
		return a.printJSON(resp)
	}
	_, err = fmt.Fprintf(a.stdout, "%s\nnumber %s\n", client.FormatVerdict(resp), resp.GetNormalizedNumber())
	return err
}

// printDirections writes a gateway's rule set as JSON, or as a table and its version.
func (a *app) printDirections(d *telephonyv1.Directions) error {
	if a.global.json {
		return a.printJSON(d)
	}
	var b strings.Builder
	if len(d.GetRules()) == 0 {
		b.WriteString("no rules: every number is blocked\n")
	} else {
		b.WriteString(client.FormatRuleTable(d.GetRules()))
	}
	fmt.Fprintf(&b, "\ngateway %s, version %d", d.GetGateway(), d.GetVersion())
	if d.GetVersion() == 0 {
		b.WriteString(" (never set)")
	}
	b.WriteString("\n")
	_, err := io.WriteString(a.stdout, b.String())
	return err
}
