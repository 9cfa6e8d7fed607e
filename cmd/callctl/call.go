package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/ccplane/telephony/client"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// parseCallID parses a command that takes exactly one CALL_ID and no flags besides fs's.
func parseCallID(fs *flag.FlagSet, command string, args []string) (string, error) {
	pos, err := parseFlags(fs, command, args)
	if err != nil {
		return "", err
	}
	switch {
	case len(pos) == 0:
		return "", usageError{command: command, msg: command + ": CALL_ID is required"}
	case len(pos) > 1:
		return "", usageError{command: command, msg: fmt.Sprintf("%s: want one CALL_ID, got %d arguments", command, len(pos))}
	case pos[0] == "":
		return "", usageError{command: command, msg: command + ": CALL_ID is empty"}
	}
	return pos[0], nil
}

// runCallRPC runs one of the commands that take a CALL_ID and print the call they get back.
func (a *app) runCallRPC(ctx context.Context, command string, args []string,
	rpc func(*client.Client, context.Context, string) (*telephonyv1.Call, error)) error {
	id, err := parseCallID(newFlagSet(command), command, args)
	if err != nil {
		return err
	}
	call, err := request(ctx, a, func(ctx context.Context, c *client.Client) (*telephonyv1.Call, error) {
		return rpc(c, ctx, id)
	})
	if err != nil {
		return err
	}
	return a.printCall(call)
}

func runGet(ctx context.Context, a *app, args []string) error {
	return a.runCallRPC(ctx, "get", args, (*client.Client).GetCall)
}

func runHangUp(ctx context.Context, a *app, args []string) error {
	return a.runCallRPC(ctx, "hangup", args, (*client.Client).HangUp)
}
