package server

import "testing"

func TestNormalizeNumber(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{name: "e164", in: "+7 (495) 123-45.67", want: "74951234567", ok: true},
		{name: "plain", in: "15550100200", want: "15550100200", ok: true},
		{name: "letters", in: "1555ABC", ok: false},
		{name: "sip uri", in: "sip:1@evil", ok: false},
		{name: "crlf", in: "1555\r\nX-A: b", ok: false},
		{name: "empty", in: "", ok: false},
		{name: "punctuation only", in: "+()", ok: false},
		{name: "21 digits", in: "123456789012345678901", ok: false},
		{name: "20 digits", in: "12345678901234567890", want: "12345678901234567890", ok: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := normalizeNumber("to", tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("normalizeNumber(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func FuzzNormalizeNumber(f *testing.F) {
	f.Add("+1 (555) 010-0200")
	f.Fuzz(func(t *testing.T, in string) {
		n, err := normalizeNumber("to", in)
		if err != nil {
			return
		}
		if len(n) == 0 || len(n) > 20 {
			t.Fatalf("normalizeNumber(%q) = %q: length out of range", in, n)
		}
		for _, c := range n {
			if c < '0' || c > '9' {
				t.Fatalf("normalizeNumber(%q) = %q: not digits only", in, n)
			}
		}
	})
}
