package simulator

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

const (
	authRealm = "demo"
	// nonceTTL bounds replay of a captured Proxy-Authorization; a caller retries within
	// milliseconds, so minutes are plenty.
	nonceTTL = 5 * time.Minute
	// challengeMemory is how long a challenged Call-ID is remembered, so that a retry
	// without credentials can be told from a first attempt: 64*T1, the INVITE lifetime.
	challengeMemory = 32 * time.Second
)

// authVerdict is what a request's Proxy-Authorization is worth.
type authVerdict int

const (
	authMissing authVerdict = iota // no credentials on a first attempt: challenge
	authOK                         // valid credentials: proceed
	authFailed                     // wrong, stale or forged, or missing on a retry: 403
)

// authenticator issues and checks RFC 2617 Digest (MD5) challenges for one user. Nonces
// are stateless (a timestamp sealed with an HMAC), so nothing needs sweeping; only the
// Call-IDs it has challenged are remembered, pruned as new ones arrive. Safe for
// concurrent use.
type authenticator struct {
	user, pass string
	key        [32]byte
	now        func() time.Time

	mu         sync.Mutex
	challenged map[string]time.Time // Call-ID → when it was challenged
}

func newAuthenticator(user, pass string) *authenticator {
	a := &authenticator{user: user, pass: pass, now: time.Now, challenged: map[string]time.Time{}}
	_, _ = rand.Read(a.key[:]) // crypto/rand.Read never fails (Go 1.24+)
	return a
}

// challenge returns a Proxy-Authenticate value for the call and remembers the call.
func (a *authenticator) challenge(callID string) string {
	now := a.now()
	a.mu.Lock()
	for id, at := range a.challenged {
		if now.Sub(at) > challengeMemory {
			delete(a.challenged, id)
		}
	}
	a.challenged[callID] = now
	a.mu.Unlock()
	chal := digest.Challenge{Realm: authRealm, Nonce: a.nonce(now), Algorithm: "MD5"}
	return chal.String()
}

// verify checks the Proxy-Authorization of req against the user, the password, a nonce we
// issued and the Request-URI's user.
func (a *authenticator) verify(req *sip.Request) authVerdict {
	h := req.GetHeader("Proxy-Authorization")
	if h == nil {
		if a.wasChallenged(req) {
			return authFailed
		}
		return authMissing
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil || cred.Username != a.user || cred.Realm != authRealm || !a.nonceValid(cred.Nonce) {
		return authFailed
	}
	if alg := strings.ToUpper(cred.Algorithm); alg != "" && alg != "MD5" {
		return authFailed
	}
	var uri sip.Uri
	if err := sip.ParseUri(cred.URI, &uri); err != nil || uri.User != req.Recipient.User {
		// Credentials computed for another number must not place this call.
		return authFailed
	}
	chal := &digest.Challenge{Realm: authRealm, Nonce: cred.Nonce, Algorithm: cred.Algorithm}
	switch cred.QOP {
	case "":
	case "auth":
		chal.QOP = []string{"auth"}
	default:
		return authFailed
	}
	want, err := digest.Digest(chal, digest.Options{
		Method: req.Method.String(), URI: cred.URI,
		Username: a.user, Password: a.pass,
		Cnonce: cred.Cnonce, Count: cred.Nc,
	})
	if err != nil || subtle.ConstantTimeCompare([]byte(want.Response), []byte(strings.ToLower(cred.Response))) != 1 {
		return authFailed
	}
	return authOK
}

func (a *authenticator) wasChallenged(req *sip.Request) bool {
	cid := req.CallID()
	if cid == nil {
		return false
	}
	a.mu.Lock()
	at, ok := a.challenged[cid.Value()]
	a.mu.Unlock()
	return ok && a.now().Sub(at) <= challengeMemory
}

// nonce is hex(issue time in Unix ns) followed by hex(HMAC-SHA256 of it, 16 bytes).
func (a *authenticator) nonce(at time.Time) string {
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(at.UnixNano()))
	return hex.EncodeToString(ts[:]) + hex.EncodeToString(a.seal(ts[:]))
}

func (a *authenticator) nonceValid(n string) bool {
	raw, err := hex.DecodeString(n)
	if err != nil || len(raw) != 8+16 {
		return false
	}
	if !hmac.Equal(raw[8:], a.seal(raw[:8])) {
		return false
	}
	age := a.now().Sub(time.Unix(0, int64(binary.BigEndian.Uint64(raw[:8]))))
	return age >= 0 && age <= nonceTTL
}

func (a *authenticator) seal(ts []byte) []byte {
	m := hmac.New(sha256.New, a.key[:])
	m.Write(ts)
	return m.Sum(nil)[:16]
}
