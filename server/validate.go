package server

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ccplane/telephony/directions"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/sipengine"
)

// fieldError is a request field that failed validation; toStatus makes it InvalidArgument
// with a BadRequest detail naming the field.
type fieldError struct {
	field, problem string
}

func (e *fieldError) Error() string { return e.field + ": " + e.problem }

func invalid(field, format string, a ...any) error {
	return &fieldError{field: field, problem: fmt.Sprintf(format, a...)}
}

const (
	maxLabels      = 16
	maxLabelKey    = 63
	maxLabelValue  = 256
	maxRequestID   = 128
	maxCallIDBytes = 64
)

func durationOr(field string, d *durationpb.Duration, def, max time.Duration) (time.Duration, error) {
	if d == nil {
		return def, nil
	}
	if err := d.CheckValid(); err != nil {
		return 0, invalid(field, "%v", err)
	}
	v := d.AsDuration()
	if v <= 0 || v > max {
		return 0, invalid(field, "must be positive and at most %v", max)
	}
	return v, nil
}

func checkLabels(field string, labels map[string]string) error {
	if len(labels) > maxLabels {
		return invalid(field, "at most %d labels", maxLabels)
	}
	for k, v := range labels {
		if k == "" || len(k) > maxLabelKey || strings.IndexFunc(k, notLabelKeyRune) >= 0 {
			return invalid(field, "key %q: 1 to %d letters, digits, '_', '-' or '.'", k, maxLabelKey)
		}
		if len(v) > maxLabelValue || strings.IndexFunc(v, isControl) >= 0 {
			return invalid(field, "value of %q: at most %d bytes, no control characters", k, maxLabelValue)
		}
	}
	return nil
}

func notLabelKeyRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.')
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func checkCallID(id string) error {
	if id == "" {
		return invalid("call_id", "is required")
	}
	if len(id) > maxCallIDBytes || strings.IndexFunc(id, isControl) >= 0 {
		return invalid("call_id", "is not a call id")
	}
	return nil
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
	if r.GetGateway() == "" {
		return p, invalid("gateway", "is required")
	}
	if p.to, err = directions.Normalize(r.GetTo()); err != nil {
		return p, numberError("to", err)
	}
	if r.GetFrom() != "" {
		if p.from, err = directions.Normalize(r.GetFrom()); err != nil {
			return p, numberError("from", err)
		}
	}
	if p.ringTimeout, err = durationOr("ring_timeout", r.GetRingTimeout(), s.cfg.RingTimeout, maxRingTimeout); err != nil {
		return p, err
	}
	if p.maxDuration, err = durationOr("max_duration", r.GetMaxDuration(), s.cfg.MaxDuration, maxMaxDuration); err != nil {
		return p, err
	}
	if len(r.GetHeaders()) > sipengine.MaxHeaders {
		return p, invalid("headers", "at most %d headers", sipengine.MaxHeaders)
	}
	for k, v := range r.GetHeaders() {
		if err := sipengine.CheckHeader(k, v); err != nil {
			return p, invalid("headers", "%v", err)
		}
	}
	if err := checkLabels("labels", r.GetLabels()); err != nil {
		return p, err
	}
	if len(r.GetRequestId()) > maxRequestID || strings.IndexFunc(r.GetRequestId(), isControl) >= 0 {
		return p, invalid("request_id", "at most %d bytes, no control characters", maxRequestID)
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
