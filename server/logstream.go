package server

import (
	"errors"
	"io"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
)

// streamLogger writes the line go-grpc-middleware's logging interceptor writes when a server
// stream finishes (same message, keys and levels), with the stream's call fields. It is ours
// rather than the middleware's because a WatchCall stream lives as long as its call, and
// thousands are open at once: the middleware keeps about a kilobyte of heap per open stream
// (field lists, formatted times, a context value) for that one line, while this keeps what
// it needs on the handler's stack and builds the line at the end. Unary RPCs, which are
// short, keep the middleware's interceptor.
func streamLogger(l logging.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		fs := &fieldStream{ServerStream: ss}
		err := handler(srv, fs)
		if errors.Is(err, io.EOF) {
			err = nil
		}
		ctx := ss.Context()
		meta := interceptors.NewServerCallMeta(info.FullMethod, info, nil)
		fields := logging.Fields{
			logging.SystemTag[0], logging.SystemTag[1],
			logging.ComponentFieldKey, logging.KindServerFieldValue,
			logging.ServiceFieldKey, meta.Service,
			logging.MethodFieldKey, meta.Method,
			logging.MethodTypeFieldKey, string(meta.Typ),
		}
		if p, ok := peer.FromContext(ctx); ok {
			fields = append(fields, "peer.address", p.Addr.String())
		}
		fields = append(fields, "grpc.start_time", start.Format(time.RFC3339))
		if d, ok := ctx.Deadline(); ok {
			fields = append(fields, "grpc.request.deadline", d.Format(time.RFC3339))
		}
		fields = append(fields, fs.fields.list()...)
		code := logging.DefaultErrorToCode(err)
		fields = append(fields, "grpc.code", code.String())
		if err != nil {
			fields = append(fields, "grpc.error", err.Error())
		}
		fields = append(fields, logging.DefaultDurationToFields(time.Since(start))...)
		l.Log(ctx, logging.DefaultServerCodeToLevel(code), "finished call", fields...)
		return err
	}
}

// fieldStream takes the call fields of a stream's first request (WatchCall's call id).
type fieldStream struct {
	grpc.ServerStream
	fields callFields
	seen   bool
}

func (s *fieldStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil && !s.seen {
		s.seen = true
		s.fields.add(m)
	}
	return err
}
