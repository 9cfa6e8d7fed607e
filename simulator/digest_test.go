package simulator

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

func TestAuthenticatorVerify(t *testing.T) {
	const callID = "call-1"
	uri := "sip:15550100407@127.0.0.1:5070"
	issued := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	// sign answers a challenge the way a caller would.
	sign := func(chal string, user, pass, uri string, qop bool) string {
		c, err := digest.ParseChallenge(chal)
		if err != nil {
			t.Fatalf("ParseChallenge: %v", err)
		}
		if qop {
			c.QOP = []string{"auth"}
		}
		cred, err := digest.Digest(c, digest.Options{Method: "INVITE", URI: uri, Username: user, Password: pass})
		if err != nil {
			t.Fatalf("Digest: %v", err)
		}
		return cred.String()
	}
	tests := []struct {
		name       string
		challenged bool                // the Call-ID was challenged before
		header     func(string) string // Proxy-Authorization from the challenge; nil: none
		later      time.Duration       // time between challenge and verify
		want       authVerdict
	}{
		{name: "first attempt", want: authMissing},
		{name: "retry without credentials", challenged: true, want: authFailed},
		{name: "valid", challenged: true, header: func(c string) string { return sign(c, "demo", "pw", uri, false) }, want: authOK},
		{name: "valid with qop auth", challenged: true, header: func(c string) string { return sign(c, "demo", "pw", uri, true) }, want: authOK},
		{name: "wrong password", challenged: true, header: func(c string) string { return sign(c, "demo", "nope", uri, false) }, want: authFailed},
		{name: "wrong user", challenged: true, header: func(c string) string { return sign(c, "eve", "pw", uri, false) }, want: authFailed},
		{name: "other number", challenged: true, header: func(c string) string { return sign(c, "demo", "pw", "sip:15550100201@127.0.0.1:5070", false) }, want: authFailed},
		{name: "expired nonce", challenged: true, later: nonceTTL + time.Second, header: func(c string) string { return sign(c, "demo", "pw", uri, false) }, want: authFailed},
		{name: "forged nonce", challenged: true, header: func(string) string {
			return sign(`Digest realm="demo", nonce="000000000000000000000000000000000000000000000000", algorithm=MD5`, "demo", "pw", uri, false)
		}, want: authFailed},
		{name: "not digest", challenged: true, header: func(string) string { return "Basic ZGVtbzpwdw==" }, want: authFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuthenticator("demo", "pw")
			now := issued
			a.now = func() time.Time { return now }
			chal := a.challenge("some-other-call")
			if tc.challenged {
				chal = a.challenge(callID)
			}
			now = now.Add(tc.later)

			var parsed sip.Uri
			if err := sip.ParseUri(uri, &parsed); err != nil {
				t.Fatalf("ParseUri: %v", err)
			}
			req := sip.NewRequest(sip.INVITE, parsed)
			cid := sip.CallIDHeader(callID)
			req.AppendHeader(&cid)
			if tc.header != nil {
				req.AppendHeader(sip.NewHeader("Proxy-Authorization", tc.header(chal)))
			}
			if got := a.verify(req); got != tc.want {
				t.Errorf("verify: got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestProxyAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		user, pass string
		wantCodes  []int
		wantStatus int // 0: answered
	}{
		{name: "valid credentials", user: "demo", pass: "demo", wantCodes: []int{407, 100, 180, 200}},
		{name: "wrong password", user: "demo", pass: "nope", wantCodes: []int{407, 403}, wantStatus: 403},
		{name: "wrong user", user: "mallory", pass: "demo", wantCodes: []int{407, 403}, wantStatus: 403},
		{name: "no credentials", wantCodes: []int{407}, wantStatus: 407},
	}
	g, _ := startGateway(t, testConfig())
	u := newUAC(t, "udp")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
			defer cancel()
			out := u.dial(ctx, g.Addr(), "15550100407", dialOpts{user: tc.user, pass: tc.pass})
			if !slices.Equal(out.codes, tc.wantCodes) {
				t.Errorf("responses: got %v, want %v", out.codes, tc.wantCodes)
			}
			if tc.wantStatus == 0 {
				if out.err != nil {
					t.Fatalf("WaitAnswer: got %v, want nil", out.err)
				}
				if err := out.dlg.Ack(ctx); err != nil {
					t.Fatalf("Ack: got %v, want nil", err)
				}
				if err := out.dlg.Bye(ctx); err != nil {
					t.Errorf("Bye: got %v, want nil", err)
				}
				return
			}
			rej, ok := errors.AsType[*sipgo.ErrDialogResponse](out.err)
			if !ok || rej.Res.StatusCode != tc.wantStatus {
				t.Errorf("WaitAnswer: got %v, want final %d", out.err, tc.wantStatus)
			}
		})
	}
}

// A retry of a challenged call that still has no credentials is refused, not re-challenged.
func TestProxyAuthRetryWithoutCredentials(t *testing.T) {
	t.Parallel()
	g, _ := startGateway(t, testConfig())
	u := newUAC(t, "udp")
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()

	first := sip.NewRequest(sip.INVITE, u.uri("15550100407", g.Addr()))
	first.AppendHeader(&u.dua.ContactHDR)
	res, err := u.cli.Do(ctx, first)
	if err != nil || res.StatusCode != 407 {
		t.Fatalf("first INVITE: got %v %v, want 407", res, err)
	}
	retry := first.Clone()
	retry.RemoveHeader("Via") // a new transaction
	retry.CSeq().SeqNo++
	res, err = u.cli.Do(ctx, retry)
	if err != nil || res.StatusCode != 403 {
		t.Errorf("retry: got %v %v, want 403", res, err)
	}
}
