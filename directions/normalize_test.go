package directions

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name    string
		number  string
		want    string
		wantErr string // "" = valid
	}{
		{name: "digits", number: "79161234567", want: "79161234567"},
		{name: "E.164", number: "+7 (916) 123-45.67", want: "79161234567"},
		{name: "plus in the middle", number: "7+9", want: "79"},
		{name: "one digit", number: "0", want: "0"},
		{name: "twenty digits", number: strings.Repeat("1", 20), want: strings.Repeat("1", 20)},
		{name: "twenty digits among separators", number: "+" + strings.Repeat("1-", 20), want: strings.Repeat("1", 20)},
		{name: "twenty-one digits", number: strings.Repeat("1", 21), wantErr: "more than 20 digits"},
		{name: "empty", number: "", wantErr: "no digits"},
		{name: "separators only", number: "+ ( ) - .", wantErr: "no digits"},
		{name: "letter", number: "+7916CALLME", wantErr: `'C' at byte 6`},
		{name: "tab", number: "7\t9", wantErr: `'\t' at byte 2`},
		{name: "star", number: "*67", wantErr: `'*' at byte 1`},
		{name: "hash", number: "7#", wantErr: `'#' at byte 2`},
		{name: "slash", number: "7/9", wantErr: "not a digit"},
		{name: "Arabic-Indic digit", number: "7٩", wantErr: "non-ASCII character at byte 2"},
		{name: "fullwidth plus", number: "＋79", wantErr: "non-ASCII"},
		{name: "NUL", number: "7\x009", wantErr: "not a digit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Normalize(tc.number)
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Errorf("Normalize(%q): got %q, %v, want %q", tc.number, got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, ErrInvalidNumber) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Normalize(%q): got %q, %v, want ErrInvalidNumber saying %q", tc.number, got, err, tc.wantErr)
			}
		})
	}
}

// The message may be logged, so it must not carry the number.
func TestNormalizeErrorHidesNumber(t *testing.T) {
	const number = "+7 916 123 45 6x"
	_, err := Normalize(number)
	if err == nil || strings.Contains(err.Error(), "916") {
		t.Errorf("Normalize(%q): got %v, want an error without the number", number, err)
	}
}

func TestNormalizeNormalisedDoesNotAllocate(t *testing.T) {
	if got := testing.AllocsPerRun(100, func() { _, _ = Normalize("79161234567") }); got != 0 {
		t.Errorf("allocations: got %v, want 0", got)
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"", "+7 (916) 123-45-67", "79161234567", "7٩", strings.Repeat("1", 21), "*67", "+-.()"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, number string) {
		got, err := Normalize(number)
		want := naiveNormalize(number)
		if err != nil {
			if !errors.Is(err, ErrInvalidNumber) {
				t.Fatalf("Normalize(%q): got %v, want an error wrapping ErrInvalidNumber", number, err)
			}
			if want != "" {
				t.Fatalf("Normalize(%q): got %v, want %q", number, err, want)
			}
			return
		}
		if got != want {
			t.Fatalf("Normalize(%q): got %q, want %q", number, got, want)
		}
		if again, err := Normalize(got); again != got || err != nil {
			t.Fatalf("Normalize(%q) of its own result: got %q, %v, want it unchanged", got, again, err)
		}
	})
}

// naiveNormalize is the definition, written the obvious way: "" means invalid.
func naiveNormalize(number string) string {
	var b strings.Builder
	for _, r := range number {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case strings.ContainsRune("+ -.()", r):
		default:
			return ""
		}
	}
	if b.Len() > MaxDigits {
		return ""
	}
	return b.String()
}
