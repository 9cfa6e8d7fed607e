package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// ErrTokenWithoutTLS is returned by Dial when WithToken is given without WithTLS and the
// target is not a loopback address: the token would cross the network in clear text.
var ErrTokenWithoutTLS = errors.New("client: refusing to send a token without TLS to a non-loopback address")

// Client calls telephony.v1.CallService, DirectionService, ReportService and GatewayService
// over one connection. It is safe for concurrent use.
type Client struct {
	rpc      telephonyv1.CallServiceClient
	dirs     telephonyv1.DirectionServiceClient
	reports  telephonyv1.ReportServiceClient
	gateways telephonyv1.GatewayServiceClient
	conn     *grpc.ClientConn // set when Dial created the connection; Close closes it
	callOpts []grpc.CallOption
	timeout  time.Duration
	retry    backoff
}

// New returns a Client over an existing connection, which stays the caller's to close. If
// WithToken is given, the token is sent only when the connection has transport security,
// unless WithInsecure declares the connection trusted.
func New(cc grpc.ClientConnInterface, opts ...Option) *Client {
	o := newOptions(opts)
	return newClient(cc, o, !o.insecure)
}

// Dial creates a connection to target (a grpc.NewClient target such as "host:port" or
// "dns:///host:port") and returns a Client that owns it. The connection is established
// lazily by the first RPC, so an unreachable server shows up as an Unavailable RPC error, not
// here. Dial fails if a token would go in plaintext to a target that is not loopback.
func Dial(target string, opts ...Option) (*Client, error) {
	o := newOptions(opts)
	var creds credentials.TransportCredentials
	if o.tls != nil {
		creds = credentials.NewTLS(o.tls.Clone())
	} else {
		if o.token != "" && !isLoopback(target) {
			return nil, fmt.Errorf("%w: %s", ErrTokenWithoutTLS, target)
		}
		creds = insecure.NewCredentials()
	}
	// Fixed flow-control windows, as the server's: dynamic ones make the client ping the
	// server on every burst of streamed events.
	cc, err := grpc.NewClient(target, grpc.WithTransportCredentials(creds),
		grpc.WithStaticStreamWindowSize(1<<20), grpc.WithStaticConnWindowSize(16<<20))
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	c := newClient(cc, o, o.tls != nil)
	c.conn = cc
	return c, nil
}

func newClient(cc grpc.ClientConnInterface, o options, requireTLS bool) *Client {
	c := &Client{
		rpc:      telephonyv1.NewCallServiceClient(cc),
		dirs:     telephonyv1.NewDirectionServiceClient(cc),
		reports:  telephonyv1.NewReportServiceClient(cc),
		gateways: telephonyv1.NewGatewayServiceClient(cc),
		timeout:  o.timeout,
		retry:    backoff{attempts: o.attempts, base: o.backoff, max: 16 * o.backoff},
	}
	if o.token != "" {
		c.callOpts = append(c.callOpts, grpc.PerRPCCredentials(bearer{token: o.token, requireTLS: requireTLS}))
	}
	return c
}

// Close closes the connection if Dial created it; with New it does nothing, since the
// connection belongs to the caller.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

// bearer is per-RPC credentials carrying a bearer token.
type bearer struct {
	token      string
	requireTLS bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

// RequireTransportSecurity makes gRPC refuse to send the token over a plaintext connection,
// except where Dial verified the target is loopback or New was told the connection is trusted.
func (b bearer) RequireTransportSecurity() bool { return b.requireTLS }

var _ credentials.PerRPCCredentials = bearer{}

// isLoopback reports whether a grpc.NewClient target stays on this machine.
func isLoopback(target string) bool {
	hostport := target
	if u, err := url.Parse(target); err == nil {
		switch u.Scheme {
		case "unix", "unix-abstract":
			return true
		case "dns", "passthrough":
			// "dns:///host:port" keeps the address in the path, "dns:host:port" in Opaque.
			hostport = strings.TrimPrefix(u.Path, "/")
			if u.Opaque != "" {
				hostport = u.Opaque
			}
		}
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = strings.Trim(hostport, "[]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
