package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"

	"google.golang.org/protobuf/types/known/timestamppb"

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
	from, to  timeFlag
	code      codeFlag
	party     string
	cause     string
}

func listFlagSet() (*flag.FlagSet, *listOptions) {
	o := &listOptions{}
	fs := newFlagSet("list")
	fs.StringVar(&o.gateway, "gateway", "", "only calls through gateway `NAME`")
	fs.StringVar(&o.state, "state", "", "only calls in `STATE`: dialing, trying, ringing, early_media, answered or ended")
	fs.Var(&o.labels, "label", "only calls labelled `KEY=VALUE` (repeatable; all must match)")
	fs.IntVar(&o.limit, "limit", 0, "show at most `N` calls (default: the server's, 50; at most 1000)")
	fs.StringVar(&o.pageToken, "page-token", "", "continue with the page `TOKEN` a previous list printed")
	fs.Var(&o.from, "from", "only calls created at or after `TIME`")
	fs.Var(&o.to, "to", "only calls created before `TIME`")
	fs.Var(&o.code, "code", "only calls whose last response code is `N` (0 = no response)")
	fs.StringVar(&o.party, "party", "", "only calls ended by `PARTY`: kill (our side) or finish (the far side)")
	fs.StringVar(&o.cause, "cause", "", "only calls ended for `CAUSE` (see above)")
	return fs, o
}

// codeFlag is --code, a last response code that may be 0 (no response); nil = not given.
type codeFlag struct {
	code *int32
}

func (f *codeFlag) String() string {
	if f == nil || f.code == nil {
		return ""
	}
	return strconv.Itoa(int(*f.code))
}

func (f *codeFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || (n != 0 && (n < 100 || n > 999)) {
		return errors.New("want 0 (no response) or a code from 100 to 999")
	}
	c := int32(n)
	f.code = &c
	return nil
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
	if err := checkRange(o.from, o.to); err != nil {
		return nil, bad("%v", err)
	}
	req := &telephonyv1.ListCallsRequest{
		Gateway:   o.gateway,
		Labels:    o.labels.m,
		PageSize:  int32(o.limit),
		PageToken: o.pageToken,
		LastCode:  o.code.code,
	}
	if o.state != "" {
		if req.State, err = parseState(o.state); err != nil {
			return nil, bad("--state: %v", err)
		}
	}
	if !o.from.t.IsZero() {
		req.CreatedAfter = timestamppb.New(o.from.t)
	}
	if !o.to.t.IsZero() {
		req.CreatedBefore = timestamppb.New(o.to.t)
	}
	if o.party != "" {
		if req.Party, err = parseParty(o.party); err != nil {
			return nil, bad("--party: %v", err)
		}
	}
	if o.cause != "" {
		if req.Cause, err = parseCause(o.cause); err != nil {
			return nil, bad("--cause: %v", err)
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
