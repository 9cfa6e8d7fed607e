// Package simulator owns a built-in simulated SIP provider gateway (a UAS on emiago/sipgo)
// that answers INVITEs by a script chosen from the last three digits of the dialled number,
// for the embedded demo and for tests. It carries no media, routes nothing onward, keeps no
// records and takes no inbound-call role of its own: it only plays the far end of a call.
//
// The number table is returned by Behaviours. Timings are shrunk through Config so that tests
// run in milliseconds; credentials for the 407 script default to demo/demo.
package simulator
