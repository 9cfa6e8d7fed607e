package main

import (
	"fmt"
	"strconv"
	"strings"
)

// sippRow is what the bench reads from one row of SIPp's -trace_stat file (a CSV separated
// by ";", one row per -fd period; "(C)" columns are cumulative).
type sippRow struct {
	Start      float64 // StartTime, Unix seconds
	Time       float64 // CurrentTime, Unix seconds
	Outgoing   int     // OutgoingCall(C): calls this SIPp placed so far
	Incoming   int     // IncomingCall(C): calls it received so far
	Current    int     // CurrentCall: calls live now
	Successful int     // SuccessfulCall(C)
	Failed     int     // FailedCall(C)
}

// parseSIPpStats parses a -trace_stat file by its header's column names. Only complete
// lines count: SIPp may be writing the last one.
func parseSIPpStats(data string) ([]sippRow, error) {
	lines := strings.Split(data, "\n")
	lines = lines[:len(lines)-1] // the last element is empty or an incomplete line
	if len(lines) == 0 {
		return nil, nil
	}
	col := map[string]int{}
	for i, name := range strings.Split(lines[0], ";") {
		col[name] = i
	}
	want := []string{"StartTime", "CurrentTime", "OutgoingCall(C)", "IncomingCall(C)", "CurrentCall",
		"SuccessfulCall(C)", "FailedCall(C)"}
	for _, name := range want {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("SIPp statistics: no column %q", name)
		}
	}
	rows := make([]sippRow, 0, len(lines)-1)
	for n, line := range lines[1:] {
		f := strings.Split(line, ";")
		if len(f) < len(col) {
			return nil, fmt.Errorf("SIPp statistics line %d: %d fields, want %d", n+2, len(f), len(col))
		}
		var r sippRow
		var errs [7]error
		r.Start, errs[0] = sippTime(f[col["StartTime"]])
		r.Time, errs[1] = sippTime(f[col["CurrentTime"]])
		r.Outgoing, errs[2] = strconv.Atoi(f[col["OutgoingCall(C)"]])
		r.Incoming, errs[3] = strconv.Atoi(f[col["IncomingCall(C)"]])
		r.Current, errs[4] = strconv.Atoi(f[col["CurrentCall"]])
		r.Successful, errs[5] = strconv.Atoi(f[col["SuccessfulCall(C)"]])
		r.Failed, errs[6] = strconv.Atoi(f[col["FailedCall(C)"]])
		for _, err := range errs {
			if err != nil {
				return nil, fmt.Errorf("SIPp statistics line %d: %w", n+2, err)
			}
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// sippTime reads a SIPp time stamp, "2026-11-25<TAB>17:13:21.859716<TAB>1795626801.859716":
// the last field is Unix seconds.
func sippTime(s string) (float64, error) {
	f := strings.Split(s, "\t")
	return strconv.ParseFloat(strings.TrimSpace(f[len(f)-1]), 64)
}

// placedBy estimates when a caller's n-th call was placed, in Unix seconds, from rows a
// second apart: the first row that counts n outgoing calls, interpolated back to where the
// count crossed n (calls are evenly spaced within a period at a steady rate). ok is false
// if no row reached n.
func placedBy(rows []sippRow, n int) (at float64, ok bool) {
	for i, r := range rows {
		if r.Outgoing < n {
			continue
		}
		if i == 0 {
			return r.Time, true
		}
		p := rows[i-1] // p.Outgoing < n <= r.Outgoing
		frac := float64(n-p.Outgoing) / float64(r.Outgoing-p.Outgoing)
		return p.Time + frac*(r.Time-p.Time), true
	}
	return 0, false
}
