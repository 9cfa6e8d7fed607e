package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/ccplane/telephony/client"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// listOptions are the flags of the list command.
type listOptions struct {
	gateway   string
	state     string
	labels    kvFlag
	limit     int
	pageToken string
}

func listFlagSet() (*flag.FlagSet, *listOptions) {
	o := &listOptions{}
	fs := newFlagSet("list")
	fs.StringVar(&o.gateway, "gateway", "", "only calls through gateway `NAME`")
	fs.StringVar(&o.state, "state", "", "only calls in `STATE`: dialing, trying, ringing, early_media, answered or ended")
	fs.Var(&o.labels, "label", "only calls labelled `KEY=VALUE` (repeatable; all must match)")
	fs.IntVar(&o.limit, "limit", 0, "show at most `N` calls (default: the server's, 50; at most 1000)")
	fs.StringVar(&o.pageToken, "page-token", "", "continue with the page `TOKEN` a previous list printed")
	return fs, o
}

// parseList parses the list command line into a request; every error is a usageError or
// helpError.
func parseList(args []string) (*telephonyv1.ListCallsRequest, error) {
	fs, o := listFlagSet()
	pos, err := parseFlags(fs, "list", args)
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return usageError{command: "list", msg: "list: " + fmt.Sprintf(format, args...)}
	}
	if len(pos) > 0 {
		return nil, bad("unexpected argument %q", pos[0])
	}
	if o.limit < 0 || o.limit > 1000 {
		return nil, bad("--limit must be between 1 and 1000")
	}
	req := &telephonyv1.ListCallsRequest{
		Gateway:   o.gateway,
		Labels:    o.labels.m,
		PageSize:  int32(o.limit),
		PageToken: o.pageToken,
	}
	if o.state != "" {
		if req.State, err = parseState(o.state); err != nil {
			return nil, bad("--state: %v", err)
		}
	}
	return req, nil
}

func runList(ctx context.Context, a *app, args []string) error {
	req, err := parseList(args)
	if err != nil {
		return err
	}
	resp, err := request(ctx, a, func(ctx context.Context, c *client.Client) (*telephonyv1.ListCallsResponse, error) {
		return c.ListCalls(ctx, req)
	})
	if err != nil {
		return err
	}
	if a.global.json {
		return a.printJSON(resp)
	}
	if len(resp.GetCalls()) == 0 {
		_, err := fmt.Fprintln(a.stdout, "no calls")
		return err
	}
	if _, err := fmt.Fprint(a.stdout, client.FormatCallTable(resp.GetCalls(), a.now())); err != nil {
		return err
	}
	if t := resp.GetNextPageToken(); t != "" {
		_, err = fmt.Fprintf(a.stdout, "\nmore: --page-token %s\n", t)
	}
	return err
}
