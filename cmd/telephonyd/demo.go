package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ccplane/telephony/client"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/simulator"
)

// demoGateway is the embedded demo's provider: the simulator, reached as gateway "demo".
type demoGateway struct {
	sim *simulator.Gateway
}

func newDemo() (*demoGateway, error) {
	sim, err := simulator.New(simulator.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		return nil, fmt.Errorf("demo gateway: %w", err)
	}
	return &demoGateway{sim: sim}, nil
}

// config is the demo's configuration: gRPC on the usual port, SIP on any free loopback port,
// and the simulator as the only gateway (its credentials answer the 407 behaviour).
func (d *demoGateway) config() fileConfig {
	c := defaultConfig()
	c.SIP.Listen = "127.0.0.1:0"
	c.Calls.ReportLabels = []string{"campaign", "agent_id"}
	c.Gateways = []gatewayConfig{{
		Name: "demo", Address: d.sim.Addr(), Transport: "udp",
		Username: "demo", Password: "demo", FromUser: "15550000000",
		// North America, but not its premium-rate 900 numbers.
		Allow: []string{"1"}, Deny: []string{"1900"},
		// Limits as a real trunk would have them; callctl gateways shows them.
		MaxConcurrentCalls: 50, MaxCPS: 10, QueueTimeout: duration(2 * time.Second),
	}}
	return c
}

func (d *demoGateway) run(ctx context.Context, log *slog.Logger) {
	if err := d.sim.Run(ctx); err != nil {
		log.Error("demo gateway stopped", "err", err)
	}
}

// printDemoHelp shows the simulator's number table and how to place a call of one's own.
func printDemoHelp(w io.Writer, grpcAddr string) {
	fmt.Fprintf(w, "\nThe demo gateway %q answers by the last three digits of the dialled number:\n", "demo")
	for _, b := range simulator.Behaviours() {
		fmt.Fprintf(w, "  ...%-4s %s\n", b.Suffix, b.Description)
	}
	fmt.Fprintf(w, "\nTry: go run ./cmd/callctl --addr %s place --gateway demo --to 15550100486 --watch\n", grpcAddr)
	fmt.Fprintf(w, "     go run ./cmd/callctl --addr %s gateways\n\n", grpcAddr)
}

// tourCalls are the sample calls the demo places at start: one per way a call commonly ends.
var tourCalls = []struct {
	to, what    string
	hangUpAfter time.Duration // 0 = let the call end by itself
}{
	{to: "15550100200", what: "answered, then the callee hangs up (finish)"},
	{to: "15550100486", what: "busy (finish, 486)"},
	{to: "15550100180", what: "rings until we hang up (kill, last 180)", hangUpAfter: 2 * time.Second},
	{to: "19005550123", what: "a premium-rate number outside the gateway's directions (kill, 900)"},
}

// runTour places the tour's calls through the service's own gRPC API, as a contact-center
// application would, and prints each call's events as an agent desktop would see them.
func runTour(ctx context.Context, grpcAddr string, w io.Writer, log *slog.Logger) {
	cl, err := client.Dial(grpcAddr)
	if err != nil {
		log.Error("tour: dial", "err", err)
		return
	}
	defer cl.Close()
	fmt.Fprintf(w, "\nDemo tour: %d calls through the simulated gateway %q.\n", len(tourCalls), "demo")
	for _, tc := range tourCalls {
		if ctx.Err() != nil {
			return
		}
		if err := tourCall(ctx, cl, w, tc.to, tc.what, tc.hangUpAfter); err != nil && ctx.Err() == nil {
			log.Error("tour call failed", "to", tc.to, "err", err)
		}
	}
	fmt.Fprintln(w, "\nTour done; the service keeps running (Ctrl-C stops it).")
	printDemoHelp(w, grpcAddr)
}

func tourCall(ctx context.Context, cl *client.Client, w io.Writer, to, what string, hangUpAfter time.Duration) error {
	fmt.Fprintf(w, "\n→ %s: %s\n", to, what)
	call, err := cl.PlaceCall(ctx, &telephonyv1.PlaceCallRequest{
		Gateway: "demo", To: to, MaxDuration: durationpb.New(time.Minute),
		Labels: map[string]string{"campaign": "tour"},
	})
	if id := blockedCallID(err); id != "" {
		// Refused before dialling, yet recorded like every call: its history shows why.
		fmt.Fprintf(w, "  PlaceCall: %s\n", status.Convert(err).Message())
		call, err = &telephonyv1.Call{CallId: id}, nil
	}
	if err != nil {
		return err
	}
	if hangUpAfter > 0 {
		timer := time.AfterFunc(hangUpAfter, func() {
			if _, err := cl.HangUp(ctx, call.GetCallId()); err != nil && ctx.Err() == nil {
				fmt.Fprintf(w, "  hang-up failed: %v\n", err)
			}
		})
		defer timer.Stop()
	}
	var f client.EventFormatter
	return cl.Watch(ctx, call.GetCallId(), 0, func(ev *telephonyv1.CallEvent) error {
		fmt.Fprintln(w, f.Format(ev))
		return nil
	})
}

// blockedCallID returns the id of the call a DIRECTION_BLOCKED refusal recorded, or "".
func blockedCallID(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == "DIRECTION_BLOCKED" {
			return info.GetMetadata()["call_id"]
		}
	}
	return ""
}
