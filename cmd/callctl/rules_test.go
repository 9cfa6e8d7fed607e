package main

import (
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

const (
	allow = telephonyv1.DirectionAction_DIRECTION_ACTION_ALLOW
	deny  = telephonyv1.DirectionAction_DIRECTION_ACTION_DENY
)

func rule(prefix string, action telephonyv1.DirectionAction) *telephonyv1.DirectionRule {
	return &telephonyv1.DirectionRule{Prefix: prefix, Action: action}
}

func TestParseRulesCSV(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     []*telephonyv1.DirectionRule
		wantLine int    // a csvError on this line; 0 = success
		wantMsg  string // substring of that error
	}{
		{
			name: "header and rules",
			in:   "prefix,action\n7,allow\n7809,deny\n",
			want: []*telephonyv1.DirectionRule{rule("7", allow), rule("7809", deny)},
		},
		{
			name: "no header",
			in:   "7,allow\n7809,deny",
			want: []*telephonyv1.DirectionRule{rule("7", allow), rule("7809", deny)},
		},
		{
			name: "header in any case, spaces around fields",
			in:   " Prefix , ACTION \n  7 ,  Allow  \n",
			want: []*telephonyv1.DirectionRule{rule("7", allow)},
		},
		{
			name: "comments, blank lines and CRLF",
			in:   "# carrier-a, 2026-03\r\n\r\nprefix,action\r\n   \r\n# Russia\r\n7,allow\r\n\r\n#,deny\r\n",
			want: []*telephonyv1.DirectionRule{rule("7", allow)},
		},
		{
			name: "leading plus dropped",
			in:   "+7,allow\n+7809,deny\n",
			want: []*telephonyv1.DirectionRule{rule("7", allow), rule("7809", deny)},
		},
		{
			name: "empty prefix, bare and quoted",
			in:   ",deny\n\"7\",\"allow\"\n",
			want: []*telephonyv1.DirectionRule{rule("", deny), rule("7", allow)},
		},
		{
			name: "quoted empty prefix",
			in:   "\"\",deny\n",
			want: []*telephonyv1.DirectionRule{rule("", deny)},
		},
		{
			name: "byte order mark from a spreadsheet",
			in:   "\ufeffprefix,action\n7,allow\n",
			want: []*telephonyv1.DirectionRule{rule("7", allow)},
		},
		{name: "empty file", in: "", want: nil},
		{name: "only a header and comments", in: "prefix,action\n# nothing yet\n", want: nil},
		{
			name:     "bad action",
			in:       "prefix,action\n7,allow\n7809,permit\n",
			wantLine: 3, wantMsg: `action "permit" is not allow or deny`,
		},
		{
			name:     "line numbers count comments and blank lines",
			in:       "# header comment\n\nprefix,action\n\n7,allow\n# next\n78O9,deny\n",
			wantLine: 7, wantMsg: `prefix "78O9" is not digits`,
		},
		{name: "spaces inside a prefix", in: "7 809,deny\n", wantLine: 1, wantMsg: `prefix "7 809" is not digits`},
		{name: "three fields", in: "7,allow\n7809,deny,carrier b\n", wantLine: 2, wantMsg: "want prefix,action, got 3 fields"},
		{name: "one field", in: "7,allow\n\n7809\n", wantLine: 3, wantMsg: "want prefix,action, got 1 fields"},
		{name: "missing action", in: "7,\n", wantLine: 1, wantMsg: `action "" is not allow or deny`},
		{name: "header not first", in: "7,allow\nprefix,action\n", wantLine: 2, wantMsg: `prefix "prefix" is not digits`},
		{name: "duplicate prefix", in: "7,allow\n8,deny\n+7,deny\n", wantLine: 3, wantMsg: "prefix 7 already on line 1"},
		{name: "duplicate empty prefix", in: ",allow\n+,deny\n", wantLine: 2, wantMsg: `prefix "" already on line 1`},
		{name: "indented comment", in: "7,allow\n  # no\n", wantLine: 2, wantMsg: "got 1 fields"},
		{name: "bare quote", in: "7,allow\n78\"09,deny\n", wantLine: 2, wantMsg: "bare \""},
		{name: "unterminated quote", in: "7,allow\n\"7809,deny\n", wantLine: 2, wantMsg: "extraneous or missing \""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRulesCSV(strings.NewReader(tc.in))
			if tc.wantLine != 0 {
				cerr, ok := errors.AsType[csvError](err)
				if !ok {
					t.Fatalf("got %v, %v, want a csvError on line %d", got, err, tc.wantLine)
				}
				if cerr.line != tc.wantLine || !strings.Contains(cerr.msg, tc.wantMsg) {
					t.Errorf("got line %d %q, want line %d containing %q", cerr.line, cerr.msg, tc.wantLine, tc.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			if diff := cmp.Diff(tc.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRuleArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    []*telephonyv1.DirectionRule
		wantErr string // substring; "" = success
	}{
		{
			name: "allow, deny and the empty prefix",
			args: []string{"7:allow", "7809:deny", ":deny"},
			want: []*telephonyv1.DirectionRule{rule("7", allow), rule("7809", deny), rule("", deny)},
		},
		{name: "plus and any case", args: []string{"+7:ALLOW", "+:Deny"}, want: []*telephonyv1.DirectionRule{rule("7", allow), rule("", deny)}},
		{name: "no colon", args: []string{"7809"}, wantErr: `rule "7809": want PREFIX:allow or PREFIX:deny`},
		{name: "bad action", args: []string{"7:allow", "7809:block"}, wantErr: `rule "7809:block": action "block" is not allow or deny`},
		{name: "two colons", args: []string{"7:allow:deny"}, wantErr: `action "allow:deny" is not allow or deny`},
		{name: "letters", args: []string{"7a:deny"}, wantErr: `rule "7a:deny": prefix "7a" is not digits`},
		{name: "double plus", args: []string{"++7:deny"}, wantErr: `prefix "++7" is not digits`},
		{name: "prefix twice", args: []string{"7:allow", "+7:deny"}, wantErr: `rule "+7:deny": prefix 7 given twice`},
		{name: "empty prefix twice", args: []string{":allow", "+:deny"}, wantErr: `prefix "" given twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRuleArgs(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("got %v, %v, want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			if diff := cmp.Diff(tc.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRuleChange(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "rules.csv", "prefix,action\n7,allow\n")
	empty := writeFile(t, dir, "empty.csv", "# nothing\n")
	tests := []struct {
		name        string
		sub         string // set or add
		args        []string
		stdin       string
		wantGateway string
		want        []*telephonyv1.DirectionRule
		wantUsage   string // substring of a usage error of directions; "" = none
		wantErr     bool   // an error that is not a usage error
	}{
		{name: "rules", sub: "set", args: []string{"gw", "7:allow", ":deny"}, wantGateway: "gw", want: []*telephonyv1.DirectionRule{rule("7", allow), rule("", deny)}},
		{name: "file", sub: "add", args: []string{"gw", "--file", file}, wantGateway: "gw", want: []*telephonyv1.DirectionRule{rule("7", allow)}},
		{name: "file flag first", sub: "set", args: []string{"--file=" + file, "gw"}, wantGateway: "gw", want: []*telephonyv1.DirectionRule{rule("7", allow)}},
		{name: "stdin", sub: "add", args: []string{"gw", "--file", "-"}, stdin: "+7809,DENY\n", wantGateway: "gw", want: []*telephonyv1.DirectionRule{rule("7809", deny)}},
		{name: "empty file sets no rules", sub: "set", args: []string{"gw", "--file", empty}, wantGateway: "gw", want: nil},
		{name: "empty stdin sets no rules", sub: "set", args: []string{"gw", "--file", "-"}, wantGateway: "gw", want: nil},
		{name: "empty file adds nothing", sub: "add", args: []string{"gw", "--file", empty}, wantUsage: "directions add: no rules in " + empty},
		{name: "empty stdin adds nothing", sub: "add", args: []string{"gw", "--file", "-"}, wantUsage: "directions add: no rules in stdin"},
		{name: "set without rules", sub: "set", args: []string{"gw"}, wantUsage: "directions set: give RULEs or --file (an empty file removes every rule"},
		{name: "add without rules", sub: "add", args: []string{"gw"}, wantUsage: "directions add: give RULEs or --file"},
		{name: "file and rules", sub: "set", args: []string{"gw", "--file", file, "7:deny"}, wantUsage: "give --file or RULEs, not both"},
		{name: "no gateway", sub: "set", args: nil, wantUsage: "directions set: GATEWAY is required"},
		{name: "empty gateway", sub: "set", args: []string{"", "7:allow"}, wantUsage: "GATEWAY is empty"},
		{name: "bad rule", sub: "add", args: []string{"gw", "7:allow", "8"}, wantUsage: `directions add: rule "8": want PREFIX:allow`},
		{name: "bad line in the file", sub: "set", args: []string{"gw", "--file", "-"}, stdin: "7,allow\n\n8,maybe\n", wantUsage: `directions set: stdin: line 3: action "maybe"`},
		{name: "unknown flag", sub: "set", args: []string{"gw", "--replace"}, wantUsage: "flag provided but not defined"},
		{name: "missing file", sub: "set", args: []string{"gw", "--file", dir + "/missing.csv"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gw, got, err := parseRuleChange(tc.sub, tc.args, strings.NewReader(tc.stdin), tc.sub == "set")
			uerr, isUsage := errors.AsType[usageError](err)
			switch {
			case tc.wantUsage != "":
				if !isUsage || uerr.command != "directions" || !strings.Contains(uerr.msg, tc.wantUsage) {
					t.Errorf("got %v, want a usage error of directions containing %q", err, tc.wantUsage)
				}
			case tc.wantErr:
				if err == nil || isUsage {
					t.Errorf("got %v, want a plain error (exit 1, not a usage error)", err)
				}
			case err != nil:
				t.Fatalf("got %v, want nil", err)
			default:
				if gw != tc.wantGateway {
					t.Errorf("gateway: got %q, want %q", gw, tc.wantGateway)
				}
				if diff := cmp.Diff(tc.want, got, protocmp.Transform()); diff != "" {
					t.Errorf("rules (-want +got):\n%s", diff)
				}
			}
		})
	}
	if _, _, err := parseRuleChange("set", []string{"gw", "-h"}, strings.NewReader(""), true); !errors.Is(err, flag.ErrHelp) || helpTopic(err) != "directions" {
		t.Errorf("-h: got %v, want help for directions", err)
	}
}

func TestParseRemoveAndCheck(t *testing.T) {
	gw, prefixes, err := parseRemove([]string{"gw", "7809", "+7", ""})
	if err != nil || gw != "gw" || !cmp.Equal(prefixes, []string{"7809", "7", ""}) {
		t.Errorf("remove: got %q %q %v, want gw [7809 7 \"\"]", gw, prefixes, err)
	}
	gw, number, err := parseCheck([]string{"gw", "+7 809 123-45-67"})
	if err != nil || gw != "gw" || number != "+7 809 123-45-67" {
		t.Errorf("check: got %q %q %v, want gw and the number as given", gw, number, err)
	}
	for _, tc := range []struct {
		name    string
		parse   func([]string) error
		args    []string
		wantMsg string
	}{
		{name: "remove without prefix", parse: parseRemoveErr, args: []string{"gw"}, wantMsg: "directions remove: PREFIX is required"},
		{name: "remove letters", parse: parseRemoveErr, args: []string{"gw", "7x"}, wantMsg: `directions remove: prefix "7x" is not digits`},
		{name: "check without number", parse: parseCheckErr, args: []string{"gw"}, wantMsg: "directions check: NUMBER is required"},
		{name: "check unquoted spaces", parse: parseCheckErr, args: []string{"gw", "+7", "809"}, wantMsg: "want one NUMBER, got 2 arguments"},
		{name: "check without gateway", parse: parseCheckErr, args: nil, wantMsg: "directions check: GATEWAY is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uerr, ok := errors.AsType[usageError](tc.parse(tc.args))
			if !ok || !strings.Contains(uerr.msg, tc.wantMsg) {
				t.Errorf("got %v, want a usage error containing %q", uerr, tc.wantMsg)
			}
		})
	}
}

func parseRemoveErr(args []string) error { _, _, err := parseRemove(args); return err }
func parseCheckErr(args []string) error  { _, _, err := parseCheck(args); return err }
