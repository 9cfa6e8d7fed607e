package simulator

import "fmt"

// Behaviour is one row of the number table: what the gateway does when the dialled number
// ends in Suffix.
type Behaviour struct {
	// Suffix is the last three digits of the dialled number, or "*" for every other number.
	Suffix string
	// Description is a one-line account of the responses and requests the gateway sends.
	Description string
}

// action is the shape of a script; the details (codes, causes) live in script.
type action int

const (
	actAnswerThenBye    action = iota // answer, then hang up after TalkTime
	actAnswer                         // answer and wait for the caller's BYE
	actRing                           // ring until CANCEL
	actReject                         // fail with a final 4xx-6xx
	actChallenge                      // 407 first, then as actAnswer
	actSilent                         // never respond
	actManyProvisionals               // a burst of 18x, then as actAnswer
)

// script is a Behaviour plus what the gateway needs to play it.
type script struct {
	Behaviour
	action   action
	progress int    // 180 or 183 sent after RingDelay, 0 for none
	status   int    // final status for actReject
	reason   string // its reason phrase
	cause    int    // Q.850 cause for the Reason header of actReject
}

// manyProvisionals is how many 18x the "999" script sends: more than sipgo's WaitAnswer
// accepts in one call (sipgo-notes P1), so callers must loop.
const manyProvisionals = 12

// scripts is read-only; the last row is the fallback for numbers no other row matches.
var scripts = []script{
	{Behaviour: Behaviour{"200", "100, 180, 200 OK with SDP; after TalkTime the gateway sends BYE (Reason Q.850 cause 16) and expects 200"}, action: actAnswerThenBye, progress: 180},
	{Behaviour: Behaviour{"201", "100, 180, 200 OK with SDP; stays up until the caller sends BYE"}, action: actAnswer, progress: 180},
	{Behaviour: Behaviour{"180", "100, 180 Ringing, then rings until CANCEL (200 to the CANCEL, 487 to the INVITE)"}, action: actRing, progress: 180},
	{Behaviour: Behaviour{"183", "100, 183 Session Progress with SDP (early media), then rings until CANCEL (487)"}, action: actRing, progress: 183},
	reject("486", 180, 486, "Busy Here", 17),
	reject("404", 0, 404, "Not Found", 1),
	reject("403", 0, 403, "Forbidden", 21),
	reject("480", 180, 480, "Temporarily Unavailable", 18),
	reject("503", 0, 503, "Service Unavailable", 34),
	reject("603", 0, 603, "Decline", 21),
	{Behaviour: Behaviour{"407", `407 Proxy Authentication Required (Digest, realm "demo", MD5); a retry with valid credentials then plays 201, a wrong or missing one gets 403`}, action: actChallenge, progress: 180},
	{Behaviour: Behaviour{"000", "silence: never responds to the INVITE, its retransmissions or a CANCEL"}, action: actSilent},
	{Behaviour: Behaviour{"999", fmt.Sprintf("100, %d alternating 180/183 (183 with SDP) 50ms apart, 200 OK with SDP, then as 201", manyProvisionals)}, action: actManyProvisionals},
	{Behaviour: Behaviour{"*", "any other number: as 200"}, action: actAnswerThenBye, progress: 180},
}

func reject(suffix string, progress, status int, reason string, cause int) script {
	desc := fmt.Sprintf("100, then %d %s (Reason Q.850 cause %d)", status, reason, cause)
	if progress != 0 {
		desc = fmt.Sprintf("100, %d, then %d %s (Reason Q.850 cause %d)", progress, status, reason, cause)
	}
	return script{
		Behaviour: Behaviour{suffix, desc},
		action:    actReject, progress: progress, status: status, reason: reason, cause: cause,
	}
}

// Behaviours returns the number table in a fixed order, the fallback row ("*") last. The
// slice is a copy; callers may keep or change it.
func Behaviours() []Behaviour {
	out := make([]Behaviour, len(scripts))
	for i, s := range scripts {
		out[i] = s.Behaviour
	}
	return out
}

// scriptFor picks the script for a Request-URI user part. Only digits count, so "+1 555…"
// and visual separators do not matter; a number with fewer than three digits gets the
// fallback.
func scriptFor(user string) script {
	var last [3]byte
	n := 0
	for i := len(user) - 1; i >= 0 && n < 3; i-- {
		if c := user[i]; c >= '0' && c <= '9' {
			n++
			last[3-n] = c
		}
	}
	if n == 3 {
		for _, s := range scripts {
			if s.Suffix == string(last[:]) {
				return s
			}
		}
	}
	return scripts[len(scripts)-1]
}

// q850Text is the ITU-T Q.850 name of each cause the scripts use.
var q850Text = map[int]string{
	1:  "Unallocated (unassigned) number",
	16: "Normal call clearing",
	17: "User busy",
	18: "No user responding",
	21: "Call rejected",
	34: "No circuit/channel available",
}

// reasonValue is an RFC 3326 Reason header value for a Q.850 cause.
func reasonValue(cause int) string {
	return fmt.Sprintf("Q.850;cause=%d;text=\"%s\"", cause, q850Text[cause])
}
