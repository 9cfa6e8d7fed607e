package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// placeOptions are the flags of the place command.
type placeOptions struct {
	gateway     string
	to          string
	from        string
	ringTimeout time.Duration
	maxDuration time.Duration
	headers     kvFlag
	labels      kvFlag
	requestID   string
	sdpFile     string
	watch       bool
}

func placeFlagSet() (*flag.FlagSet, *placeOptions) {
	o := &placeOptions{}
	fs := newFlagSet("place")
	fs.StringVar(&o.gateway, "gateway", "", "dial through gateway `NAME` (required)")
	fs.StringVar(&o.to, "to", "", "dial `NUMBER` (required)")
	fs.StringVar(&o.from, "from", "", "caller ID `NUMBER` (default: the gateway's)")
	fs.DurationVar(&o.ringTimeout, "ring-timeout", 0, "send CANCEL if there is no answer within `DURATION` (default: the server's, 60s)")
	fs.DurationVar(&o.maxDuration, "max-duration", 0, "send BYE when an answered call has lasted `DURATION` (default: the server's, 1h)")
	fs.Var(&o.headers, "header", "add SIP header `X-NAME=VALUE` to the INVITE (repeatable)")
	fs.Var(&o.labels, "label", "keep label `KEY=VALUE` with the call (repeatable)")
	fs.StringVar(&o.requestID, "request-id", "", "idempotency `KEY`: placing again with it returns the same call (and makes retries safe)")
	fs.StringVar(&o.sdpFile, "sdp-file", "", "read the SDP offer from `FILE` (\"-\" = stdin; default: the server's offer)")
	fs.BoolVar(&o.watch, "watch", false, "stream the call's events until it ends")
	return fs, o
}

// parsePlace parses the place command line; every error is a usageError or helpError.
func parsePlace(args []string) (*placeOptions, error) {
	fs, o := placeFlagSet()
	pos, err := parseFlags(fs, "place", args)
	if err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return usageError{command: "place", msg: "place: " + fmt.Sprintf(format, args...)}
	}
	switch {
	case len(pos) > 0:
		return nil, bad("unexpected argument %q", pos[0])
	case o.gateway == "":
		return nil, bad("--gateway is required")
	case o.to == "":
		return nil, bad("--to is required")
	case o.ringTimeout < 0:
		return nil, bad("--ring-timeout must not be negative")
	case o.maxDuration < 0:
		return nil, bad("--max-duration must not be negative")
	}
	return o, nil
}

// request builds the PlaceCallRequest; stdin is read for --sdp-file -.
func (o *placeOptions) request(stdin io.Reader) (*telephonyv1.PlaceCallRequest, error) {
	req := &telephonyv1.PlaceCallRequest{
		Gateway:   o.gateway,
		To:        o.to,
		From:      o.from,
		Headers:   o.headers.m,
		Labels:    o.labels.m,
		RequestId: o.requestID,
	}
	if o.ringTimeout > 0 {
		req.RingTimeout = durationpb.New(o.ringTimeout)
	}
	if o.maxDuration > 0 {
		req.MaxDuration = durationpb.New(o.maxDuration)
	}
	switch o.sdpFile {
	case "":
	case "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read SDP from stdin: %w", err)
		}
		req.SdpOffer = string(b)
	default:
		b, err := os.ReadFile(o.sdpFile)
		if err != nil {
			return nil, fmt.Errorf("read --sdp-file: %w", err)
		}
		req.SdpOffer = string(b)
	}
	return req, nil
}

func runPlace(ctx context.Context, a *app, args []string) error {
	o, err := parsePlace(args)
	if err != nil {
		return err
	}
	req, err := o.request(a.stdin)
	if err != nil {
		return err
	}
	c, err := a.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	var call *telephonyv1.Call
	err = a.interruptible(ctx, func(ctx context.Context) (err error) {
		call, err = c.PlaceCall(ctx, req)
		return err
	})
	if err != nil {
		return err
	}
	if err := a.printCall(call); err != nil {
		return err
	}
	if !o.watch {
		return nil
	}
	if !a.global.json {
		fmt.Fprintln(a.stdout)
	}
	return a.follow(ctx, c, call.GetCallId())
}
