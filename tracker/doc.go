// Package tracker keeps one record per call (numbers, labels, state, timestamps, last SIP
// response, and who ended it) and answers lookups and filtered listings over them. It does not
// place or end calls, and knows nothing of SIP or gRPC; the records it gets are final only
// once they say the call ended.
package tracker
