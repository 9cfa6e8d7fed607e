// Package client owns the typed Go client of telephony.v1.CallService and
// telephony.v1.DirectionService: dialling with TLS and token options, unary calls with
// deadlines and safe retries, WatchCall with automatic resume from the last sequence seen,
// and the text forms callctl prints. It does not interpret calls, events or direction rules;
// it passes the generated telephonyv1 messages through unchanged.
package client
