package server

import (
	"context"
	"log/slog"
	"runtime/debug"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
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
}

// NewGRPCServer returns a gRPC server with the API's services, gRPC health (the service
// names and the empty name SERVING) and server reflection, behind logging and panic
// recovery, and bearer-token authentication when cfg.Auth has tokens (health and reflection
// stay open). The caller serves it and flips health on shutdown.
func NewGRPCServer(log *slog.Logger, cfg GRPCConfig, svc Services, opts ...grpc.ServerOption) (*grpc.Server, *health.Server) {
	logOpts := []logging.Option{logging.WithLogOnEvents(logging.FinishCall)}
	// Recovery is innermost so that a panic is logged as the Internal status it becomes.
	rec := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in handler", "panic", p, "stack", string(debug.Stack()))
		return status.Error(codes.Internal, "internal error")
	})
	// Outermost first: logging, then auth (skipping health and reflection), then recovery.
	unary := []grpc.UnaryServerInterceptor{logging.UnaryServerInterceptor(interceptorLogger(log), logOpts...)}
	stream := []grpc.StreamServerInterceptor{logging.StreamServerInterceptor(interceptorLogger(log), logOpts...)}
	if authUnary, authStream := authInterceptors(cfg.Auth, log); authUnary != nil {
		unary, stream = append(unary, authUnary), append(stream, authStream)
	}
	opts = append(opts,
		grpc.ChainUnaryInterceptor(append(unary, recovery.UnaryServerInterceptor(rec))...),
		grpc.ChainStreamInterceptor(append(stream, recovery.StreamServerInterceptor(rec))...),
	)
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
	return srv, hs
}

// interceptorLogger adapts slog to the middleware's logger.
func interceptorLogger(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		l.Log(ctx, slog.Level(lvl), msg, fields...)
	})
}
