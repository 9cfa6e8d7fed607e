package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ccplane/telephony/client"
)

// Exit statuses.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitInterrupted = 130 // 128 + SIGINT, as shells report it
)

func main() {
	// Two slots: the first interrupt starts a hang-up (place --watch), the second stops at
	// once; signal.Notify drops signals that find the channel full.
	interrupts := make(chan os.Signal, 2)
	signal.Notify(interrupts, os.Interrupt, syscall.SIGTERM)
	a := &app{
		stdin:      os.Stdin,
		stdout:     os.Stdout,
		stderr:     os.Stderr,
		getenv:     os.Getenv,
		interrupts: interrupts,
		now:        time.Now,
	}
	os.Exit(a.run(context.Background(), os.Args[1:]))
}

// app is one run of callctl: its environment, injected so tests can run it in-process.
type app struct {
	stdin          io.Reader // --sdp-file -
	stdout, stderr io.Writer
	getenv         func(string) string
	interrupts     <-chan os.Signal // nil = never interrupted
	now            func() time.Time

	global globalFlags
}

// run executes one command line (without the program name) and returns the exit status.
func (a *app) run(ctx context.Context, args []string) int {
	err := a.dispatch(ctx, args)
	if err == nil {
		return exitOK
	}
	var uerr usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		a.printUsage(a.stdout, helpTopic(err))
		return exitOK
	case errors.As(err, &uerr):
		fmt.Fprintf(a.stderr, "callctl: %s\n\n", uerr.msg)
		a.printUsage(a.stderr, uerr.command)
		return exitUsage
	case errors.Is(err, errInterrupted):
		return exitInterrupted
	default:
		fmt.Fprintln(a.stderr, describeError(err))
		return exitError
	}
}

// dispatch parses the global flags and runs the command they are followed by.
func (a *app) dispatch(ctx context.Context, args []string) error {
	rest, err := a.parseGlobal(args)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		return usageError{msg: "no command given"}
	}
	name, args := rest[0], rest[1:]
	if name == "help" {
		if len(args) > 0 {
			if findCommand(args[0]) == nil {
				return usageError{msg: fmt.Sprintf("unknown command %q", args[0])}
			}
			return helpError{command: args[0]}
		}
		return flag.ErrHelp
	}
	cmd := findCommand(name)
	if cmd == nil {
		return usageError{msg: fmt.Sprintf("unknown command %q", name)}
	}
	return cmd.run(ctx, a, args)
}

// connect dials the server named by the global flags; the caller closes the client.
func (a *app) connect() (*client.Client, error) {
	opts := []client.Option{client.WithTimeout(a.global.timeout)}
	if a.global.token != "" {
		opts = append(opts, client.WithToken(a.global.token))
	}
	if a.global.useTLS() {
		cfg, err := a.global.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithTLS(cfg))
	}
	c, err := client.Dial(a.global.addr, opts...)
	if errors.Is(err, client.ErrTokenWithoutTLS) {
		return nil, fmt.Errorf("%w (use --tls or --ca)", err)
	}
	return c, err
}
