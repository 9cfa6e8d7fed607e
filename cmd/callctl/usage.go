package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// command is one callctl subcommand.
type command struct {
	name     string
	synopsis string // what follows "callctl [global flags] NAME" in its usage line
	summary  string // one line for the command list
	about    string // a paragraph for the command's own usage; "" = summary
	flags    func() *flag.FlagSet
	run      func(ctx context.Context, a *app, args []string) error

	subcommands []subcommand // listed in the usage texts; run dispatches to them
}

// subcommand is one verb of a command that has several, such as "directions set".
type subcommand struct {
	name     string
	synopsis string // what follows "COMMAND NAME"
	summary  string // one line for the command list
	run      func(ctx context.Context, a *app, args []string) error
}

// commands lists the subcommands in the order the usage text shows them.
func commands() []command {
	return []command{
		{
			name:     "place",
			synopsis: "--gateway G --to NUMBER [flags]",
			summary:  "place an outbound call and print it (--watch: follow it until it ends)",
			about: "Places an outbound call through gateway G and prints it. With --watch, streams its\n" +
				"events until it ends; an interrupt (Ctrl-C) then hangs the call up and keeps watching\n" +
				"until it has ended (at most twice --timeout); a second interrupt stops at once.",
			flags: func() *flag.FlagSet { fs, _ := placeFlagSet(); return fs },
			run:   runPlace,
		},
		{
			name:     "watch",
			synopsis: "CALL_ID [--after N]",
			summary:  "stream a call's events until it ends",
			about: "Streams the events of a call, after event N if --after is given, until the call\n" +
				"ends; resumes by itself if the stream breaks.",
			flags: func() *flag.FlagSet { fs, _ := watchFlagSet(); return fs },
			run:   runWatch,
		},
		{
			name:     "hangup",
			synopsis: "CALL_ID",
			summary:  "end a call (CANCEL before the answer, BYE after) and print it",
			flags:    func() *flag.FlagSet { return newFlagSet("hangup") },
			run:      runHangUp,
		},
		{
			name:     "get",
			synopsis: "CALL_ID",
			summary:  "print one call",
			flags:    func() *flag.FlagSet { return newFlagSet("get") },
			run:      runGet,
		},
		{
			name:     "list",
			synopsis: "[flags]",
			summary:  "list calls, newest first",
			about: "Lists calls, newest first, a page at a time; the filters combine. TIME is RFC 3339\n" +
				"(2026-11-25T10:00:00+01:00), or 2026-11-25T10:00 or 2026-11-25, read as UTC.\n" +
				"--code 0 selects the calls that got no response at all. CAUSE is one of\n" +
				"hangup_requested, ring_timeout, setup_timeout, transport_error, max_duration, shutdown,\n" +
				"remote_rejected, remote_hangup, direction_blocked, gateway_limit, lost or gateway_down.\n" +
				"\n" +
				"Examples:\n" +
				"  callctl list --gateway carrier-a --code 404 --party finish --from 2026-11-25\n" +
				"  callctl list --cause ring_timeout --limit 20",
			flags: func() *flag.FlagSet { fs, _ := listFlagSet(); return fs },
			run:   runList,
		},
		{
			name:     "report",
			synopsis: "[flags]",
			summary:  "print how calls ended per gateway: SIP codes, ASR, NER, ACD, PDD",
			about: "Prints the SIP-response report the server keeps, per gateway: calls, attempts (calls\n" +
				"an INVITE was sent for), answered calls, ASR (answered / attempts), NER (attempts the\n" +
				"provider's network delivered a verdict for: answer, busy, no answer, declined), ACD\n" +
				"(average talk time), PDD (INVITE to first 18x) p50 and p95, and kill share (calls our\n" +
				"side ended); then each last response code with its share, what it means and what to\n" +
				"do about it, who ended the calls and why, and, when the range spans several periods,\n" +
				"one line per hour or day.\n" +
				"\n" +
				"The range is the calls created from --from up to --to. TIME is RFC 3339\n" +
				"(2026-11-25T10:00:00+01:00), or 2026-11-25T10:00 or 2026-11-25, read as UTC; the\n" +
				"server rounds --from down to the hour. --last DURATION is the DURATION up to now,\n" +
				"instead of --from and --to; with neither --from nor --last, the range is the 24 hours\n" +
				"before --to (default now). With the global --json (callctl --json report ...), prints\n" +
				"the response as protojson.\n" +
				"\n" +
				"Examples:\n" +
				"  callctl report --gateway carrier-a --last 6h\n" +
				"  callctl report --from 2026-11-20 --to 2026-11-27 --by day",
			flags: func() *flag.FlagSet { fs, _ := reportFlagSet(); return fs },
			run:   runReport,
		},
		directionsCommand(),
		{
			name:     "gateways",
			synopsis: "",
			summary:  "list the gateways: up or down (OPTIONS keep-alive), live and queued calls, limits",
			flags:    func() *flag.FlagSet { return newFlagSet("gateways") },
			run:      runGateways,
		},
		{
			name:     "load",
			synopsis: "--gateway G (--cps R|--concurrency N)",
			summary:  "place calls at a rate or concurrency, follow each to its end, and report figures",
			about: "Measures a service on this machine: places calls through gateway G, starting R per\n" +
				"second evenly spaced (--cps, rising from 0 over --ramp; starts up to 100 ms behind\n" +
				"are made up at once, as SIPp's -r does) or keeping N in flight (--concurrency),\n" +
				"until --count calls are started or --duration has passed, then waits for every\n" +
				"call to end. Each call dials --to-prefix, a zero-padded counter and --to-suffix\n" +
				"(the demo gateway picks its behaviour by the last three digits: use --to-suffix\n" +
				"200), and is watched to its end; with --hold, answered calls are hung up after\n" +
				"it. A call that has not ended --timeout-call after its PlaceCall is hung up and\n" +
				"counted as stuck. With --watch-addr every call is watched through that instance\n" +
				"(another on the same Redis) instead, and event delivery measures it. Only loopback\n" +
				"addresses are accepted: the calls are real.\n" +
				"\n" +
				"A call succeeds when it was answered and then ended by the far side, or by our --hold\n" +
				"hang-up; other calls fail, counted by termination cause, rpc:CODE (PlaceCall refused),\n" +
				"watch:CODE, stuck or interrupted. The report gives the calls, the achieved start\n" +
				"rate (between the first and the last start) and the lag of the latest start made\n" +
				"up, the completion rate, PlaceCall latency, setup time (PlaceCall sent to 200 OK\n" +
				"received) and event delivery (an event's time to its receipt, for events after the\n" +
				"watch began) as p50/p95/p99/max from histograms within 1%, the CPU time of the\n" +
				"service (--service-pid, from /proc) and of this process, and a warning if this\n" +
				"process could not start calls at the asked pace.\n" +
				"With the global --json it is one JSON object. Exit status 0 if every call succeeded,\n" +
				"1 otherwise; an interrupt stops the starts, hangs up the live calls and still\n" +
				"reports (exit 130), a second one abandons them.\n" +
				"\n" +
				"Example:\n" +
				"  callctl load --gateway demo --to-suffix 200 --cps 5 --count 20 --hold 1s",
			flags: func() *flag.FlagSet { fs, _ := loadFlagSet(); return fs },
			run:   runLoad,
		},
	}
}

func findCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return &c
		}
	}
	return nil
}

// usageError is a mistake on the command line: run prints it with the usage of command
// ("" = the general usage) and exits 2.
type usageError struct {
	command string
	msg     string
}

func (e usageError) Error() string { return e.msg }

// helpError asks for the usage of one command (-h after it, or "help COMMAND"); it matches
// flag.ErrHelp.
type helpError struct{ command string }

func (e helpError) Error() string        { return "help requested for " + e.command }
func (e helpError) Is(target error) bool { return target == flag.ErrHelp }

// helpTopic returns the command whose usage err asks for, or "" for the general usage.
func helpTopic(err error) string {
	if h, ok := errors.AsType[helpError](err); ok {
		return h.command
	}
	return ""
}

// printUsage writes the general usage, or that of one command.
func (a *app) printUsage(w io.Writer, name string) {
	if cmd := findCommand(name); cmd != nil {
		fmt.Fprintf(w, "usage: callctl [global flags] %s %s\n\n", cmd.name, cmd.synopsis)
		about := cmd.about
		if about == "" {
			about = strings.ToUpper(cmd.summary[:1]) + cmd.summary[1:] + "."
		}
		fmt.Fprintf(w, "%s\n", about)
		if len(cmd.subcommands) > 0 {
			fmt.Fprintf(w, "\nSubcommands:\n")
			tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
			for _, s := range cmd.subcommands {
				fmt.Fprintf(tw, "  %s %s\t%s\n", s.name, s.synopsis, s.summary)
			}
			_ = tw.Flush()
		}
		if fs := cmd.flags(); hasFlags(fs) {
			fmt.Fprintf(w, "\nFlags:\n")
			printFlags(w, fs)
		}
		fmt.Fprintf(w, "\nRun 'callctl help' for the global flags.\n")
		return
	}
	fmt.Fprintf(w, "usage: callctl [global flags] COMMAND [flags] [args]\n\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	for _, c := range commands() {
		if len(c.subcommands) == 0 {
			fmt.Fprintf(tw, "  %s %s\t%s\n", c.name, c.synopsis, c.summary)
		}
		for _, s := range c.subcommands {
			fmt.Fprintf(tw, "  %s %s %s\t%s\n", c.name, s.name, s.synopsis, s.summary)
		}
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nGlobal flags:\n")
	var g globalFlags
	printFlags(w, globalFlagSet(&g))
	fmt.Fprintf(w, "\nRun 'callctl help COMMAND' for a command's flags.\n"+
		"Exit status: 0 success, 1 error, 2 usage error, 130 interrupted.\n")
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// printFlags lists flags GNU-style ("--name VALUE  usage (default x)") in a column.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		if arg == "value" { // a flag.Value without a `NAME` in its usage: a NAME=VALUE list
			arg = "NAME=VALUE"
		}
		if _, isBool := f.Value.(interface{ IsBoolFlag() bool }); isBool {
			arg = ""
		}
		name := "--" + f.Name
		if arg != "" {
			name += " " + arg
		}
		switch f.DefValue {
		case "", "0", "0s", "false":
		default:
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, usage)
	})
	_ = tw.Flush()
}
