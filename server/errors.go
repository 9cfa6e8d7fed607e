package server

import (
	"context"
	"errors"
	"log/slog"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/ccplane/telephony/sipengine"
	"github.com/ccplane/telephony/tracker"
)

var (
	errUnknownGateway = errors.New("unknown gateway")
	errShuttingDown   = errors.New("shutting down")
)

// errorDomain is the ErrorInfo domain of the errors this service defines.
const errorDomain = "telephony.ccplane"

// watcherBehind is a slow watcher's resumable error: the client resumes from after_sequence.
type watcherBehind struct{ lastSent uint64 }

func (e *watcherBehind) Error() string { return "watcher fell behind the call's events" }

// toStatus is the one mapping from errors to gRPC statuses. Internal errors are logged here
// and reach the client only as "internal error".
func toStatus(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if fe, ok := errors.AsType[*fieldError](err); ok {
		return withDetails(codes.InvalidArgument, fe.Error(), &errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: fe.field, Description: fe.problem}},
		})
	}
	if wb, ok := errors.AsType[*watcherBehind](err); ok {
		return withDetails(codes.ResourceExhausted,
			"watcher fell behind; watch again with after_sequence set to the last sequence received",
			&errdetails.ErrorInfo{Reason: "WATCHER_TOO_SLOW", Domain: errorDomain,
				Metadata: map[string]string{"last_sequence": strconv.FormatUint(wb.lastSent, 10)}})
	}
	switch {
	case errors.Is(err, errUnknownGateway), errors.Is(err, tracker.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, errSequenceAhead):
		return status.Error(codes.OutOfRange, err.Error())
	case errors.Is(err, errShuttingDown), errors.Is(err, sipengine.ErrClosed):
		return status.Error(codes.Unavailable, "the service is shutting down; nothing was sent, retry on another instance")
	case errors.Is(err, sipengine.ErrInvalid):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	log.ErrorContext(ctx, "internal error", "err", err)
	return status.Error(codes.Internal, "internal error")
}

func withDetails(c codes.Code, msg string, details ...protoadapt.MessageV1) error {
	st := status.New(c, msg)
	if d, err := st.WithDetails(details...); err == nil {
		st = d
	}
	return st.Err()
}
