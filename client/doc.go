// Package client owns the typed Go client of telephony.v1.CallService,
// telephony.v1.DirectionService and telephony.v1.ReportService: dialling with TLS and token
// options, unary calls with deadlines and safe retries, WatchCall with automatic resume from
// the last sequence seen, and the text forms callctl prints. It does not interpret calls,
// events, direction rules or report figures; it passes the generated telephonyv1 messages
// through unchanged, and its formatting only lays out what the server computed.
package client
