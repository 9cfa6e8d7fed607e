package client

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// StateName returns a call state as callctl prints and parses it: "ringing", "early_media".
func StateName(s telephonyv1.CallState) string { return enumName(s.String(), "CALL_STATE_") }

// PartyName returns a termination party as printed: "kill" or "finish".
func PartyName(p telephonyv1.TerminationParty) string {
	return enumName(p.String(), "TERMINATION_PARTY_")
}

// CauseName returns a termination cause as printed: "ring_timeout", "remote_hangup".
func CauseName(c telephonyv1.TerminationCause) string {
	return enumName(c.String(), "TERMINATION_CAUSE_")
}

// ActionName returns a direction action as callctl prints and parses it: "allow" or "deny".
func ActionName(a telephonyv1.DirectionAction) string {
	return enumName(a.String(), "DIRECTION_ACTION_")
}

// AnyPrefix is how a rule's empty prefix, which matches every number, is printed. Prefixes
// are digits, so it cannot be mistaken for one.
const AnyPrefix = "(any)"

// FormatRule returns a direction rule as "7809 deny", or "(any) allow" for the empty prefix.
func FormatRule(r *telephonyv1.DirectionRule) string {
	return prefixName(r.GetPrefix()) + " " + ActionName(r.GetAction())
}

// FormatRuleTable returns rules as an aligned PREFIX / ACTION table with a header row, in
// the order given (the server's is by prefix); the empty prefix shows as AnyPrefix.
func FormatRuleTable(rules []*telephonyv1.DirectionRule) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PREFIX\tACTION")
	for _, r := range rules {
		fmt.Fprintf(tw, "%s\t%s\n", prefixName(r.GetPrefix()), ActionName(r.GetAction()))
	}
	_ = tw.Flush() // writes to a strings.Builder cannot fail
	return b.String()
}

// FormatVerdict returns a CheckDirection answer as one line: "allowed by 7 allow",
// "blocked by 7809 deny", or "blocked: no rule matches".
func FormatVerdict(r *telephonyv1.CheckDirectionResponse) string {
	verdict := "blocked"
	if r.GetAllowed() {
		verdict = "allowed"
	}
	switch {
	case r.GetMatchedRule() != nil:
		return verdict + " by " + FormatRule(r.GetMatchedRule())
	case !r.GetAllowed():
		return verdict + ": no rule matches"
	}
	return verdict // allowed without a rule: not something the server says, shown as it came
}

func prefixName(p string) string {
	if p == "" {
		return AnyPrefix
	}
	return p
}

func enumName(s, prefix string) string { return strings.ToLower(strings.TrimPrefix(s, prefix)) }

// FormatStatus returns a SIP status as "180 Ringing", or "0 (no response)" for code 0.
func FormatStatus(s *telephonyv1.SipStatus) string {
	switch {
	case s.GetCode() == 0:
		return "0 (no response)"
	case s.GetReason() == "":
		return strconv.Itoa(int(s.GetCode()))
	}
	return fmt.Sprintf("%d %s", s.GetCode(), s.GetReason())
}

// FormatReason returns a Reason header as `Q.850 cause 16 "Normal call clearing"`, leaving
// out the parts that are absent; "" for none.
func FormatReason(r *telephonyv1.SipReason) string {
	var parts []string
	if p := r.GetProtocol(); p != "" {
		parts = append(parts, p)
	}
	if c := r.GetCause(); c != 0 {
		parts = append(parts, fmt.Sprintf("cause %d", c))
	}
	if t := r.GetText(); t != "" {
		parts = append(parts, strconv.Quote(t))
	}
	return strings.Join(parts, " ")
}

// FormatTermination returns "kill / ring_timeout", followed by ", <reason>" when a Reason
// header came; "" when the call has not ended.
func FormatTermination(t *telephonyv1.Termination) string {
	if t.GetParty() == telephonyv1.TerminationParty_TERMINATION_PARTY_UNSPECIFIED &&
		t.GetCause() == telephonyv1.TerminationCause_TERMINATION_CAUSE_UNSPECIFIED {
		return ""
	}
	s := PartyName(t.GetParty()) + " / " + CauseName(t.GetCause())
	if r := FormatReason(t.GetReason()); r != "" {
		s += ", " + r
	}
	return s
}

// FormatCall returns a call as a block of "label  value" lines. Absolute times are shown in
// now's location, with how long ago; the later milestones relative to the INVITE (or, when
// none was sent, to the creation).
func FormatCall(c *telephonyv1.Call, now time.Time) string {
	var b strings.Builder
	line := func(label, value string) { fmt.Fprintf(&b, "%-12s %s\n", label, value) }

	line("call", c.GetCallId())
	line("gateway", c.GetGateway())
	from := c.GetFrom()
	if from == "" {
		from = "(gateway default)"
	}
	line("from → to", from+" → "+c.GetTo())
	line("state", StateName(c.GetState()))
	line("response", FormatStatus(c.GetLastResponse()))
	if t := FormatTermination(c.GetTermination()); t != "" {
		line("termination", t)
	}

	created, invite := timeOf(c.GetCreatedAt()), timeOf(c.GetInviteSentAt())
	absolute := func(t time.Time) string {
		return t.In(now.Location()).Format("2006-01-02 15:04:05.000 MST") + " (" + ago(now.Sub(t)) + ")"
	}
	relative := func(t time.Time) string {
		switch {
		case !invite.IsZero():
			return "+" + formatDuration(t.Sub(invite)) + " after INVITE"
		case !created.IsZero():
			return "+" + formatDuration(t.Sub(created)) + " after created"
		}
		return absolute(t)
	}
	if !created.IsZero() {
		line("created", absolute(created))
	}
	if !invite.IsZero() {
		if created.IsZero() {
			line("invite sent", absolute(invite))
		} else {
			line("invite sent", "+"+formatDuration(invite.Sub(created))+" after created")
		}
	}
	if p := timeOf(c.GetProgressAt()); !p.IsZero() && !invite.IsZero() {
		line("post-dial", formatDuration(p.Sub(invite)))
	}
	answered, ended := timeOf(c.GetAnsweredAt()), timeOf(c.GetEndedAt())
	if !answered.IsZero() {
		s := relative(answered)
		if ended.IsZero() {
			s += " (talking for " + shortDuration(now.Sub(answered)) + ")"
		}
		line("answered", s)
	}
	if !ended.IsZero() {
		s := relative(ended)
		if !answered.IsZero() {
			s += " (talk " + formatDuration(ended.Sub(answered)) + ")"
		}
		line("ended", s)
	}

	if len(c.GetLabels()) > 0 {
		line("labels", FormatPairs(c.GetLabels(), " "))
	}
	if id := c.GetSipCallId(); id != "" {
		line("sip call-id", id)
	}
	if id := c.GetRequestId(); id != "" {
		line("request id", id)
	}
	if sdp := c.GetSdpAnswer(); sdp != "" {
		line("sdp answer", fmt.Sprintf("%d bytes", len(sdp)))
	}
	return b.String()
}

// FormatCallTable returns calls as an aligned table with a header row.
func FormatCallTable(calls []*telephonyv1.Call, now time.Time) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CALL ID\tGATEWAY\tFROM\tTO\tSTATE\tLAST\tEND\tAGE\tTALK")
	for _, c := range calls {
		end := "-"
		if t := c.GetTermination(); t.GetParty() != telephonyv1.TerminationParty_TERMINATION_PARTY_UNSPECIFIED {
			end = PartyName(t.GetParty()) + "/" + CauseName(t.GetCause())
		}
		age := "-"
		if t := timeOf(c.GetCreatedAt()); !t.IsZero() {
			age = shortDuration(now.Sub(t))
		}
		talk := "-"
		if a := timeOf(c.GetAnsweredAt()); !a.IsZero() {
			e := timeOf(c.GetEndedAt())
			if e.IsZero() {
				e = now
			}
			talk = shortDuration(e.Sub(a))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.GetCallId(), c.GetGateway(),
			orDash(c.GetFrom()), c.GetTo(), StateName(c.GetState()), FormatStatus(c.GetLastResponse()),
			end, age, talk)
	}
	_ = tw.Flush() // writes to a strings.Builder cannot fail
	return b.String()
}

// EventFormatter formats the events of one call, one line each:
//
//	#4  +0.310s  ← 180 Ringing
//
// The offset is the event's since_invite where it carries one, else its time relative to the
// INVITE (derived from the first event that carries since_invite) or, before that, to the
// first event seen. The zero value is ready to use; use one EventFormatter per call.
type EventFormatter struct {
	origin     time.Time
	fromInvite bool // origin is the INVITE's time
}

// Format returns the line for ev, without a trailing newline.
func (f *EventFormatter) Format(ev *telephonyv1.CallEvent) string {
	var since *durationpb.Duration
	var body string
	switch k := ev.GetKind().(type) {
	case *telephonyv1.CallEvent_Request:
		since = k.Request.GetSinceInvite()
		body = formatRequest(k.Request)
	case *telephonyv1.CallEvent_Response:
		since = k.Response.GetSinceInvite()
		body = formatResponse(k.Response)
	case *telephonyv1.CallEvent_StateChanged:
		body = "state " + StateName(k.StateChanged.GetFrom()) + " → " + StateName(k.StateChanged.GetTo())
	case *telephonyv1.CallEvent_Ended:
		body = formatEnded(k.Ended)
	default:
		body = "(unknown event)"
	}

	at := timeOf(ev.GetTime())
	if !at.IsZero() {
		if since != nil && !f.fromInvite {
			f.origin, f.fromInvite = at.Add(-since.AsDuration()), true
		} else if f.origin.IsZero() {
			f.origin = at
		}
	}
	offset := "?"
	switch {
	case since != nil:
		offset = fmt.Sprintf("%+.3fs", since.AsDuration().Seconds())
	case !at.IsZero():
		offset = fmt.Sprintf("%+.3fs", at.Sub(f.origin).Seconds())
	}
	return fmt.Sprintf("  #%-2d %s  %s", ev.GetSequence(), offset, body)
}

func formatRequest(r *telephonyv1.SipRequestEvent) string {
	s := arrow(r.GetDirection()) + " " + r.GetMethod()
	if reason := FormatReason(r.GetReason()); reason != "" {
		s += " (" + reason + ")"
	}
	return s
}

func formatResponse(r *telephonyv1.SipResponseEvent) string {
	s := "← " + FormatStatus(r.GetStatus())
	var notes []string
	if m := r.GetCseqMethod(); m != "" && m != "INVITE" {
		notes = append(notes, "to "+m)
	}
	if r.GetSdp() != "" {
		notes = append(notes, "with SDP")
	}
	if reason := FormatReason(r.GetReason()); reason != "" {
		notes = append(notes, reason)
	}
	if len(notes) > 0 {
		s += " (" + strings.Join(notes, "; ") + ")"
	}
	return s
}

func formatEnded(e *telephonyv1.CallEndedEvent) string {
	t := e.GetTermination()
	if t == nil {
		t = e.GetCall().GetTermination()
	}
	s := "ended"
	if term := FormatTermination(t); term != "" {
		s += ": " + term
	}
	if e.GetCall() != nil {
		if last := e.GetCall().GetLastResponse(); last.GetCode() == 0 {
			s += ", no response"
		} else {
			s += ", last " + FormatStatus(last)
		}
	}
	return s
}

func arrow(d telephonyv1.MessageDirection) string {
	switch d {
	case telephonyv1.MessageDirection_MESSAGE_DIRECTION_SENT:
		return "→"
	case telephonyv1.MessageDirection_MESSAGE_DIRECTION_RECEIVED:
		return "←"
	}
	return "?"
}

// timeOf converts a timestamp, unset as the zero time.
func timeOf(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

// formatDuration returns seconds with milliseconds under a minute ("0.310s"), else Go's
// rounded form ("1h2m3s").
func formatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + formatDuration(-d)
	}
	if d < time.Minute {
		return fmt.Sprintf("%.3fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// shortDuration returns an approximate duration for ages: "42s", "5m3s", "2h5m", "3d4h".
func shortDuration(d time.Duration) string {
	if d < 0 {
		return "-" + shortDuration(-d)
	}
	switch {
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
	days := d / (24 * time.Hour)
	return fmt.Sprintf("%dd%dh", days, (d-days*24*time.Hour)/time.Hour)
}

func ago(d time.Duration) string {
	if d < 0 {
		return "in " + shortDuration(-d)
	}
	return shortDuration(d) + " ago"
}

// FormatPairs returns a map as sorted "k=v" pairs joined by sep.
func FormatPairs(m map[string]string, sep string) string {
	pairs := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		pairs = append(pairs, k+"="+m[k])
	}
	return strings.Join(pairs, sep)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
