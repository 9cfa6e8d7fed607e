package tracker

import "github.com/ccplane/telephony"

// CodeInfo explains a last SIP response code to an operator.
type CodeInfo struct {
	Code int
	// Phrase is the standard reason phrase (RFC 3261 or the RFC that defined the code), ours
	// for 9XX, or the name of the class for a code without an entry of its own.
	Phrase string
	// Meaning is what the standard means by the code.
	Meaning string
	// Practice is what the code usually means for an outbound call through a provider, and
	// what to do about it.
	Practice string
}

// Explain returns what a last response code means. A code without an entry of its own is
// explained by its class (1xx provisional, 4xx client error, 9xx ours…); a value that is no
// SIP code and none of ours gets the "Unknown" entry. It is safe for concurrent use.
func Explain(code int) CodeInfo {
	class := code / 100 * 100
	if code < 100 || code > 999 {
		class = -1 // 0 has its own entry; any other value has no class
	}
	var fallback *codeRow
	for i := range codeTable {
		r := &codeTable[i]
		switch {
		case !r.class && r.code == code:
			return r.info(code)
		case r.class && r.code == class:
			fallback = r
		}
	}
	if fallback == nil {
		fallback = &unknownCode
	}
	return fallback.info(code)
}

// codeRow is one entry of codeTable.
// A class entry explains the codes of its hundred that have no entry of their own.
type codeRow struct {
	code                      int
	class                     bool
	phrase, meaning, practice string
}

func (r *codeRow) info(code int) CodeInfo {
	return CodeInfo{Code: code, Phrase: r.phrase, Meaning: r.meaning, Practice: r.practice}
}

const (
	noAnswerPractice = "No answer: the callee was alerted but nobody picked up before our ring " +
		"timeout or hang-up. Normal in small numbers; a large share suggests a ring timeout that " +
		"is too short or calls at the wrong time of day."
	redirectMeaning  = "The callee is to be reached at another address, given in the response."
	redirectPractice = "We do not follow redirections, so the call ends here. On a trunk a " +
		"redirection usually means a routing mistake: ask the provider to route the call itself."
	authPractice = "As the last response it means our credentials were refused even after the " +
		"retry with them: check the gateway's username, password and realm, and that the account is active."
	busyPractice = "Busy: the callee is on another call or pressed reject. It is a verdict from " +
		"the callee side (it counts for NER); try again later."
)

var unknownCode = codeRow{code: -1, phrase: "Unknown",
	meaning:  "Neither a SIP status code nor one of this service's own codes.",
	practice: "Look at the call's SIP trace: a value outside 100-699 and 900-999 means the record is wrong."}

// codeTable holds the explanation of every code the report knows, in code order. Phrases are
// those of the RFCs; meanings and practice are this project's own words.
var codeTable = [...]codeRow{
	{code: 0, phrase: "No response",
		meaning: "Our code, not a SIP status: no response at all arrived for the INVITE.",
		practice: "The provider never answered: the INVITE could not be sent (transport error) or " +
			"was lost or ignored until our setup timer fired. Check the gateway's address, port, " +
			"transport and firewall, and that the provider knows our signalling IP."},
	{code: 100, class: true, phrase: "Provisional",
		meaning:  "An informational response: the request is still being processed.",
		practice: "The call ended while the far side was still working on it (our hang-up or a timer); read it as no answer."},
	{code: 100, phrase: "Trying",
		meaning: "The next hop got the request and is working on it.",
		practice: "The provider took the INVITE but sent nothing more before we gave up: a slow or " +
			"stuck route on their side. If many calls stop here, send the provider sample Call-IDs and times."},
	{code: 180, phrase: "Ringing", meaning: "The callee's device is alerting the user.", practice: noAnswerPractice},
	{code: 181, phrase: "Call Is Being Forwarded",
		meaning: "The call is being forwarded to another destination.", practice: noAnswerPractice},
	{code: 182, phrase: "Queued",
		meaning: "The callee cannot take the call now, so it waits in a queue instead of being refused.",
		practice: "No answer: the call waited in a queue on the far side and nobody picked up before " +
			"our ring timeout or hang-up."},
	{code: 183, phrase: "Session Progress",
		meaning: "Progress information on the call, usually with early media (ringback or an announcement).",
		practice: "No answer: the callee was alerted but nobody picked up before our ring timeout or " +
			"hang-up. Some networks play a \"not reachable\" announcement in early media instead of an " +
			"error; if answers are rare, record the early media and listen."},
	{code: 199, phrase: "Early Dialog Terminated",
		meaning:  "One early dialog of a forked call ended before the final response (RFC 6228).",
		practice: "Last only when we gave up just after it: read it as a 18x without answer."},
	{code: 200, class: true, phrase: "Success",
		meaning: "The request succeeded.", practice: "Answered; every 2xx is counted as 200."},
	{code: 200, phrase: "OK",
		meaning: "The request succeeded; for an INVITE, the callee answered.",
		practice: "Connected. Many answered calls with almost no talk time point at answers crossing " +
			"our CANCEL (the ring timeout is too tight) or callees hanging up at once."},
	{code: 300, class: true, phrase: "Redirection", meaning: redirectMeaning, practice: redirectPractice},
	{code: 300, phrase: "Multiple Choices", meaning: redirectMeaning, practice: redirectPractice},
	{code: 301, phrase: "Moved Permanently", meaning: redirectMeaning, practice: redirectPractice},
	{code: 302, phrase: "Moved Temporarily", meaning: redirectMeaning, practice: redirectPractice},
	{code: 305, phrase: "Use Proxy", meaning: "The callee must be reached through the proxy given in the response.",
		practice: redirectPractice},
	{code: 380, phrase: "Alternative Service", meaning: "The call failed, but other services are possible.",
		practice: redirectPractice},
	{code: 400, class: true, phrase: "Client Error",
		meaning: "The request cannot be fulfilled as it was sent.",
		practice: "The provider rejected the call for a reason tied to this request or callee; the " +
			"reason phrase and any Reason header say more. Take a SIP trace if it repeats."},
	{code: 400, phrase: "Bad Request",
		meaning: "The request is malformed.",
		practice: "The provider could not parse our INVITE, most often a number or header format it " +
			"does not accept. Compare a SIP trace with the provider's interconnection spec."},
	{code: 401, phrase: "Unauthorized", meaning: "The request needs user authentication.", practice: authPractice},
	{code: 402, phrase: "Payment Required",
		meaning:  "Reserved by the standard for future use.",
		practice: "Providers send it for money: our account is out of credit or this destination is not paid for. Top up or ask the provider."},
	{code: 403, phrase: "Forbidden",
		meaning: "The server understood the request and refuses it; authenticating will not help.",
		practice: "The provider refuses the call: check our account status and balance there, that " +
			"our caller ID is accepted, and that the destination (country, mobiles, premium) is " +
			"enabled for us at the provider."},
	{code: 404, phrase: "Not Found",
		meaning: "The user does not exist at the domain of the Request-URI.",
		practice: "The number does not exist at the provider (often Q.850 cause 1, unallocated number). " +
			"Check the number and its format (country code, leading 0 or +, the prefix the provider " +
			"expects); if known good numbers fail too, the provider's routing is wrong."},
	{code: 405, phrase: "Method Not Allowed",
		meaning: "The method is known but not allowed for this address.",
		practice: "The far end does not take INVITEs at that address: wrong gateway address or port, " +
			"or a device that only takes registrations. Check the gateway's URI."},
	{code: 407, phrase: "Proxy Authentication Required",
		meaning: "The client must first authenticate with the proxy.", practice: authPractice},
	{code: 408, phrase: "Request Timeout",
		meaning: "The server could not answer in time, for instance because the user could not be located.",
		practice: "Usually no answer or an unreachable handset, counted as a no-answer verdict. If it " +
			"comes quickly and often, the provider's own routing timed out: report sample calls."},
	{code: 410, phrase: "Gone",
		meaning: "The user existed but is no longer reachable there, and no new address is known.",
		practice: "The number was disconnected or changed (Q.850 cause 22): remove it from the " +
			"calling list or get the contact's new number."},
	{code: 413, phrase: "Request Entity Too Large",
		meaning: "The request body is larger than the server accepts.",
		practice: "Our INVITE (its SDP, mostly) is too large for the provider: offer fewer codecs or " +
			"attributes, or ask whether they want TCP for large messages."},
	{code: 414, phrase: "Request-URI Too Long",
		meaning:  "The Request-URI is longer than the server will interpret.",
		practice: "The dialled URI is too long: look for stray parameters or a prefix added twice."},
	{code: 415, phrase: "Unsupported Media Type",
		meaning:  "The server does not support the format of the request body.",
		practice: "The provider does not accept our SDP body or its encoding: check that the gateway is a SIP voice trunk."},
	{code: 416, phrase: "Unsupported URI Scheme",
		meaning:  "The server does not understand the scheme of the Request-URI.",
		practice: "The provider does not accept the URI form we send (sip:, sips: or tel:): change the gateway's scheme or transport."},
	{code: 420, phrase: "Bad Extension",
		meaning:  "An extension the request requires is not supported by the server.",
		practice: "We required an extension the provider lacks (session timers, 100rel): turn it off for this gateway."},
	{code: 421, phrase: "Extension Required",
		meaning:  "The server needs an extension the request did not offer.",
		practice: "The provider requires an extension (often 100rel or session timers) we did not offer: ask which one and enable it for this gateway."},
	{code: 422, phrase: "Session Interval Too Small",
		meaning:  "The session timer interval of the request is below the server's minimum (RFC 4028).",
		practice: "Raise the session interval we offer to at least the provider's Min-SE."},
	{code: 423, phrase: "Interval Too Brief",
		meaning:  "The expiration time asked for is too short.",
		practice: "Rare on calls: one of our timer values is below the provider's minimum; compare our timer headers with their spec."},
	{code: 428, phrase: "Use Identity Header",
		meaning:  "The server requires an Identity header (signed caller ID) that the request lacks (RFC 8224).",
		practice: "The provider wants attested caller ID (STIR/SHAKEN): enable signing for this trunk or ask the provider to sign for us."},
	{code: 433, phrase: "Anonymity Disallowed",
		meaning:  "The server refuses anonymous requests (RFC 5079).",
		practice: "The network or callee refuses calls with a hidden caller ID: send a presentable one."},
	{code: 438, phrase: "Invalid Identity Header",
		meaning:  "The signature of the Identity header could not be verified (RFC 8224).",
		practice: "Our caller ID attestation was refused: check the certificate and that the signed number is the From we send."},
	{code: 480, phrase: "Temporarily Unavailable",
		meaning: "The callee was reached but is not available now (not registered, do not disturb, no answer).",
		practice: "No answer or an unreachable subscriber (phone off, no coverage), counted as a " +
			"no-answer verdict; try again later. Some providers also send it when our channel " +
			"capacity with them is exceeded: see the gateway's meaning."},
	{code: 481, phrase: "Call/Transaction Does Not Exist",
		meaning: "The request matches no dialog or transaction the server knows.",
		practice: "We and the provider disagree on the call's state, mostly after a lost or late " +
			"message or a NAT rewriting addresses. If frequent, take SIP traces on both sides."},
	{code: 482, phrase: "Loop Detected",
		meaning:  "The request came back to a server it had already passed.",
		practice: "A routing loop at or behind the provider, sometimes through our own gateway settings: report the number and time to the provider."},
	{code: 483, phrase: "Too Many Hops",
		meaning:  "The request's Max-Forwards reached zero.",
		practice: "The call crossed too many hops, usually a loop between carriers: report sample Call-IDs to the provider."},
	{code: 484, phrase: "Address Incomplete",
		meaning:  "The Request-URI is incomplete.",
		practice: "The number is too short or badly formed for the provider (Q.850 cause 28): check the number format the gateway expects."},
	{code: 485, phrase: "Ambiguous",
		meaning:  "The Request-URI matches more than one destination.",
		practice: "Rare on trunks: the dialled address is not specific enough; send the full number."},
	{code: 486, phrase: "Busy Here",
		meaning: "The callee was reached but cannot take another call now.", practice: busyPractice},
	{code: 487, phrase: "Request Terminated",
		meaning: "The request was ended by a CANCEL or BYE before it completed.",
		practice: "The 487 answering our own CANCEL is never recorded; as the last response it means " +
			"the provider or a network element ended the call by itself: ask the provider why."},
	{code: 488, phrase: "Not Acceptable Here",
		meaning: "The session description cannot be accepted here (no common codec or media setting).",
		practice: "No codec or media setting in common with the provider: compare the codecs, " +
			"packet time and SRTP settings we offer with what the provider accepts."},
	{code: 491, phrase: "Request Pending",
		meaning:  "Another request of the same dialog is still pending.",
		practice: "Crossing re-INVITEs between us and the provider; rare on new calls, and when frequent a session-refresh timer problem."},
	{code: 493, phrase: "Undecipherable",
		meaning:  "The request carries an encrypted body the server cannot decrypt.",
		practice: "The provider cannot read an encrypted (S/MIME) body: do not encrypt bodies toward this gateway."},
	{code: 500, class: true, phrase: "Server Error",
		meaning:  "A server failed to fulfil an apparently valid request.",
		practice: "A failure at the provider or beyond: a retry may work; report repeated ones to the provider with Call-IDs."},
	{code: 500, phrase: "Server Internal Error",
		meaning:  "The server met an unexpected condition.",
		practice: "A failure inside the provider's platform: a retry may work; if it lasts, report sample Call-IDs and times."},
	{code: 501, phrase: "Not Implemented",
		meaning:  "The server does not support what the request needs, such as its method.",
		practice: "The far end cannot handle our INVITE: check that the gateway points at a SIP trunk that takes calls."},
	{code: 502, phrase: "Bad Gateway",
		meaning: "A gateway or proxy got an invalid response from a server further on.",
		practice: "The route beyond the provider is broken (often Q.850 cause 27, destination out of " +
			"order): report it, or send these calls through another gateway."},
	{code: 503, phrase: "Service Unavailable",
		meaning: "The server is overloaded or under maintenance for now.",
		practice: "The provider is overloaded, has no route for this destination, or we exceed the " +
			"channels or calls per second agreed with them. Check our concurrency and CPS limits " +
			"against the contract, and ask the provider about their routing."},
	{code: 504, phrase: "Server Time-out",
		meaning:  "The server did not get a timely answer from a server it asked.",
		practice: "The provider's onward carrier did not answer in time: report it, or use another gateway."},
	{code: 505, phrase: "Version Not Supported",
		meaning:  "The server does not support the SIP version of the request.",
		practice: "Something on the path does not speak SIP/2.0 as we send it: check that the gateway address is a SIP endpoint."},
	{code: 513, phrase: "Message Too Large",
		meaning:  "The message is longer than the server can process.",
		practice: "Our INVITE is too big for the path (UDP fragments get dropped): shorten the SDP or use TCP for this gateway."},
	{code: 580, phrase: "Precondition Failure",
		meaning:  "The server cannot meet the preconditions the session requires (RFC 3312).",
		practice: "The provider cannot satisfy the media preconditions we ask for: turn preconditions off for this gateway."},
	{code: 600, class: true, phrase: "Global Failure",
		meaning:  "The server knows for certain that the request would fail anywhere.",
		practice: "Do not retry the number through another route; the code says why."},
	{code: 600, phrase: "Busy Everywhere",
		meaning: "The callee was reached and is busy on every device.", practice: busyPractice},
	{code: 603, phrase: "Decline",
		meaning: "The callee was reached and does not want to take the call.",
		practice: "The callee or their device rejected the call (a verdict, counted for NER). A large " +
			"share may also mean the provider blocks us as spam or fraud: see the gateway's meaning."},
	{code: 604, phrase: "Does Not Exist Anywhere",
		meaning:  "The server knows for certain that the callee exists nowhere.",
		practice: "The number does not exist: remove it from the calling lists and check the number format."},
	{code: 606, phrase: "Not Acceptable",
		meaning:  "The callee was reached but some part of the session (media, bandwidth) is unacceptable.",
		practice: "The callee's side cannot take our media offer: check the codecs we offer, as for 488."},
	{code: 607, phrase: "Unwanted",
		meaning:  "The callee marked the call as unwanted (RFC 8197).",
		practice: "The callee reports our call as unwanted: stop calling this number, and review the campaign and the caller ID's reputation."},
	{code: 608, phrase: "Rejected",
		meaning: "An intermediary, typically a call-analytics service, rejected the call, not the callee (RFC 8688).",
		practice: "A network analytics service blocked the call, usually over caller ID reputation: " +
			"follow the contact given in the response and review our caller IDs and call patterns."},
	{code: 900, class: true, phrase: "Rejected by us",
		meaning:  "Our own code: this service refused the call before any INVITE was sent.",
		practice: "Not the provider's doing: see the termination cause (a gateway limit, for instance) and our own configuration."},
	{code: 900, phrase: telephony.StatusDirectionBlocked.Reason,
		meaning: "Our own code: the number matches no prefix this gateway may dial, so no INVITE was sent.",
		practice: "Not the provider's doing: if such calls should go out, add the number's prefix to " +
			"the gateway's directions; otherwise the block works as intended."},
	{code: 901, phrase: telephony.StatusConcurrencyLimit.Reason,
		meaning: "Our own code: the gateway had as many live calls as its max_concurrent_calls for the whole queue timeout, so no INVITE was sent.",
		practice: "Not the provider's doing: spread the campaign over time or gateways, or raise max_concurrent_calls " +
			"if the provider's contract allows more channels."},
	{code: 902, phrase: telephony.StatusRateLimit.Reason,
		meaning: "Our own code: the gateway's max_cps left no free sending slot within the queue timeout, so no INVITE was sent.",
		practice: "Not the provider's doing: place calls at a steadier pace, lengthen queue_timeout, or raise max_cps " +
			"if the provider accepts a higher rate."},
	{code: 903, phrase: telephony.StatusGatewayDown.Reason,
		meaning: "Our own code: the gateway stopped answering our OPTIONS keep-alives, so calls to it are refused at once.",
		practice: "Check the gateway's reachability (address, firewall, the provider's status); calls resume by " +
			"themselves once it answers OPTIONS again."},
}
