// Package directions owns which number prefixes ("directions") each provider gateway may
// dial: the per-gateway allow/deny rules, their source of truth (Redis, or memory when no
// Redis is configured), and the compiled in-process cache that answers "may this number be
// dialled through this gateway?" without touching the network. It does not place or reject
// calls, and knows nothing of SIP or gRPC: the caller acts on the Decision (a blocked call
// is recorded as pseudo-code 900 by the server).
//
// Matching is exact and fails closed: numbers are normalised to ASCII digits, the longest
// matching prefix decides, and a number that no rule matches is blocked, as is every number
// of a gateway that has no rules. A gateway whose rules were never loaded is unavailable,
// never allowed.
//
// Keys in Redis (one hash tag per gateway, so a gateway's keys share a Cluster slot):
//
//	directions:{GATEWAY}:rules    hash: prefix → "allow" | "deny"
//	directions:{GATEWAY}:version  integer, incremented by every change; absent = never set
//	directions:changed            pub/sub channel; the message is the changed gateway's ID
package directions
