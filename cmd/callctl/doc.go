// Command callctl is the command line of the telephony control plane, for people and
// scripts: it places, watches, hangs up, shows and lists calls, shows, changes and checks
// gateways' directions, lists the gateways, and prints the SIP-response report, through
// package client. It holds no state and does no call, direction or report logic of its own
// (every report figure is the server's); it parses flags and rule files and formats replies.
// The one exception is load, a load generator for measuring a service on this machine,
// which computes its own latency and rate figures.
//
// Usage:
//
//	callctl [global flags] COMMAND [flags] [args]
//
// Run "callctl help" for the commands and flags. Exit status: 0 success, 1 error (printed as
// "callctl: <code>: <message>"), 2 usage error, 130 interrupted.
package main
