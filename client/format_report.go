package client

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/durationpb"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// reportWidth is the width FormatReport keeps to, so that a report reads in a 100-column
// terminal; only a single word longer than a line goes past it.
const reportWidth = 100

// maxReasonWidth caps a reason phrase in the report's tables: providers put whole sentences
// in them, which would push the other columns off the screen.
const maxReasonWidth = 24

// FormatReport returns a SIP-response report as text for an operator, for example one
// checking a provider's "we see SIP 404 from your side". For each gateway, in the order
// given: a header with calls, attempts, answered, ASR and NER (as percentages; "-" without
// attempts), ACD, PDD p50/p95 and kill share; a table of the last response codes (CODE,
// REASON, CALLS, SHARE of the gateway's calls, and the standard MEANING, followed by the
// gateway's own meaning where the server has one); what each code usually means in
// practice; who ended the calls and why; and, when there are several periods, one line per
// period (PERIOD start in UTC, CALLS, ASR, NER, ACD, PDD50, TOP CODE). Every figure is the
// server's; only the shares are derived, from the counts. Lines keep to 100 columns; long
// texts are wrapped.
func FormatReport(r *telephonyv1.GetSipReportResponse) string {
	if len(r.GetGateways()) == 0 {
		return "no calls in this range\n"
	}
	var b strings.Builder
	for i, g := range r.GetGateways() {
		if i > 0 {
			b.WriteString("\n")
		}
		writeGatewayReport(&b, g)
	}
	return b.String()
}

func writeGatewayReport(b *strings.Builder, g *telephonyv1.GatewayReport) {
	f := g.GetTotal()
	fmt.Fprintf(b, "gateway %s\n", g.GetGateway())
	fmt.Fprintf(b, "  calls %d   attempts %d   answered %d   ASR %s   NER %s\n",
		f.GetCalls(), f.GetAttempts(), f.GetAnswered(), attemptRatio(f, f.GetAsr()), attemptRatio(f, f.GetNer()))
	fmt.Fprintf(b, "  ACD %s   PDD p50 %s, p95 %s   kill share %s\n",
		reportDuration(f.GetAcd()), reportDuration(f.GetPddP50()), reportDuration(f.GetPddP95()), percent(f.GetKillShare()))

	if len(f.GetCodes()) > 0 {
		b.WriteString("\n")
		writeCodes(b, f)
		writePractice(b, f.GetCodes())
	}
	if len(f.GetParties()) > 0 || len(f.GetCauses()) > 0 {
		b.WriteString("\n")
		writeEndings(b, f)
	}
	if len(g.GetPeriods()) > 1 {
		b.WriteString("\n")
		writePeriods(b, g.GetPeriods())
	}
}

// writeCodes writes the table of last response codes. The MEANING column takes what is left
// of the line, and its texts wrap onto continuation rows.
func writeCodes(b *strings.Builder, f *telephonyv1.ReportFigures) {
	head := table{right: []bool{false, false, true, true}}
	head.add("  CODE", "REASON", "CALLS", "SHARE")
	for _, c := range f.GetCodes() {
		head.add("  "+codeOf(c.GetStatus()), reasonOf(c.GetStatus()), fmt.Sprint(c.GetCount()), share(c.GetCount(), f.GetCalls()))
	}
	width := head.meaningWidth()

	t := table{right: head.right}
	t.add(append(head.rows[0], "MEANING")...)
	for i, c := range f.GetCodes() {
		lines := wrap(orDash(c.GetMeaning()), width)
		if m := c.GetGatewayMeaning(); m != "" {
			lines = append(lines, wrap("on this gateway: "+m, width)...)
		}
		t.add(append(head.rows[i+1], lines[0])...)
		for _, l := range lines[1:] {
			t.add("", "", "", "", l)
		}
	}
	t.write(b)
}

// writePractice writes, for each code that has one, what it usually means in practice and
// what to do, with the text wrapped under itself.
func writePractice(b *strings.Builder, codes []*telephonyv1.CodeCount) {
	w := 0
	for _, c := range codes {
		if c.GetPractice() != "" {
			w = max(w, utf8.RuneCountInString(codeOf(c.GetStatus())))
		}
	}
	if w == 0 {
		return
	}
	b.WriteString("\n  In practice:\n")
	indent := strings.Repeat(" ", 4+w+2)
	for _, c := range codes {
		if c.GetPractice() == "" {
			continue
		}
		for i, l := range wrap(c.GetPractice(), reportWidth-len(indent)) {
			if i == 0 {
				fmt.Fprintf(b, "    %-*s  %s\n", w, codeOf(c.GetStatus()), l)
			} else {
				fmt.Fprintf(b, "%s%s\n", indent, l)
			}
		}
	}
}

// writeEndings writes who ended the calls and why, as "name count (share)" lists.
func writeEndings(b *strings.Builder, f *telephonyv1.ReportFigures) {
	var parties, causes []string
	for _, p := range f.GetParties() {
		parties = append(parties, fmt.Sprintf("%s %d (%s)", PartyName(p.GetParty()), p.GetCount(), share(p.GetCount(), f.GetCalls())))
	}
	for _, c := range f.GetCauses() {
		causes = append(causes, fmt.Sprintf("%s %d (%s)", CauseName(c.GetCause()), c.GetCount(), share(c.GetCount(), f.GetCalls())))
	}
	const label = "  %-10s "
	list := func(name string, items []string) {
		if len(items) == 0 {
			return
		}
		indent := strings.Repeat(" ", len(fmt.Sprintf(label, "")))
		for i, l := range wrapItems(items, ", ", reportWidth-len(indent)) {
			if i == 0 {
				fmt.Fprintf(b, label+"%s\n", name, l)
			} else {
				fmt.Fprintf(b, "%s%s\n", indent, l)
			}
		}
	}
	list("ended by", parties)
	list("causes", causes)
}

// writePeriods writes one line per period. Periods start on UTC hours or days; the start is
// shown with its hour either way, since the response does not say which.
func writePeriods(b *strings.Builder, periods []*telephonyv1.PeriodReport) {
	b.WriteString("  By period (start, UTC):\n")
	t := table{right: []bool{false, true, true, true, true, true}}
	t.add("  PERIOD", "CALLS", "ASR", "NER", "ACD", "PDD50", "TOP CODE")
	for _, p := range periods {
		f := p.GetFigures()
		top := "-"
		if cs := f.GetCodes(); len(cs) > 0 {
			st := cs[0].GetStatus()
			top = codeOf(st)
			switch {
			case st.GetReason() != "":
				top += " " + truncate(st.GetReason(), maxReasonWidth)
			case st.GetCode() == 0:
				top += " no response"
			}
			top += " (" + share(cs[0].GetCount(), f.GetCalls()) + ")"
		}
		start := "-"
		if s := p.GetStart(); s != nil {
			start = s.AsTime().UTC().Format("2006-01-02 15:04")
		}
		t.add("  "+start, fmt.Sprint(f.GetCalls()), attemptRatio(f, f.GetAsr()), attemptRatio(f, f.GetNer()),
			reportDuration(f.GetAcd()), reportDuration(f.GetPddP50()), top)
	}
	t.write(b)
}

// table is rows of cells laid out by text/tabwriter with two spaces between columns. Columns
// marked in right are right-aligned (numbers); the last column is never padded, so lines
// carry no trailing blanks.
type table struct {
	right []bool
	rows  [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// widths returns the width of each column in runes.
func (t *table) widths() []int {
	var w []int
	for _, row := range t.rows {
		for i, c := range row {
			if i == len(w) {
				w = append(w, 0)
			}
			w[i] = max(w[i], utf8.RuneCountInString(c))
		}
	}
	return w
}

// meaningWidth returns the room left on a line after the columns so far and their padding,
// at least 30 so that a wide table still shows some meaning per line.
func (t *table) meaningWidth() int {
	used := 0
	for _, w := range t.widths() {
		used += w + 2
	}
	return max(reportWidth-used, 30)
}

func (t *table) write(b *strings.Builder) {
	w := t.widths()
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	for _, row := range t.rows {
		cells := make([]string, len(row))
		for i, c := range row {
			if i < len(t.right) && t.right[i] {
				c = strings.Repeat(" ", w[i]-utf8.RuneCountInString(c)) + c
			}
			cells[i] = c
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	_ = tw.Flush() // writes to a strings.Builder cannot fail
}

// codeOf returns a status code as printed in a report: "404", or "0" for no response.
func codeOf(s *telephonyv1.SipStatus) string { return fmt.Sprint(s.GetCode()) }

// reasonOf returns a status's reason phrase, capped to maxReasonWidth; "(no response)" for
// code 0 and "-" when the phrase is missing.
func reasonOf(s *telephonyv1.SipStatus) string {
	switch {
	case s.GetReason() != "":
		return truncate(s.GetReason(), maxReasonWidth)
	case s.GetCode() == 0:
		return "(no response)"
	}
	return "-"
}

// attemptRatio returns ASR or NER as a percentage, or "-" when no INVITE was sent, where the
// server's 0 would read as a total failure.
func attemptRatio(f *telephonyv1.ReportFigures, ratio float64) string {
	if f.GetAttempts() == 0 {
		return "-"
	}
	return percent(ratio)
}

// percent returns a ratio from 0 to 1 as "40.0%".
func percent(ratio float64) string { return fmt.Sprintf("%.1f%%", 100*ratio) }

// share returns n as a percentage of total, "-" when total is 0.
func share(n, total int64) string {
	if total == 0 {
		return "-"
	}
	return percent(float64(n) / float64(total))
}

// reportDuration returns ACD or PDD to the hundredth of a second under 10s ("0.45s", where
// post-dial delays of direct interconnects sit), to the tenth under a minute ("42.3s"), else
// to the second ("1m23s"); "-" when the server sent none (no answered or ringing call).
func reportDuration(d *durationpb.Duration) string {
	if d == nil {
		return "-"
	}
	switch v := d.AsDuration(); {
	case v < 10*time.Second:
		return fmt.Sprintf("%.2fs", v.Seconds())
	case v < time.Minute:
		return fmt.Sprintf("%.1fs", v.Seconds())
	default:
		return v.Round(time.Second).String()
	}
}

// truncate cuts s to at most n runes, marking a cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// wrap splits text into lines of at most width runes at spaces; a word longer than width
// gets a line of its own. It always returns at least one line.
func wrap(text string, width int) []string {
	return wrapItems(strings.Fields(text), " ", width)
}

// wrapItems joins items with sep into lines of at most width runes, breaking only between
// items; a broken line ends with sep without its trailing blanks (", " → ","). It always
// returns at least one line.
func wrapItems(items []string, sep string, width int) []string {
	end := strings.TrimRight(sep, " ") // what ends a line broken after an item
	var lines []string
	line := ""
	for _, it := range items {
		switch {
		case line == "":
			line = it
		case utf8.RuneCountInString(line+sep+it+end) <= width:
			line += sep + it
		default:
			lines = append(lines, line+end)
			line = it
		}
	}
	return append(lines, line)
}
