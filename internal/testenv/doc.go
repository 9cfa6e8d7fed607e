// Package testenv starts the real peers that tests talk to (a SIPp provider gateway playing a
// scenario from testdata/sipp, a redis-server) on free loopback ports, and stops them when the
// test ends. It fakes nothing and holds no test logic of its own: what a peer must see is
// written in its scenario, and the test asserts on what it reports. It also issues TLS
// certificates from a CA made for the test, for peers that must speak TLS.
//
// A missing binary fails the test with the Debian package to install; it never skips, so
// `go test ./...` cannot pass without having run the peer tests.
package testenv
