package directions

import (
	"errors"
	"strings"
	"testing"
)

func TestAction(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    Action
		wantErr bool
	}{
		{name: "allow", text: "allow", want: ActionAllow},
		{name: "deny", text: "deny", want: ActionDeny},
		{name: "capitalised", text: "Allow", wantErr: true},
		{name: "empty", text: "", wantErr: true},
		{name: "number", text: "1", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAction(tc.text)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidRule) {
					t.Fatalf("ParseAction(%q): got %v, %v, want an error wrapping ErrInvalidRule", tc.text, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseAction(%q): got %v, %v, want %v", tc.text, got, err, tc.want)
			}
			if got := got.String(); got != tc.text {
				t.Errorf("String: got %q, want %q", got, tc.text)
			}
			b, err := got.MarshalText()
			var back Action
			if err == nil {
				err = back.UnmarshalText(b)
			}
			if err != nil || back != tc.want {
				t.Errorf("text round trip: got %v, %v, want %v", back, err, tc.want)
			}
		})
	}
	if _, err := Action(0).MarshalText(); !errors.Is(err, ErrInvalidRule) {
		t.Errorf("MarshalText of the zero Action: got %v, want ErrInvalidRule", err)
	}
	if got, want := Action(7).String(), "Action(7)"; got != want {
		t.Errorf("String: got %q, want %q", got, want)
	}
}

func TestRuleValidate(t *testing.T) {
	tests := []struct {
		name    string
		rule    Rule
		wantErr string // "" = valid
	}{
		{name: "country", rule: Rule{Prefix: "7", Action: ActionAllow}},
		{name: "empty prefix matches all", rule: Rule{Prefix: "", Action: ActionDeny}},
		{name: "twenty digits", rule: Rule{Prefix: strings.Repeat("9", 20), Action: ActionAllow}},
		{name: "twenty-one digits", rule: Rule{Prefix: strings.Repeat("9", 21), Action: ActionAllow}, wantErr: "at most 20"},
		{name: "plus is not normalised away", rule: Rule{Prefix: "+7", Action: ActionAllow}, wantErr: "not a digit"},
		{name: "space", rule: Rule{Prefix: "7 9", Action: ActionAllow}, wantErr: "not a digit"},
		{name: "non-ASCII digit", rule: Rule{Prefix: "٧", Action: ActionAllow}, wantErr: "not a digit"},
		{name: "no action", rule: Rule{Prefix: "7"}, wantErr: "want allow or deny"},
		{name: "unknown action", rule: Rule{Prefix: "7", Action: 3}, wantErr: "want allow or deny"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.rule.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("Validate(%+v): got %v, want nil", tc.rule, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidRule) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Validate(%+v): got %v, want ErrInvalidRule saying %q", tc.rule, err, tc.wantErr)
			}
		})
	}
}
