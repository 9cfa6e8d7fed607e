// Package telephony holds the domain vocabulary shared by the service's parts: calls, their
// states, SIP statuses and how a call ended (party and cause). It has no behaviour beyond the
// rules that belong to those values, and imports neither gRPC, SIP nor Redis.
package telephony
