package main

import (
	"context"
	"fmt"

	"github.com/ccplane/telephony/client"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

func runGateways(ctx context.Context, a *app, args []string) error {
	pos, err := parseFlags(newFlagSet("gateways"), "gateways", args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{command: "gateways", msg: fmt.Sprintf("gateways: unexpected argument %q", pos[0])}
	}
	gws, err := request(ctx, a, func(ctx context.Context, c *client.Client) ([]*telephonyv1.Gateway, error) {
		return c.ListGateways(ctx)
	})
	if err != nil {
		return err
	}
	if a.global.json {
		return a.printJSON(&telephonyv1.ListGatewaysResponse{Gateways: gws})
	}
	_, err = fmt.Fprint(a.stdout, client.FormatGateways(gws, a.now()))
	return err
}
