// Command sidebyside measures telephonyd next to SIPp on one machine, in one run, against
// one SIPp provider (bench/sipp/uas.xml): the calls per second SIPp's own caller
// (bench/sipp/uac.xml) completes with zero failures (L, the machine's practical limit for a
// full call lifecycle), the same for telephonyd driven through gRPC by `callctl load` with a
// watcher per call, their ratio (and the ratio a telephonyd that took no CPU would reach
// beside callctl, Redis and the provider), and the heap and RSS each live answered call
// costs telephonyd, with a check that nothing is left behind once the calls end.
//
// It starts and stops every process it uses (SIPp, redis-server, telephonyd and callctl,
// built into a temporary directory); it does not install anything: bench/run does that,
// then runs it. It is a measuring harness run by hand, not a test.
package main
