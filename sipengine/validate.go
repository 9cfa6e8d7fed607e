package sipengine

import (
	"errors"
	"fmt"
	"strings"
)

// Limits on what a caller may put into an INVITE. They keep a UDP INVITE under the MTU limit
// sipgo enforces (1300 bytes of headers and body) only together with a modest SDP; larger
// messages need TCP.
const (
	MaxNumberDigits = 20
	MaxHeaders      = 16
	MaxHeaderValue  = 256
	MaxSDPBytes     = 8 << 10
)

// ErrInvalid is returned (wrapped) for a DialRequest that could not be sent safely.
var ErrInvalid = errors.New("sipengine: invalid request")

// CheckHeader reports whether name and value may be added to an INVITE: names must start with
// "X-" and be tokens of letters, digits and dashes; values must be printable (no CR, LF or
// other control characters, which would let a caller inject headers).
func CheckHeader(name, value string) error {
	if len(name) < 3 || !strings.EqualFold(name[:2], "X-") {
		return fmt.Errorf("header name %q: only X- headers are allowed", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isAlnum(c) && c != '-' {
			return fmt.Errorf("header name %q: only letters, digits and '-' are allowed", name)
		}
	}
	if len(value) > MaxHeaderValue {
		return fmt.Errorf("header %s: value longer than %d bytes", name, MaxHeaderValue)
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("header %s: value has a control character", name)
		}
	}
	return nil
}

// CheckSDP reports whether an SDP offer may be sent as an INVITE body: bounded in size, with
// nothing that could end the message early or smuggle a second one (NUL bytes).
func CheckSDP(sdp string) error {
	if len(sdp) > MaxSDPBytes {
		return fmt.Errorf("sdp longer than %d bytes", MaxSDPBytes)
	}
	if !strings.HasPrefix(sdp, "v=0") {
		return errors.New(`sdp must start with "v=0"`)
	}
	if strings.IndexByte(sdp, 0) >= 0 {
		return errors.New("sdp has a NUL byte")
	}
	return nil
}

// validNumber reports whether s is a normalised number: 1 to MaxNumberDigits ASCII digits.
func validNumber(s string) bool {
	if len(s) == 0 || len(s) > MaxNumberDigits {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validHost accepts host names and IPv4 literals: letters, digits, dots and dashes.
func validHost(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
