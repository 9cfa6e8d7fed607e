package server

import (
	"context"
	"log/slog"
	"runtime/debug"

	"buf.build/go/protovalidate"
	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	protovalidateint "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/protovalidate"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/ratelimit"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// Services are the API's services; NewGRPCServer registers each one.
type Services struct {
	Calls      *CallService
	Directions *DirectionService
	Reports    *ReportService
	Gateways   *GatewayService
}

// GRPCConfig holds what the server's interceptors need.
type GRPCConfig struct {
	// Auth holds the bearer tokens; none turns authentication off.
	Auth AuthConfig
	// RateLimit bounds each caller's request rate; zero turns it off.
	RateLimit RateLimitConfig
	// Metrics, when set, counts every RPC by method and code and times it; the caller
	// registers it with its Prometheus registry.
	Metrics *grpcprom.ServerMetrics
}

// Flow-control windows are fixed at the ceiling grpc-go's dynamic windows grow to. With
// dynamic windows the receiver pings its peer on every burst of data to estimate the
// bandwidth-delay product, and each of a call's few small events is such a burst: at 400
// calls per second the pings were a quarter of telephonyd's socket system calls.
const (
	streamWindow = 1 << 20
	connWindow   = 16 << 20
)

// NewGRPCServer returns a gRPC server with the API's services, gRPC health (the service
// names and the empty name SERVING) and server reflection, behind logging, bearer-token
// authentication when cfg.Auth has tokens, per-caller rate limits when cfg.RateLimit sets
// any (health and reflection are neither authenticated nor limited), the protovalidate
// rules of the .proto files, and panic recovery. The caller serves it and flips health on
// shutdown.
func NewGRPCServer(log *slog.Logger, cfg GRPCConfig, svc Services, opts ...grpc.ServerOption) (*grpc.Server, *health.Server) {
	logOpts := []logging.Option{logging.WithLogOnEvents(logging.FinishCall), logging.WithFieldsFromContext(logFields)}
	// Recovery is innermost so that a panic is logged as the Internal status it becomes.
	rec := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in handler", "panic", p, "stack", string(debug.Stack()))
		return status.Error(codes.Internal, "internal error")
	})
	// Outermost first: logging (with the call fields; streams by streamLogger), metrics, auth,
	// rate limit (both skipping health and reflection), validation, recovery. The limit comes
	// after auth to key buckets by token, and before validation so that invalid requests
	// count too.
	unary := []grpc.UnaryServerInterceptor{callFieldsScope, logging.UnaryServerInterceptor(interceptorLogger(log), logOpts...), callFieldsUnary}
	stream := []grpc.StreamServerInterceptor{streamLogger(interceptorLogger(log))}
	if cfg.Metrics != nil {
		// Before auth and the rate limit, so that their refusals are counted too.
		unary, stream = append(unary, cfg.Metrics.UnaryServerInterceptor()), append(stream, cfg.Metrics.StreamServerInterceptor())
	}
	if authUnary, authStream := authInterceptors(cfg.Auth, log); authUnary != nil {
		unary, stream = append(unary, authUnary), append(stream, authStream)
	}
	if lim := newLimiter(cfg.RateLimit); lim.active() {
		unary = append(unary, selector.UnaryServerInterceptor(ratelimit.UnaryServerInterceptor(lim), guarded))
		stream = append(stream, selector.StreamServerInterceptor(ratelimit.StreamServerInterceptor(lim), guarded))
	}
	v := fieldValidator{protovalidate.GlobalValidator}
	opts = append(opts,
		grpc.ChainUnaryInterceptor(append(unary,
			protovalidateint.UnaryServerInterceptor(v), recovery.UnaryServerInterceptor(rec))...),
		grpc.ChainStreamInterceptor(append(stream,
			protovalidateint.StreamServerInterceptor(v), recovery.StreamServerInterceptor(rec))...),
	)
	opts = append([]grpc.ServerOption{grpc.StaticStreamWindowSize(streamWindow), grpc.StaticConnWindowSize(connWindow)}, opts...)
	srv := grpc.NewServer(opts...)
	telephonyv1.RegisterCallServiceServer(srv, svc.Calls)
	telephonyv1.RegisterDirectionServiceServer(srv, svc.Directions)
	telephonyv1.RegisterReportServiceServer(srv, svc.Reports)
	telephonyv1.RegisterGatewayServiceServer(srv, svc.Gateways)
	hs := health.NewServer()
	for name := range srv.GetServiceInfo() {
		hs.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	healthpb.RegisterHealthServer(srv, hs)
	reflection.Register(srv)
	if cfg.Metrics != nil {
		cfg.Metrics.InitializeMetrics(srv)
	}
	return srv, hs
}

// interceptorLogger adapts slog to the middleware's logger.
func interceptorLogger(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		l.Log(ctx, slog.Level(lvl), msg, fields...)
	})
}
