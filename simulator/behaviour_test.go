package simulator

import (
	"strings"
	"testing"
)

func TestScriptFor(t *testing.T) {
	tests := []struct {
		name       string
		user       string
		wantSuffix string
	}{
		{name: "plain digits", user: "15550100486", wantSuffix: "486"},
		{name: "e164 plus", user: "+15550100404", wantSuffix: "404"},
		{name: "separators ignored", user: "1-555-010-0-1-8-3", wantSuffix: "183"},
		{name: "silence", user: "15550100000", wantSuffix: "000"},
		{name: "exactly three digits", user: "999", wantSuffix: "999"},
		{name: "unknown suffix", user: "15550100123", wantSuffix: "*"},
		{name: "too short", user: "07", wantSuffix: "*"},
		{name: "no digits", user: "gateway", wantSuffix: "*"},
		{name: "empty", user: "", wantSuffix: "*"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := scriptFor(tc.user).Suffix; got != tc.wantSuffix {
				t.Errorf("scriptFor(%q): got %v, want %v", tc.user, got, tc.wantSuffix)
			}
		})
	}
}

func TestBehavioursTable(t *testing.T) {
	bs := Behaviours()
	if len(bs) == 0 || bs[len(bs)-1].Suffix != "*" {
		t.Fatalf("last row: got %v, want the fallback \"*\"", bs[len(bs)-1])
	}
	seen := map[string]bool{}
	for _, b := range bs {
		if seen[b.Suffix] {
			t.Errorf("suffix %q: got a duplicate, want each once", b.Suffix)
		}
		seen[b.Suffix] = true
		if b.Description == "" {
			t.Errorf("suffix %q: got an empty description, want one", b.Suffix)
		}
		if b.Suffix != "*" && (len(b.Suffix) != 3 || strings.Trim(b.Suffix, "0123456789") != "") {
			t.Errorf("suffix %q: got %v, want three digits", b.Suffix, b.Suffix)
		}
	}
	bs[0].Suffix = "changed"
	if got := Behaviours()[0].Suffix; got == "changed" {
		t.Errorf("Behaviours()[0] after the caller changed its copy: got %v, want the table unchanged", got)
	}
	for _, s := range scripts {
		if s.action == actReject && q850Text[s.cause] == "" {
			t.Errorf("suffix %s: got no Q.850 text for cause %d, want one", s.Suffix, s.cause)
		}
	}
}
