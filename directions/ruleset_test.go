package directions

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func allow(p string) Rule { return Rule{Prefix: p, Action: ActionAllow} }
func deny(p string) Rule  { return Rule{Prefix: p, Action: ActionDeny} }

func TestDecide(t *testing.T) {
	russia := []Rule{allow("7"), deny("7809"), allow("78095")}
	tests := []struct {
		name   string
		rules  []Rule
		number string
		want   Decision
	}{
		{name: "allowed country", rules: russia, number: "79161234567",
			want: Decision{Allowed: true, Matched: true, Rule: allow("7")}},
		{name: "premium inside allowed country", rules: russia, number: "78091234567",
			want: Decision{Matched: true, Rule: deny("7809")}},
		{name: "allowed inside premium", rules: russia, number: "78095000000",
			want: Decision{Allowed: true, Matched: true, Rule: allow("78095")}},
		{name: "number equal to the prefix", rules: russia, number: "7809",
			want: Decision{Matched: true, Rule: deny("7809")}},
		{name: "number shorter than the deny prefix", rules: russia, number: "780",
			want: Decision{Allowed: true, Matched: true, Rule: allow("7")}},
		{name: "no match is blocked", rules: russia, number: "4420712345678", want: Decision{}},
		{name: "empty prefix matches everything", rules: []Rule{allow(""), deny("44")}, number: "33123456789",
			want: Decision{Allowed: true, Matched: true, Rule: allow("")}},
		{name: "longer prefix beats the empty one", rules: []Rule{allow(""), deny("44")}, number: "4420712345678",
			want: Decision{Matched: true, Rule: deny("44")}},
		{name: "deny all", rules: []Rule{deny("")}, number: "1", want: Decision{Matched: true, Rule: deny("")}},
		{name: "walk passes nodes without rules", rules: []Rule{allow("1"), deny("123456")}, number: "12345",
			want: Decision{Allowed: true, Matched: true, Rule: allow("1")}},
		{name: "twenty-digit prefix", rules: []Rule{deny(""), allow(strings.Repeat("5", 20))},
			number: strings.Repeat("5", 20), want: Decision{Allowed: true, Matched: true, Rule: allow(strings.Repeat("5", 20))}},
		{name: "no rules", number: "79161234567", want: Decision{}},
		// Decide wants normalised input; anything else must never match a shorter part.
		{name: "not normalised", rules: []Rule{allow("")}, number: "+79161234567", want: Decision{}},
		{name: "non-digit after the match", rules: russia, number: "79x", want: Decision{}},
		{name: "empty number", rules: []Rule{allow("")}, number: "", want: Decision{}},
		{name: "too long", rules: []Rule{allow("")}, number: strings.Repeat("1", 21), want: Decision{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := Compile(tc.rules)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if diff := cmp.Diff(tc.want, rs.Decide(tc.number)); diff != "" {
				t.Errorf("Decide(%q) (-want +got):\n%s", tc.number, diff)
			}
		})
	}
}

func TestDecideNil(t *testing.T) {
	var rs *RuleSet
	if got, want := rs.Decide("79161234567"), (Decision{}); got != want {
		t.Errorf("nil RuleSet: got %+v, want %+v", got, want)
	}
	if got := rs.Rules(); got != nil {
		t.Errorf("nil RuleSet rules: got %v, want nil", got)
	}
}

func TestCompile(t *testing.T) {
	tests := []struct {
		name    string
		rules   []Rule
		want    []Rule
		wantErr string // "" = compiles
	}{
		{name: "sorted by prefix", rules: []Rule{deny("7809"), allow("7"), allow(""), allow("44")},
			want: []Rule{allow(""), allow("44"), allow("7"), deny("7809")}},
		{name: "duplicates with one action kept once", rules: []Rule{allow("7"), allow("7")}, want: []Rule{allow("7")}},
		{name: "duplicates with two actions", rules: []Rule{allow("7"), deny("8"), deny("7")}, wantErr: `"7" is both allow and deny`},
		{name: "invalid prefix", rules: []Rule{allow("7"), allow("8a")}, wantErr: "not a digit"},
		{name: "invalid action", rules: []Rule{{Prefix: "7"}}, wantErr: "want allow or deny"},
		{name: "none", rules: nil, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]Rule(nil), tc.rules...)
			rs, err := Compile(tc.rules)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrInvalidRule) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("Compile: got %v, want ErrInvalidRule saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if diff := cmp.Diff(tc.want, rs.Rules()); diff != "" {
				t.Errorf("Rules (-want +got):\n%s", diff)
			}
			if got, want := rs.Len(), len(tc.want); got != want {
				t.Errorf("Len: got %d, want %d", got, want)
			}
			if diff := cmp.Diff(in, tc.rules); diff != "" {
				t.Errorf("Compile changed its input (-before +after):\n%s", diff)
			}
		})
	}
}

// The rule set is immutable: what Rules returns is a copy.
func TestRulesIsACopy(t *testing.T) {
	rs, err := Compile([]Rule{allow("7")})
	if err != nil {
		t.Fatal(err)
	}
	rs.Rules()[0] = deny("7")
	if got, want := rs.Decide("79"), (Decision{Allowed: true, Matched: true, Rule: allow("7")}); got != want {
		t.Errorf("after changing Rules' result: got %+v, want %+v", got, want)
	}
}

func TestDecideDoesNotAllocate(t *testing.T) {
	rs, err := Compile([]Rule{allow("7"), deny("7809"), allow("44")})
	if err != nil {
		t.Fatal(err)
	}
	var d Decision
	if got := testing.AllocsPerRun(100, func() { d = rs.Decide("78091234567") }); got != 0 {
		t.Errorf("allocations: got %v, want 0", got)
	}
	if !d.Matched {
		t.Errorf("Decide: got %+v, want a match", d)
	}
}

func FuzzDecide(f *testing.F) {
	f.Add("7a7809d78095a", "78095123")
	f.Add("a44d", "4420712345678")
	f.Add("1d1a", "1")
	f.Add("", "79161234567")
	f.Add("123456789012345678901a", "+1 234")
	f.Fuzz(func(t *testing.T, spec, number string) {
		rules := parseSpec(spec)
		rs, err := Compile(rules)
		if conflict := hasConflict(rules); conflict != (err != nil) {
			t.Fatalf("Compile(%v): got %v, want an error: %v", rules, err, conflict)
		}
		if err != nil {
			return
		}
		// Raw fuzz input (rarely normalised) and its digits, which always are.
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, number)
		for _, n := range []string{number, digits[:min(len(digits), MaxDigits)]} {
			if got, want := rs.Decide(n), naiveDecide(rules, n); got != want {
				t.Fatalf("Decide(%q) with %v: got %+v, want %+v", n, rules, got, want)
			}
		}
	})
}

// parseSpec reads rules from fuzz input: digits build a prefix, 'a' or 'd' ends it with
// allow or deny, anything else is ignored. Prefixes stop growing at MaxDigits.
func parseSpec(spec string) []Rule {
	var rules []Rule
	var p []byte
	for i := 0; i < len(spec); i++ {
		switch c := spec[i]; {
		case c >= '0' && c <= '9' && len(p) < MaxDigits:
			p = append(p, c)
		case c == 'a':
			rules, p = append(rules, allow(string(p))), p[:0]
		case c == 'd':
			rules, p = append(rules, deny(string(p))), p[:0]
		}
	}
	return rules
}

func hasConflict(rules []Rule) bool {
	seen := map[string]Action{}
	for _, r := range rules {
		if a, ok := seen[r.Prefix]; ok && a != r.Action {
			return true
		}
		seen[r.Prefix] = r.Action
	}
	return false
}

// naiveDecide is the definition: of the rules whose prefix starts the number, the longest.
func naiveDecide(rules []Rule, number string) Decision {
	if number == "" || len(number) > MaxDigits || strings.Trim(number, "0123456789") != "" {
		return Decision{}
	}
	var d Decision
	for _, r := range rules {
		if strings.HasPrefix(number, r.Prefix) && (!d.Matched || len(r.Prefix) > len(d.Rule.Prefix)) {
			d = Decision{Allowed: r.Action == ActionAllow, Matched: true, Rule: r}
		}
	}
	return d
}

// Compile sizes the trie exactly, so a rule set holds no spare capacity.
func TestCompileSizesTrie(t *testing.T) {
	rs, err := Compile([]Rule{allow(""), allow("7"), deny("7809"), allow("78095"), allow("44"), deny("4")})
	if err != nil {
		t.Fatal(err)
	}
	// root, 4, 44, 7, 78, 780, 7809, 78095
	if got, want := len(rs.nodes), 8; got != want {
		t.Errorf("nodes: got %d, want %d", got, want)
	}
	if got, want := cap(rs.nodes), len(rs.nodes); got != want {
		t.Errorf("capacity: got %d, want %d", got, want)
	}
}
