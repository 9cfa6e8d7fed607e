package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/directions"
	"github.com/ccplane/telephony/sipengine"
	"github.com/ccplane/telephony/tracker"
)

var (
	errUnknownGateway     = errors.New("unknown gateway")
	errShuttingDown       = errors.New("shutting down")
	errRecordsUnavailable = errors.New("call records unavailable")
)

// errorDomain is the ErrorInfo domain of the errors this service defines.
const errorDomain = "telephony.ccplane"

// blockedError is a PlaceCall refused by the gateway's directions; the call was recorded.
type blockedError struct {
	callID, gateway, number, rule string
}

func (e *blockedError) Error() string {
	// The number itself is in the ErrorInfo metadata only: error messages end up in logs.
	return fmt.Sprintf("the number is outside the directions of gateway %s (rule %s); call %s recorded as 900 Direction blocked",
		e.gateway, e.rule, e.callID)
}

// refusedError is a PlaceCall the gateway could not take (at its limits, or down); the call
// was recorded as ended with our pseudo-response.
type refusedError struct {
	callID, gateway string
	cause           telephony.Cause
	status          telephony.Status
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("gateway %s refused the call: %d %s; call %s recorded, nothing was sent",
		e.gateway, e.status.Code, e.status.Reason, e.callID)
}

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
	if b, ok := errors.AsType[*blockedError](err); ok {
		return withDetails(codes.PermissionDenied, b.Error(), &errdetails.ErrorInfo{
			Reason: "DIRECTION_BLOCKED", Domain: errorDomain,
			Metadata: map[string]string{"call_id": b.callID, "gateway": b.gateway, "number": b.number, "rule": b.rule},
		})
	}
	if r, ok := errors.AsType[*refusedError](err); ok {
		c, reason := codes.ResourceExhausted, "GATEWAY_LIMIT"
		if r.cause == telephony.CauseGatewayDown {
			c, reason = codes.Unavailable, "GATEWAY_DOWN"
		}
		return withDetails(c, r.Error(), &errdetails.ErrorInfo{
			Reason: reason, Domain: errorDomain,
			Metadata: map[string]string{"call_id": r.callID, "gateway": r.gateway, "sip_code": strconv.Itoa(r.status.Code)},
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
	case errors.Is(err, directions.ErrUnavailable):
		return status.Error(codes.Unavailable, err.Error()+"; nothing was sent")
	case errors.Is(err, errRecordsUnavailable):
		log.ErrorContext(ctx, "record store failed", "err", err)
		return status.Error(codes.Unavailable, "the call records cannot be reached right now; retry later")
	case errors.Is(err, errRulesUnavailable):
		log.ErrorContext(ctx, "directions store failed", "err", err)
		return status.Error(codes.Unavailable, "the directions store cannot be reached; nothing was changed")
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

// recordsError marks a failure of the record store as such (UNAVAILABLE); a missing call and
// the caller's own cancellation keep their meaning.
func recordsError(err error) error {
	if errors.Is(err, tracker.ErrNotFound) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", errRecordsUnavailable, err)
}
