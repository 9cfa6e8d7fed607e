package server

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ccplane/telephony/directions"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/sipengine"
)

// The static rules of every request (required fields, lengths, patterns, ranges, enum
// values) are protovalidate rules in the .proto files, checked by the validation interceptor
// before any handler runs. The handlers check only what needs the server's state or more than
// one field: known gateways, number normalisation, SIP header and SDP safety, report ranges,
// duplicate prefixes, page tokens.

// fieldValidator words protovalidate's error as the handlers word theirs, field first
// ("to: does not match regex pattern …"); the interceptor makes it InvalidArgument with the
// violations as a buf.validate.Violations detail.
type fieldValidator struct{ protovalidate.Validator }

// Validate implements protovalidate.Validator.
func (v fieldValidator) Validate(msg proto.Message, opts ...protovalidate.ValidationOption) error {
	err := v.Validator.Validate(msg, opts...)
	if ve, ok := errors.AsType[*protovalidate.ValidationError](err); ok {
		return violationsError{ve}
	}
	return err
}

// violationsError is a ValidationError (for errors.As) that reads "field: problem; …".
type violationsError struct {
	err *protovalidate.ValidationError
}

func (e violationsError) Error() string {
	parts := make([]string, len(e.err.Violations))
	for i, v := range e.err.Violations {
		parts[i] = v.String()
	}
	return strings.Join(parts, "; ")
}

func (e violationsError) Unwrap() error { return e.err }

// fieldError is a request field that failed validation; toStatus makes it InvalidArgument
// with a BadRequest detail naming the field.
type fieldError struct {
	field, problem string
}

func (e *fieldError) Error() string { return e.field + ": " + e.problem }

func invalid(field, format string, a ...any) error {
	return &fieldError{field: field, problem: fmt.Sprintf(format, a...)}
}

// durationOr returns d, or def when d is unset; the proto rules bound it.
func durationOr(field string, d *durationpb.Duration, def time.Duration) (time.Duration, error) {
	if d == nil {
		return def, nil
	}
	if err := d.CheckValid(); err != nil {
		return 0, invalid(field, "%v", err)
	}
	return d.AsDuration(), nil
}

// placeRequest is a validated PlaceCallRequest.
type placeRequest struct {
	gateway     sipengine.Gateway
	to, from    string
	ringTimeout time.Duration
	maxDuration time.Duration
}

func (s *CallService) validatePlace(r *telephonyv1.PlaceCallRequest) (placeRequest, error) {
	var p placeRequest
	var err error
	if p.to, err = directions.Normalize(r.GetTo()); err != nil {
		return p, numberError("to", err)
	}
	if r.GetFrom() != "" {
		if p.from, err = directions.Normalize(r.GetFrom()); err != nil {
			return p, numberError("from", err)
		}
	}
	if p.ringTimeout, err = durationOr("ring_timeout", r.GetRingTimeout(), s.cfg.RingTimeout); err != nil {
		return p, err
	}
	if p.maxDuration, err = durationOr("max_duration", r.GetMaxDuration(), s.cfg.MaxDuration); err != nil {
		return p, err
	}
	// The engine checks headers and SDP again, but refusing here names the field.
	for k, v := range r.GetHeaders() {
		if err := sipengine.CheckHeader(k, v); err != nil {
			return p, invalid("headers", "%v", err)
		}
	}
	if r.GetSdpOffer() != "" {
		if err := sipengine.CheckSDP(r.GetSdpOffer()); err != nil {
			return p, invalid("sdp_offer", "%v", err)
		}
	}
	gw, ok := s.gateways[r.GetGateway()]
	if !ok {
		return p, fmt.Errorf("gateway %q: %w", r.GetGateway(), errUnknownGateway)
	}
	p.gateway = gw
	return p, nil
}
