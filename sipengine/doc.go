// Package sipengine is the SIP user agent that places outbound calls through provider
// gateways on top of github.com/emiago/sipgo: it sends the INVITE, follows every response,
// answers digest challenges, ACKs, CANCELs, sends and answers BYE, runs the call timers and
// decides who ended each call (kill or finish) and with which last response.
//
// It keeps its own dialog state on raw sipgo transactions rather than sipgo's dialog
// sessions, so that none of that library's gaps (the ten-response cap, no timer after a 1xx,
// an unacknowledged 200 that crosses a CANCEL, a CANCEL that blocks for 32 s) reach a call.
// It knows nothing of gRPC, Redis or how calls are stored: everything that happens to a call
// is reported, in order, to the Observer given with the DialRequest.
//
// An answered call that nobody talks on has no goroutine: it is its dialog and a timer until
// a hang-up, a BYE, shutdown or its max duration wakes it. Its INVITE transaction, with the
// INVITE and the 2xx, lasts only RFC 6026's 64·T1, acknowledging the 2xx if the gateway
// sends it again; later retransmissions are acknowledged from the dialog.
//
// Trunks stands in front of Dial for a fixed set of gateways: it holds each one to its
// concurrent-call and call-rate limits, and watches it with OPTIONS keep-alives so that calls
// to a gateway found down fail at once instead of timing out one by one.
package sipengine
