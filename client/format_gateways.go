package client

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// GatewayStateName returns a gateway state as printed: "up", "down" or "unmonitored".
func GatewayStateName(s telephonyv1.GatewayState) string {
	return enumName(s.String(), "GATEWAY_STATE_")
}

// FormatGateways returns gateways as an aligned table: name, transport and address, state
// and since when, the last OPTIONS answer, live and queued calls against the limits.
func FormatGateways(gws []*telephonyv1.Gateway, now time.Time) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GATEWAY\tADDRESS\tSTATE\tLAST OPTIONS\tACTIVE\tQUEUED\tMAX CPS")
	for _, g := range gws {
		state := GatewayStateName(g.GetState())
		if g.GetStateSince() != nil {
			state += " for " + now.Sub(g.GetStateSince().AsTime()).Round(time.Second).String()
		}
		probe := "-"
		if g.GetLastProbeTime() != nil {
			probe = strconv.Itoa(int(g.GetLastProbeStatus().GetCode()))
			if probe == "0" {
				probe = "no answer"
			}
			probe += ", " + now.Sub(g.GetLastProbeTime().AsTime()).Round(time.Second).String() + " ago"
		}
		active := strconv.Itoa(int(g.GetActiveCalls()))
		if m := g.GetMaxConcurrentCalls(); m > 0 {
			active += "/" + strconv.Itoa(int(m))
		}
		cps := "-"
		if g.GetMaxCps() > 0 {
			cps = strconv.FormatFloat(g.GetMaxCps(), 'g', -1, 64)
		}
		fmt.Fprintf(tw, "%s\t%s://%s\t%s\t%s\t%s\t%d\t%s\n", g.GetName(), g.GetTransport(), g.GetAddress(),
			state, probe, active, g.GetQueuedCalls(), cps)
	}
	_ = tw.Flush() // writes to a strings.Builder cannot fail
	return b.String()
}
