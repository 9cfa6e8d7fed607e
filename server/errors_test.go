package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/directions"
	"github.com/ccplane/telephony/sipengine"
	"github.com/ccplane/telephony/tracker"
)

// TestToStatus holds the one error mapping to its table, for each error bare and wrapped.
func TestToStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want codes.Code
	}{
		{name: "bad field", err: invalid("to", "not a number"), want: codes.InvalidArgument},
		{name: "unknown gateway", err: errUnknownGateway, want: codes.NotFound},
		{name: "unknown call", err: tracker.ErrNotFound, want: codes.NotFound},
		{name: "unknown call through the store", err: recordsError(tracker.ErrNotFound), want: codes.NotFound},
		{name: "record store down", err: recordsError(io.ErrUnexpectedEOF), want: codes.Unavailable},
		{name: "directions store down", err: storeError(io.ErrUnexpectedEOF), want: codes.Unavailable},
		{name: "rules never loaded", err: directions.ErrUnavailable, want: codes.Unavailable},
		{name: "engine stopping", err: sipengine.ErrClosed, want: codes.Unavailable},
		{name: "draining", err: errShuttingDown, want: codes.Unavailable},
		{name: "blocked number", err: &blockedError{callID: "c1", gateway: "gw", number: "1900", rule: "1900:deny"}, want: codes.PermissionDenied},
		{name: "gateway at its limit", err: &refusedError{callID: "c1", gateway: "gw", cause: telephony.CauseGatewayLimit, status: telephony.StatusRateLimit}, want: codes.ResourceExhausted},
		{name: "gateway down", err: &refusedError{callID: "c1", gateway: "gw", cause: telephony.CauseGatewayDown, status: telephony.StatusGatewayDown}, want: codes.Unavailable},
		{name: "slow watcher", err: &watcherBehind{lastSent: 7}, want: codes.ResourceExhausted},
		{name: "after_sequence ahead", err: errSequenceAhead, want: codes.OutOfRange},
		{name: "client went away", err: context.Canceled, want: codes.Canceled},
		{name: "anything else", err: errors.New("boom"), want: codes.Internal},
	}
	log := slog.New(slog.DiscardHandler)
	for _, tc := range tests {
		for _, err := range []error{tc.err, fmt.Errorf("wrapped: %w", tc.err)} {
			t.Run(tc.name, func(t *testing.T) {
				got := status.Convert(toStatus(context.Background(), log, err))
				if got.Code() != tc.want {
					t.Errorf("toStatus(%v) = %v, want %v", err, got.Code(), tc.want)
				}
				if tc.want == codes.Internal && got.Message() != "internal error" {
					t.Errorf("internal error message %q leaks detail", got.Message())
				}
			})
		}
	}
}
