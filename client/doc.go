// Package client owns the typed Go client of telephony.v1.CallService: dialling with TLS and
// token options, unary calls with deadlines and safe retries, and WatchCall with automatic
// resume from the last sequence seen. It does not interpret calls or events; it passes the
// generated telephonyv1 messages through unchanged.
package client
