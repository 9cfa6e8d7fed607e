package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ccplane/telephony/client"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// defaultReportRange is how far back a report reaches when neither --from nor --last is given.
const defaultReportRange = 24 * time.Hour

// reportOptions are the flags of the report command.
type reportOptions struct {
	gateway  string
	from, to timeFlag
	last     time.Duration
	by       string
	label    kvFlag
}

func reportFlagSet() (*flag.FlagSet, *reportOptions) {
	o := &reportOptions{}
	fs := newFlagSet("report")
	fs.StringVar(&o.gateway, "gateway", "", "only gateway `NAME` (default: every gateway with calls)")
	fs.Var(&o.from, "from", "calls created at or after `TIME` (default: 24h before --to)")
	fs.Var(&o.to, "to", "calls created before `TIME` (default: now)")
	fs.DurationVar(&o.last, "last", 0, "calls created in the `DURATION` up to now, e.g. 24h or 90m")
	fs.StringVar(&o.by, "by", "", "one row per `PERIOD`: hour or day (default: the server's, hour)")
	fs.Var(&o.label, "label", "only calls labelled `KEY=VALUE` (a label in the server's calls.report_labels)")
	return fs, o
}

// parseReport parses the report command line into a request; now is the end of --last and
// of the default range. Every error is a usageError or helpError.
func parseReport(args []string, now time.Time) (*telephonyv1.GetSipReportRequest, error) {
	fs, o := reportFlagSet()
	pos, err := parseFlags(fs, "report", args)
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return usageError{command: "report", msg: "report: " + fmt.Sprintf(format, args...)}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	switch {
	case len(pos) > 0:
		return nil, bad("unexpected argument %q", pos[0])
	case given["last"] && given["from"]:
		return nil, bad("give --from or --last, not both")
	case given["last"] && given["to"]:
		return nil, bad("give --to or --last, not both (--last ends now)")
	case given["last"] && o.last <= 0:
		return nil, bad("--last must be positive")
	case len(o.label.m) > 1:
		return nil, bad("--label may be given once")
	}
	if err := checkRange(o.from, o.to); err != nil {
		return nil, bad("%v", err)
	}

	req := &telephonyv1.GetSipReportRequest{Gateway: o.gateway, Labels: o.label.m}
	switch o.by {
	case "":
	case "hour":
		req.Granularity = telephonyv1.ReportGranularity_REPORT_GRANULARITY_HOUR
	case "day":
		req.Granularity = telephonyv1.ReportGranularity_REPORT_GRANULARITY_DAY
	default:
		return nil, bad("--by: unknown period %q (want hour or day)", o.by)
	}

	from, to := o.from.t, o.to.t
	switch {
	case given["last"]:
		from = now.Add(-o.last)
	case from.IsZero() && to.IsZero():
		from = now.Add(-defaultReportRange)
	case from.IsZero():
		from = to.Add(-defaultReportRange)
	}
	req.From = timestamppb.New(from)
	if !to.IsZero() { // unset: the server's now
		req.To = timestamppb.New(to)
	}
	return req, nil
}

func runReport(ctx context.Context, a *app, args []string) error {
	req, err := parseReport(args, a.now())
	if err != nil {
		return err
	}
	resp, err := request(ctx, a, func(ctx context.Context, c *client.Client) (*telephonyv1.GetSipReportResponse, error) {
		return c.GetSipReport(ctx, req)
	})
	if err != nil {
		return err
	}
	if a.global.json {
		return a.printJSON(resp)
	}
	_, err = fmt.Fprint(a.stdout, client.FormatReport(resp))
	return err
}
