package client

// IsLoopback reports whether a grpc.NewClient target stays on this machine: a loopback IP,
// "localhost", or a unix socket, with or without a dns: or passthrough: scheme. It is the
// check Dial applies before sending a token without TLS.
func IsLoopback(target string) bool { return isLoopback(target) }
