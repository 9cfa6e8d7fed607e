package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

func TestParsePlace(t *testing.T) {
	o, err := parsePlace([]string{
		"--gateway", "carrier-a", "--to", "+49 30 123456",
		"--header", "X-Campaign=spring", "--label", "agent_id=7",
		"--header", "X-Trace=a=b", // the value keeps its own '='
		"--label", "campaign=", // an empty value is a value
		"--from", "15550001111", "--ring-timeout", "30s", "--max-duration", "1h",
		"--request-id", "req-1", "--watch",
	})
	if err != nil {
		t.Fatalf("parsePlace: %v", err)
	}
	if !o.watch {
		t.Error("watch: got false, want true")
	}
	req, err := o.request(strings.NewReader(""))
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	want := &telephonyv1.PlaceCallRequest{
		Gateway:     "carrier-a",
		To:          "+49 30 123456",
		From:        "15550001111",
		RingTimeout: durationpb.New(30 * time.Second),
		MaxDuration: durationpb.New(time.Hour),
		Headers:     map[string]string{"X-Campaign": "spring", "X-Trace": "a=b"},
		Labels:      map[string]string{"agent_id": "7", "campaign": ""},
		RequestId:   "req-1",
	}
	if diff := cmp.Diff(want, req, protocmp.Transform()); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
}

func TestParsePlaceSDP(t *testing.T) {
	o, err := parsePlace([]string{"--gateway", "g", "--to", "1", "--sdp-file", "-"})
	if err != nil {
		t.Fatalf("parsePlace: %v", err)
	}
	req, err := o.request(strings.NewReader("v=0\r\n"))
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if got, want := req.GetSdpOffer(), "v=0\r\n"; got != want {
		t.Errorf("sdp_offer: got %q, want %q", got, want)
	}
	if req.GetRingTimeout() != nil || req.GetMaxDuration() != nil {
		t.Errorf("durations: got %v, %v, want unset (server defaults)", req.GetRingTimeout(), req.GetMaxDuration())
	}

	o, err = parsePlace([]string{"--gateway", "g", "--to", "1", "--sdp-file", t.TempDir() + "/missing.sdp"})
	if err != nil {
		t.Fatalf("parsePlace: %v", err)
	}
	if _, err := o.request(strings.NewReader("")); err == nil || errors.As(err, new(usageError)) {
		t.Errorf("missing --sdp-file: got %v, want a plain error (exit 1, not a usage error)", err)
	}
}

func TestParsePlaceUsageErrors(t *testing.T) {
	base := []string{"--gateway", "g", "--to", "1"}
	tests := []struct {
		name    string
		args    []string
		wantMsg string
	}{
		{name: "header without =", args: append(base, "--header", "X"), wantMsg: "want NAME=VALUE"},
		{name: "header without name", args: append(base, "--header", "=v"), wantMsg: "empty NAME"},
		{name: "label given twice", args: append(base, "--label", "a=1", "--label", "a=2"), wantMsg: "a given twice"},
		{name: "missing gateway", args: []string{"--to", "1"}, wantMsg: "--gateway is required"},
		{name: "missing to", args: []string{"--gateway", "g"}, wantMsg: "--to is required"},
		{name: "negative ring timeout", args: append(base, "--ring-timeout", "-1s"), wantMsg: "must not be negative"},
		{name: "bad duration", args: append(base, "--max-duration", "forever"), wantMsg: "invalid value"},
		{name: "unknown flag", args: append(base, "--cc", "x"), wantMsg: "flag provided but not defined"},
		{name: "positional argument", args: append(base, "4930123456"), wantMsg: `unexpected argument "4930123456"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parsePlace(tc.args)
			uerr, ok := errors.AsType[usageError](err)
			if !ok {
				t.Fatalf("got %v, want a usageError", err)
			}
			if uerr.command != "place" || !strings.Contains(uerr.msg, tc.wantMsg) {
				t.Errorf("got %q for %q, want a message containing %q for place", uerr.msg, uerr.command, tc.wantMsg)
			}
		})
	}
}

func TestParseWatch(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantID    string
		wantAfter uint64
		wantErr   string // substring of a usage error; "" = success
	}{
		{name: "id then flag", args: []string{"c1", "--after", "7"}, wantID: "c1", wantAfter: 7},
		{name: "flag then id", args: []string{"--after=7", "c1"}, wantID: "c1", wantAfter: 7},
		{name: "id only", args: []string{"c1"}, wantID: "c1"},
		{name: "id after --", args: []string{"--after", "2", "--", "-odd-id"}, wantID: "-odd-id", wantAfter: 2},
		{name: "no id", args: []string{"--after", "2"}, wantErr: "CALL_ID is required"},
		{name: "two ids", args: []string{"c1", "c2"}, wantErr: "want one CALL_ID, got 2"},
		{name: "negative after", args: []string{"c1", "--after", "-1"}, wantErr: "invalid value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseWatch(tc.args)
			if tc.wantErr != "" {
				if uerr, ok := errors.AsType[usageError](err); !ok || !strings.Contains(uerr.msg, tc.wantErr) {
					t.Errorf("got %v, want a usage error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseWatch: %v", err)
			}
			if o.callID != tc.wantID || o.after != tc.wantAfter {
				t.Errorf("got id %q after %d, want id %q after %d", o.callID, o.after, tc.wantID, tc.wantAfter)
			}
		})
	}
}

func TestParseList(t *testing.T) {
	req, err := parseList([]string{"--gateway", "carrier-a", "--state", "early-media", "--label", "agent_id=7",
		"--label", "campaign=spring", "--limit", "20", "--page-token", "abc"})
	if err != nil {
		t.Fatalf("parseList: %v", err)
	}
	want := &telephonyv1.ListCallsRequest{
		Gateway:   "carrier-a",
		State:     telephonyv1.CallState_CALL_STATE_EARLY_MEDIA,
		Labels:    map[string]string{"agent_id": "7", "campaign": "spring"},
		PageSize:  20,
		PageToken: "abc",
	}
	if diff := cmp.Diff(want, req, protocmp.Transform()); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}

	for _, args := range [][]string{{"--state", "busy"}, {"--limit", "1001"}, {"--label", "x"}, {"extra"}} {
		if _, err := parseList(args); !errors.As(err, new(usageError)) {
			t.Errorf("parseList(%q): got %v, want a usage error", args, err)
		}
	}
}

func TestParseListFilters(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want *telephonyv1.ListCallsRequest
	}{
		{
			name: "code and party",
			args: []string{"--code", "404", "--party", "finish"},
			want: &telephonyv1.ListCallsRequest{LastCode: proto.Int32(404), Party: telephonyv1.TerminationParty_TERMINATION_PARTY_FINISH},
		},
		{
			name: "code 0 is a filter, not the zero value",
			args: []string{"--code", "0"},
			want: &telephonyv1.ListCallsRequest{LastCode: proto.Int32(0)},
		},
		{
			name: "our 9XX codes",
			args: []string{"--code", "900", "--party", "KILL"},
			want: &telephonyv1.ListCallsRequest{LastCode: proto.Int32(900), Party: telephonyv1.TerminationParty_TERMINATION_PARTY_KILL},
		},
		{
			name: "cause as printed, with dashes, or by its proto name",
			args: []string{"--cause", "ring-timeout"},
			want: &telephonyv1.ListCallsRequest{Cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_RING_TIMEOUT},
		},
		{
			name: "cause by its proto name",
			args: []string{"--cause", "TERMINATION_CAUSE_REMOTE_REJECTED"},
			want: &telephonyv1.ListCallsRequest{Cause: telephonyv1.TerminationCause_TERMINATION_CAUSE_REMOTE_REJECTED},
		},
		{
			name: "time range, RFC 3339 and UTC minutes",
			args: []string{"--from", "2026-11-25T10:00:00+01:00", "--to", "2026-11-25T10:00"},
			want: &telephonyv1.ListCallsRequest{
				CreatedAfter:  timestamppb.New(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)),
				CreatedBefore: timestamppb.New(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)),
			},
		},
		{
			name: "from a day on",
			args: []string{"--from", "2026-11-25"},
			want: &telephonyv1.ListCallsRequest{CreatedAfter: timestamppb.New(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC))},
		},
		{name: "no filter leaves last_code unset", args: nil, want: &telephonyv1.ListCallsRequest{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseList(tc.args)
			if err != nil {
				t.Fatalf("parseList: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
			if (got.LastCode == nil) != (tc.want.LastCode == nil) {
				t.Errorf("last_code set: got %v, want %v", got.LastCode != nil, tc.want.LastCode != nil)
			}
		})
	}
}

func TestParseListFilterErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantMsg string
	}{
		{
			name: "unknown cause", args: []string{"--cause", "busy"},
			wantMsg: `list: --cause: unknown cause "busy" (want one of hangup_requested, ring_timeout, setup_timeout, ` +
				"transport_error, max_duration, shutdown, remote_rejected, remote_hangup, direction_blocked, gateway_limit, lost, gateway_down)",
		},
		{name: "unspecified cause", args: []string{"--cause", "unspecified"}, wantMsg: `list: --cause: unknown cause "unspecified"`},
		{name: "unknown party", args: []string{"--party", "remote"}, wantMsg: `list: --party: unknown party "remote" (want one of kill, finish)`},
		{name: "code not a number", args: []string{"--code", "4xx"}, wantMsg: `invalid value "4xx" for flag -code: want 0 (no response) or a code from 100 to 999`},
		{name: "code too small", args: []string{"--code", "99"}, wantMsg: `invalid value "99" for flag -code`},
		{name: "code too large", args: []string{"--code", "1000"}, wantMsg: `invalid value "1000" for flag -code`},
		{name: "negative code", args: []string{"--code", "-1"}, wantMsg: `invalid value "-1" for flag -code`},
		{name: "bad time", args: []string{"--from", "11/25/2026"}, wantMsg: `invalid value "11/25/2026" for flag -from: want RFC 3339`},
		{name: "from after to", args: []string{"--from", "2026-11-25T12:00", "--to", "2026-11-25T11:00"}, wantMsg: "list: --from must be before --to"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseList(tc.args)
			uerr, ok := errors.AsType[usageError](err)
			if !ok {
				t.Fatalf("got %v, want a usageError", err)
			}
			if uerr.command != "list" || !strings.Contains(uerr.msg, tc.wantMsg) {
				t.Errorf("got %q for %q, want a message containing %q for list", uerr.msg, uerr.command, tc.wantMsg)
			}
		})
	}
}

func TestParseState(t *testing.T) {
	for _, s := range []string{"answered", "ANSWERED", "CALL_STATE_ANSWERED", "Answered"} {
		if got, err := parseState(s); err != nil || got != telephonyv1.CallState_CALL_STATE_ANSWERED {
			t.Errorf("parseState(%q): got %v, %v, want CALL_STATE_ANSWERED", s, got, err)
		}
	}
	_, err := parseState("unspecified")
	if err == nil || !strings.Contains(err.Error(), "dialing, trying, ringing, early_media, answered, ended") {
		t.Errorf("parseState(unspecified): got %v, want an error listing the states in order", err)
	}
}

func TestParseGlobal(t *testing.T) {
	env := map[string]string{envAddr: "10.0.0.5:50051", envToken: "from-env"}
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantAddr  string
		wantToken string
		wantRest  []string
	}{
		{name: "defaults", args: []string{"get", "c1"}, wantAddr: defaultAddr, wantRest: []string{"get", "c1"}},
		{name: "environment", args: []string{"list"}, env: env, wantAddr: "10.0.0.5:50051", wantToken: "from-env", wantRest: []string{"list"}},
		{
			name: "flags beat the environment", args: []string{"--addr", "127.0.0.1:1", "--token", "flag", "--json", "list"},
			env: env, wantAddr: "127.0.0.1:1", wantToken: "flag", wantRest: []string{"list"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := &app{getenv: func(k string) string { return tc.env[k] }}
			rest, err := a.parseGlobal(tc.args)
			if err != nil {
				t.Fatalf("parseGlobal: %v", err)
			}
			if a.global.addr != tc.wantAddr || a.global.token != tc.wantToken || !slices.Equal(rest, tc.wantRest) {
				t.Errorf("got addr %q token %q rest %q, want %q %q %q",
					a.global.addr, a.global.token, rest, tc.wantAddr, tc.wantToken, tc.wantRest)
			}
		})
	}
}
