package sipengine

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func sipHeader(name, value string) sip.Header { return sip.NewHeader(name, value) }

func TestCheckHeader(t *testing.T) {
	tests := []struct {
		name, header, value string
		ok                  bool
	}{
		{name: "x header", header: "X-Campaign", value: "spring 2026", ok: true},
		{name: "lower-case prefix", header: "x-agent", value: "42", ok: true},
		{name: "not an X- header", header: "Route", value: "<sip:evil>", ok: false},
		{name: "bare prefix", header: "X-", value: "v", ok: false},
		{name: "colon in name", header: "X-A:B", value: "v", ok: false},
		{name: "CRLF injection", header: "X-A", value: "v\r\nBYE sip:x SIP/2.0", ok: false},
		{name: "lone LF", header: "X-A", value: "v\nVia: x", ok: false},
		{name: "NUL", header: "X-A", value: "v\x00", ok: false},
		{name: "too long", header: "X-A", value: strings.Repeat("a", MaxHeaderValue+1), ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckHeader(tc.header, tc.value)
			if got := err == nil; got != tc.ok {
				t.Errorf("CheckHeader(%q, %q) = %v, want ok=%v", tc.header, tc.value, err, tc.ok)
			}
		})
	}
}

func FuzzCheckHeader(f *testing.F) {
	f.Add("X-Tenant", "acme")
	f.Add("X-A", "b\r\nc")
	f.Fuzz(func(t *testing.T, name, value string) {
		if CheckHeader(name, value) != nil {
			return
		}
		// Whatever passes must serialise as exactly one header line.
		line := sip.NewHeader(name, value).String()
		if strings.ContainsAny(line, "\r\n\x00") {
			t.Fatalf("accepted header breaks the message: %q", line)
		}
	})
}
