package tracker

import (
	"strings"
	"testing"
)

func TestExplain(t *testing.T) {
	tests := []struct {
		name       string
		code       int
		wantPhrase string
	}{
		{name: "no response", code: 0, wantPhrase: "No response"},
		{name: "trying", code: 100, wantPhrase: "Trying"},
		{name: "ringing", code: 180, wantPhrase: "Ringing"},
		{name: "session progress", code: 183, wantPhrase: "Session Progress"},
		{name: "unknown 1xx", code: 155, wantPhrase: "Provisional"},
		{name: "ok", code: 200, wantPhrase: "OK"},
		{name: "other 2xx", code: 202, wantPhrase: "Success"},
		{name: "known 3xx", code: 302, wantPhrase: "Moved Temporarily"},
		{name: "other 3xx", code: 399, wantPhrase: "Redirection"},
		{name: "forbidden", code: 403, wantPhrase: "Forbidden"},
		{name: "not found", code: 404, wantPhrase: "Not Found"},
		{name: "busy", code: 486, wantPhrase: "Busy Here"},
		{name: "unknown 4xx", code: 499, wantPhrase: "Client Error"},
		{name: "unavailable", code: 503, wantPhrase: "Service Unavailable"},
		{name: "unknown 5xx", code: 599, wantPhrase: "Server Error"},
		{name: "decline", code: 603, wantPhrase: "Decline"},
		{name: "unknown 6xx", code: 699, wantPhrase: "Global Failure"},
		{name: "direction blocked", code: 900, wantPhrase: "Direction blocked"},
		{name: "gateway down", code: 903, wantPhrase: "Gateway down"},
		{name: "other of ours", code: 950, wantPhrase: "Rejected by us"},
		{name: "last of ours", code: 999, wantPhrase: "Rejected by us"},
		{name: "no class", code: 750, wantPhrase: "Unknown"},
		{name: "two digits", code: 42, wantPhrase: "Unknown"},
		{name: "negative", code: -1, wantPhrase: "Unknown"},
		{name: "four digits", code: 1000, wantPhrase: "Unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Explain(tc.code)
			if got.Code != tc.code || got.Phrase != tc.wantPhrase {
				t.Errorf("got %v %q, want %v %q", got.Code, got.Phrase, tc.code, tc.wantPhrase)
			}
			if got.Meaning == "" || got.Practice == "" {
				t.Errorf("got meaning %q, practice %q, want both", got.Meaning, got.Practice)
			}
		})
	}
}

func TestExplainPractice(t *testing.T) {
	tests := []struct {
		name string
		code int
		want string // a phrase the practical text must hold
	}{
		{name: "18x is no answer", code: 180, want: "No answer: the callee was alerted but nobody picked up"},
		{name: "183 is no answer too", code: 183, want: "No answer"},
		{name: "404 is a wrong number", code: 404, want: "does not exist at the provider"},
		{name: "403 is the provider refusing", code: 403, want: "caller ID"},
		{name: "503 is overload or no route", code: 503, want: "no route"},
		{name: "900 is ours: add the prefix", code: 900, want: "add the number's prefix to the gateway's directions"},
		{name: "0 is silence", code: 0, want: "never answered"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Explain(tc.code).Practice; !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want it to contain %q", got, tc.want)
			}
		})
	}
}

// TestCodesTable checks the table itself: every code the report promises has an entry of its
// own, entries are in code order (a class entry before the code that opens its hundred), none
// is repeated, and none has an empty text.
func TestCodesTable(t *testing.T) {
	required := []int{0, 100, 180, 181, 182, 183, 200, 300, 302, 400, 401, 402, 403, 404, 405, 407,
		408, 410, 413, 414, 415, 416, 420, 421, 423, 480, 481, 482, 483, 484, 485, 486, 487, 488,
		491, 493, 500, 501, 502, 503, 504, 505, 513, 580, 600, 603, 604, 606, 900, 901, 902, 903}
	own := map[int]bool{}
	for i, r := range codeTable {
		t.Run(r.phrase, func(t *testing.T) {
			if r.phrase == "" || r.meaning == "" || r.practice == "" {
				t.Errorf("got an empty text in %+v, want all three", r)
			}
			if !strings.HasSuffix(r.meaning, ".") || !strings.HasSuffix(r.practice, ".") {
				t.Errorf("got texts %q / %q, want sentences", r.meaning, r.practice)
			}
			if i > 0 {
				p := codeTable[i-1]
				if p.code > r.code || (p.code == r.code && (!p.class || r.class)) {
					t.Errorf("got %d (class %v) after %d (class %v), want code order, class first", r.code, r.class, p.code, p.class)
				}
			}
			if r.class && r.code%100 != 0 {
				t.Errorf("got class entry %d, want a multiple of 100", r.code)
			}
		})
		if !r.class {
			own[r.code] = true
		}
	}
	for _, code := range required {
		if !own[code] {
			t.Errorf("got no entry of its own for %d, want one", code)
		}
	}
}

func BenchmarkExplain(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Explain(606)
	}
}
