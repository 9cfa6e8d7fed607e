package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/ccplane/telephony/client/clienttest"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ruleStore is a fake DirectionService over one gateway, carrier-a: it keeps the rules by
// prefix as the real one does (sorted, version bumped by every change), records every
// request, and answers CheckDirection by longest prefix over the digits of the number.
type ruleStore struct {
	mu      sync.Mutex
	rules   map[string]telephonyv1.DirectionAction
	version uint64
	reject  error // while set, the answer to every request
	reqs    []proto.Message
}

func newRuleStore() *ruleStore { return &ruleStore{rules: map[string]telephonyv1.DirectionAction{}} }

func (s *ruleStore) requests() []proto.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs
}

// edit records req and, for a known gateway, applies fn under the lock and returns the
// rules then in force.
func (s *ruleStore) edit(req proto.Message, gateway string, fn func()) (*telephonyv1.Directions, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, req)
	if s.reject != nil {
		return nil, s.reject
	}
	if gateway != "carrier-a" {
		st, _ := status.New(codes.NotFound, "gateway "+gateway+" not found").
			WithDetails(&errdetails.ErrorInfo{Reason: "UNKNOWN_GATEWAY", Domain: "telephony"})
		return nil, st.Err()
	}
	if fn != nil {
		fn()
		s.version++
	}
	d := &telephonyv1.Directions{Gateway: gateway, Version: s.version}
	for p, a := range s.rules {
		d.Rules = append(d.Rules, rule(p, a))
	}
	slices.SortFunc(d.Rules, func(a, b *telephonyv1.DirectionRule) int { return strings.Compare(a.GetPrefix(), b.GetPrefix()) })
	return d, nil
}

func (s *ruleStore) service() *clienttest.DirectionService {
	put := func(rules []*telephonyv1.DirectionRule) {
		for _, r := range rules {
			s.rules[r.GetPrefix()] = r.GetAction()
		}
	}
	return &clienttest.DirectionService{
		SetDirectionsFn: func(_ context.Context, r *telephonyv1.SetDirectionsRequest) (*telephonyv1.SetDirectionsResponse, error) {
			d, err := s.edit(r, r.GetGateway(), func() { clear(s.rules); put(r.GetRules()) })
			return &telephonyv1.SetDirectionsResponse{Directions: d}, err
		},
		AddRulesFn: func(_ context.Context, r *telephonyv1.AddRulesRequest) (*telephonyv1.AddRulesResponse, error) {
			d, err := s.edit(r, r.GetGateway(), func() { put(r.GetRules()) })
			return &telephonyv1.AddRulesResponse{Directions: d}, err
		},
		RemoveRulesFn: func(_ context.Context, r *telephonyv1.RemoveRulesRequest) (*telephonyv1.RemoveRulesResponse, error) {
			d, err := s.edit(r, r.GetGateway(), func() {
				for _, p := range r.GetPrefixes() {
					delete(s.rules, p)
				}
			})
			return &telephonyv1.RemoveRulesResponse{Directions: d}, err
		},
		ListDirectionsFn: func(_ context.Context, r *telephonyv1.ListDirectionsRequest) (*telephonyv1.ListDirectionsResponse, error) {
			d, err := s.edit(r, r.GetGateway(), nil)
			return &telephonyv1.ListDirectionsResponse{Directions: d}, err
		},
		CheckDirectionFn: func(_ context.Context, r *telephonyv1.CheckDirectionRequest) (*telephonyv1.CheckDirectionResponse, error) {
			d, err := s.edit(r, r.GetGateway(), nil)
			if err != nil {
				return nil, err
			}
			number := strings.Map(func(c rune) rune {
				if c >= '0' && c <= '9' {
					return c
				}
				return -1
			}, r.GetNumber())
			res := &telephonyv1.CheckDirectionResponse{NormalizedNumber: number}
			for _, rl := range d.GetRules() { // sorted, so a longer matching prefix comes later
				if strings.HasPrefix(number, rl.GetPrefix()) {
					res.MatchedRule = rl
				}
			}
			res.Allowed = res.GetMatchedRule().GetAction() == allow
			return res, nil
		},
	}
}

// serveRules runs a ruleStore on a real gRPC server and returns it and the address.
func serveRules(t *testing.T) (*ruleStore, string) {
	s := newRuleStore()
	return s, serve(t, &clienttest.Service{Directions: s.service()})
}

func TestDirectionsSetFromFile(t *testing.T) {
	s, addr := serveRules(t)
	file := writeFile(t, t.TempDir(), "rules.csv", strings.Join([]string{
		"# carrier-a directions",
		"prefix,action",
		",deny",
		"+7,allow",
		"",
		"7809,DENY",
		"49,allow",
	}, "\n"))
	r := runCLI(t, addr, nil, nil, "directions", "set", "carrier-a", "--file", file)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit: got %d, want 0 (stderr %q)", r.code, r.stderr)
	}
	want := []proto.Message{&telephonyv1.SetDirectionsRequest{Gateway: "carrier-a", Rules: []*telephonyv1.DirectionRule{
		rule("", deny), rule("7", allow), rule("7809", deny), rule("49", allow),
	}}}
	if diff := cmp.Diff(want, s.requests(), protocmp.Transform()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	wantOut := strings.Join([]string{
		"PREFIX  ACTION",
		"(any)   deny",
		"49      allow",
		"7       allow",
		"7809    deny",
		"",
		"gateway carrier-a, version 1",
		"",
	}, "\n")
	if r.stdout != wantOut {
		t.Errorf("stdout: got\n%s\nwant\n%s", r.stdout, wantOut)
	}
}

func TestDirectionsChanges(t *testing.T) {
	s, addr := serveRules(t)
	steps := []struct {
		args       []string
		stdin      string
		wantReq    proto.Message
		wantStdout string
	}{
		{
			args:       []string{"directions", "set", "carrier-a", "7:allow", ":deny"},
			wantReq:    &telephonyv1.SetDirectionsRequest{Gateway: "carrier-a", Rules: []*telephonyv1.DirectionRule{rule("7", allow), rule("", deny)}},
			wantStdout: "PREFIX  ACTION\n(any)   deny\n7       allow\n\ngateway carrier-a, version 1\n",
		},
		{
			args:       []string{"directions", "add", "carrier-a", "--file", "-"},
			stdin:      "prefix,action\n7809,deny\n+44,allow\n",
			wantReq:    &telephonyv1.AddRulesRequest{Gateway: "carrier-a", Rules: []*telephonyv1.DirectionRule{rule("7809", deny), rule("44", allow)}},
			wantStdout: "PREFIX  ACTION\n(any)   deny\n44      allow\n7       allow\n7809    deny\n\ngateway carrier-a, version 2\n",
		},
		{
			args:       []string{"directions", "remove", "carrier-a", "44", ""},
			wantReq:    &telephonyv1.RemoveRulesRequest{Gateway: "carrier-a", Prefixes: []string{"44", ""}},
			wantStdout: "PREFIX  ACTION\n7       allow\n7809    deny\n\ngateway carrier-a, version 3\n",
		},
		{
			args:       []string{"directions", "list", "carrier-a"},
			wantReq:    &telephonyv1.ListDirectionsRequest{Gateway: "carrier-a"},
			wantStdout: "PREFIX  ACTION\n7       allow\n7809    deny\n\ngateway carrier-a, version 3\n",
		},
		{
			args:       []string{"directions", "set", "carrier-a", "--file", "-"},
			stdin:      "prefix,action\n",
			wantReq:    &telephonyv1.SetDirectionsRequest{Gateway: "carrier-a"},
			wantStdout: "no rules: every number is blocked\n\ngateway carrier-a, version 4\n",
		},
	}
	for i, step := range steps {
		before := len(s.requests())
		r := runCLIStdin(t, step.stdin, addr, nil, nil, step.args...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%q: exit %d, want 0 (stderr %q)", step.args, r.code, r.stderr)
		}
		if diff := cmp.Diff([]proto.Message{step.wantReq}, s.requests()[before:], protocmp.Transform()); diff != "" {
			t.Errorf("step %d %q: requests (-want +got):\n%s", i, step.args, diff)
		}
		if r.stdout != step.wantStdout {
			t.Errorf("step %d %q: stdout: got\n%s\nwant\n%s", i, step.args, r.stdout, step.wantStdout)
		}
	}
}

func TestDirectionsCheck(t *testing.T) {
	s, addr := serveRules(t)
	if r := runCLI(t, addr, nil, nil, "directions", "set", "carrier-a", ":deny", "7:allow", "7809:deny", "49:allow"); r.code != 0 {
		t.Fatalf("set: exit %d, stderr %q", r.code, r.stderr)
	}
	tests := []struct {
		number string
		want   string
	}{
		{number: "+7 916 123-45-67", want: "allowed by 7 allow\nnumber 79161234567\n"},
		{number: "+78091234567", want: "blocked by 7809 deny\nnumber 78091234567\n"},
		{number: "4930123456", want: "allowed by 49 allow\nnumber 4930123456\n"},
		{number: "15550001111", want: "blocked by (any) deny\nnumber 15550001111\n"},
	}
	for _, tc := range tests {
		t.Run(tc.number, func(t *testing.T) {
			r := runCLI(t, addr, nil, nil, "directions", "check", "carrier-a", tc.number)
			if r.code != 0 || r.stdout != tc.want || r.stderr != "" {
				t.Errorf("got exit %d stdout %q stderr %q, want 0 %q", r.code, r.stdout, r.stderr, tc.want)
			}
		})
	}

	// No rule matches once the catch-all is gone.
	if r := runCLI(t, addr, nil, nil, "directions", "remove", "carrier-a", ""); r.code != 0 {
		t.Fatalf("remove: exit %d, stderr %q", r.code, r.stderr)
	}
	r := runCLI(t, addr, nil, nil, "directions", "check", "carrier-a", "15550001111")
	if want := "blocked: no rule matches\nnumber 15550001111\n"; r.code != 0 || r.stdout != want {
		t.Errorf("no match: got exit %d stdout %q, want 0 %q", r.code, r.stdout, want)
	}
	last := s.requests()[len(s.requests())-1]
	if diff := cmp.Diff(&telephonyv1.CheckDirectionRequest{Gateway: "carrier-a", Number: "15550001111"}, last, protocmp.Transform()); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
}

func TestDirectionsJSON(t *testing.T) {
	_, addr := serveRules(t)
	r := runCLI(t, addr, nil, nil, "--json", "directions", "set", "carrier-a", "7:allow", "7809:deny")
	var d telephonyv1.Directions
	if err := protojson.Unmarshal([]byte(r.stdout), &d); err != nil || r.code != 0 || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("--json set: got exit %d %q (%v), want one protojson line", r.code, r.stdout, err)
	}
	want := &telephonyv1.Directions{Gateway: "carrier-a", Version: 1, Rules: []*telephonyv1.DirectionRule{rule("7", allow), rule("7809", deny)}}
	if diff := cmp.Diff(want, &d, protocmp.Transform()); diff != "" {
		t.Errorf("--json set (-want +got):\n%s", diff)
	}

	r = runCLI(t, addr, nil, nil, "--json", "directions", "list", "carrier-a")
	d.Reset()
	if err := protojson.Unmarshal([]byte(r.stdout), &d); err != nil || r.code != 0 {
		t.Fatalf("--json list: got exit %d %q (%v), want protojson", r.code, r.stdout, err)
	}
	if diff := cmp.Diff(want, &d, protocmp.Transform()); diff != "" {
		t.Errorf("--json list (-want +got):\n%s", diff)
	}

	r = runCLI(t, addr, nil, nil, "--json", "directions", "check", "carrier-a", "+78091234567")
	var res telephonyv1.CheckDirectionResponse
	if err := protojson.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("--json check: got exit %d %q (%v), want one protojson line", r.code, r.stdout, err)
	}
	wantRes := &telephonyv1.CheckDirectionResponse{NormalizedNumber: "78091234567", MatchedRule: rule("7809", deny)}
	if diff := cmp.Diff(wantRes, &res, protocmp.Transform()); diff != "" {
		t.Errorf("--json check (-want +got):\n%s", diff)
	}
}

func TestDirectionsErrors(t *testing.T) {
	s, addr := serveRules(t)
	bad := writeFile(t, t.TempDir(), "bad.csv", "prefix,action\n7,allow\n# fine so far\n7809,block\n")
	tests := []struct {
		name       string
		args       []string
		reject     error
		wantCode   int
		wantStderr string // the whole of it, or with usage errors its first line
	}{
		{
			name: "unknown gateway", args: []string{"directions", "list", "carrier-z"}, wantCode: 1,
			wantStderr: "callctl: NotFound: gateway carrier-z not found (UNKNOWN_GATEWAY)\n",
		},
		{
			name: "server rejects the rules", args: []string{"directions", "add", "carrier-a", "123456789012345678901:deny"},
			reject:     status.Error(codes.InvalidArgument, "rules[0].prefix: more than 20 digits"),
			wantCode:   1,
			wantStderr: "callctl: InvalidArgument: rules[0].prefix: more than 20 digits\n",
		},
		{name: "bad line", args: []string{"directions", "set", "carrier-a", "--file", bad}, wantCode: 2, wantStderr: "callctl: directions set: " + bad + `: line 4: action "block" is not allow or deny`},
		{name: "missing file", args: []string{"directions", "set", "carrier-a", "--file", bad + ".missing"}, wantCode: 1, wantStderr: "callctl: read --file: open " + bad + ".missing: no such file or directory\n"},
		{name: "no subcommand", args: []string{"directions"}, wantCode: 2, wantStderr: "callctl: directions: SUBCOMMAND is required"},
		{name: "unknown subcommand", args: []string{"directions", "show", "carrier-a"}, wantCode: 2, wantStderr: `callctl: directions: unknown subcommand "show"`},
		{name: "flag before subcommand", args: []string{"directions", "--file", "x", "set"}, wantCode: 2, wantStderr: "callctl: flag provided but not defined: -file"},
		{name: "list extra argument", args: []string{"directions", "list", "carrier-a", "7"}, wantCode: 2, wantStderr: `callctl: directions list: unexpected argument "7"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.mu.Lock()
			s.reject = tc.reject
			s.mu.Unlock()
			r := runCLI(t, addr, nil, nil, tc.args...)
			if r.code != tc.wantCode {
				t.Errorf("exit: got %d, want %d (stderr %q)", r.code, tc.wantCode, r.stderr)
			}
			got := r.stderr
			if tc.wantCode == exitUsage {
				got, _, _ = strings.Cut(got, "\n")
				if !strings.Contains(r.stderr, "usage: callctl [global flags] directions SUBCOMMAND GATEWAY [args]") {
					t.Errorf("stderr: got %q, want the usage of directions", r.stderr)
				}
			}
			if got != tc.wantStderr {
				t.Errorf("stderr: got %q, want %q", got, tc.wantStderr)
			}
		})
	}
}

func TestDirectionsUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // substrings of stdout
	}{
		{name: "help", args: []string{"help"}, want: []string{
			"  directions set GATEWAY [--file F | RULE...]   replace all of a gateway's rules at once\n",
			"  directions check GATEWAY NUMBER               tell whether NUMBER would be dialled",
		}},
		{name: "help directions", args: []string{"help", "directions"}, want: []string{
			"usage: callctl [global flags] directions SUBCOMMAND GATEWAY [args]\n",
			"\nSubcommands:\n  set GATEWAY [--file F | RULE...]   replace all of a gateway's rules at once\n",
			"  remove GATEWAY PREFIX...           remove the rules with these prefixes\n",
			"A RULE is PREFIX:allow or PREFIX:deny.",
			"\nFlags:\n  --file FILE   set and add: read the rules from CSV FILE (\"-\" = stdin)\n",
		}},
		{name: "directions -h", args: []string{"directions", "-h"}, want: []string{"usage: callctl [global flags] directions SUBCOMMAND"}},
		{name: "directions set -h", args: []string{"directions", "set", "carrier-a", "-h"}, want: []string{"usage: callctl [global flags] directions SUBCOMMAND"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, "", nil, nil, tc.args...)
			if r.code != 0 {
				t.Errorf("exit: got %d, want 0 (stderr %q)", r.code, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout: got\n%s\nwant it to contain %q", r.stdout, w)
				}
			}
		})
	}
}
