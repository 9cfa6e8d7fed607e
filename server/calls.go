package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"

	"github.com/ccplane/telephony"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/sipengine"
	"github.com/ccplane/telephony/tracker"
)

// CallService implements telephony.v1.CallService.
type CallService struct {
	telephonyv1.UnimplementedCallServiceServer

	cfg      Config
	log      *slog.Logger
	dialer   dialer
	records  records
	check    directionCheck
	events   *eventLogs
	pub      *publisher  // nil for a single instance
	owners   *ownerCache // nil for a single instance
	gateways map[string]sipengine.Gateway
	metrics  *Metrics

	mu       sync.Mutex
	live     map[string]*callObserver // calls not ended yet, by call id
	draining bool
}

// NewCallService returns the call service over a SIP dialer, a call-record store and the
// directions that decide which numbers each gateway may dial.
func NewCallService(cfg Config, d dialer, r records, check directionCheck) (*CallService, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &CallService{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "server"),
		dialer:   d,
		records:  r,
		check:    check,
		events:   newEventLogs(cfg.EventRetention, cfg.Now),
		metrics:  cfg.Metrics,
		gateways: make(map[string]sipengine.Gateway, len(cfg.Gateways)),
		live:     make(map[string]*callObserver),
	}
	for _, g := range cfg.Gateways {
		s.gateways[g.Name] = g
	}
	s.pub, s.owners = newPublisher(s, cfg.Shared), newOwnerCache(cfg.Shared)
	return s, nil
}

// Drain makes PlaceCall refuse new calls with UNAVAILABLE; live calls go on until the engine
// ends them.
func (s *CallService) Drain() {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
}

// Close stops the timer that forgets ended calls' event histories; call it once the engine
// has ended every call.
func (s *CallService) Close() {
	s.events.stop()
}

// PlaceCall implements telephony.v1.CallService.
func (s *CallService) PlaceCall(ctx context.Context, r *telephonyv1.PlaceCallRequest) (*telephonyv1.PlaceCallResponse, error) {
	call, err := s.place(ctx, r)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return &telephonyv1.PlaceCallResponse{Call: callToProto(call)}, nil
}

func (s *CallService) place(ctx context.Context, r *telephonyv1.PlaceCallRequest) (*telephony.Call, error) {
	p, err := s.validatePlace(r)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	draining := s.draining
	s.mu.Unlock()
	if draining {
		return nil, errShuttingDown
	}

	rec := &telephony.Call{
		ID:        uuid.NewString(),
		RequestID: r.GetRequestId(),
		Gateway:   p.gateway.Name,
		From:      p.from,
		To:        p.to,
		Labels:    r.GetLabels(),
		SIPCallID: uuid.NewString(),
		State:     telephony.StateDialing,
		CreatedAt: s.cfg.Now(),
	}
	if rec.From == "" {
		rec.From = p.gateway.FromUser
	}
	// Directions are checked before the call exists: a gateway whose rules were never
	// loaded refuses (UNAVAILABLE) rather than records a call it cannot judge.
	_, verdict, err := s.check.Check(p.gateway.Name, p.to)
	if err != nil {
		return nil, numberError("to", err)
	}
	existing, created, err := s.records.Create(ctx, rec)
	if err != nil {
		return nil, recordsError(err)
	}
	if !created {
		// The same request_id: the same call and the same answer, never a second INVITE.
		if err := refusal(existing, ruleName(verdict)); err != nil {
			return nil, err
		}
		return existing, nil
	}
	first := rec.Clone() // rec belongs to the observer from here on
	o := &callObserver{s: s, rec: rec, events: s.events.open(rec.ID)}
	if !verdict.Allowed {
		s.metrics.directionBlocked(rec.Gateway)
		o.endUnsent(telephony.CauseDirectionBlocked, telephony.StatusDirectionBlocked, nil)
		return nil, refusal(rec, ruleName(verdict))
	}
	s.mu.Lock()
	s.live[rec.ID] = o
	s.mu.Unlock()
	call, err := s.dialer.Dial(ctx, sipengine.DialRequest{
		Gateway:     p.gateway,
		To:          p.to,
		From:        p.from,
		Headers:     r.GetHeaders(),
		SDPOffer:    r.GetSdpOffer(),
		RingTimeout: p.ringTimeout,
		MaxDuration: p.maxDuration,
		Observer:    o,
		SIPCallID:   rec.SIPCallID,
	})
	if err != nil {
		// Nothing was sent, but the call was accepted: it still ends with a record.
		cause, last := unsentCause(err)
		o.endUnsent(cause, last, err)
		if rerr := refusal(rec, ""); rerr != nil {
			return nil, rerr
		}
		return nil, err
	}
	s.mu.Lock()
	o.call = call
	s.mu.Unlock()
	// The INVITE is out: whatever happens now, the caller must get the call, not an error
	// it might retry (and ring the callee twice).
	placed, err := s.records.Get(ctx, rec.ID)
	if err != nil {
		s.log.WarnContext(ctx, "placed call not read back; answering with its first record", "call_id", rec.ID, "err", err)
		return first, nil
	}
	return placed, nil
}

// unsentCause is how a call whose Dial failed ends: the gateway's own refusals carry our
// pseudo-responses; anything else sent nothing because of the transport or a shutdown.
func unsentCause(err error) (telephony.Cause, telephony.Status) {
	if cause, st, ok := sipengine.Refusal(err); ok {
		return cause, st
	}
	if errors.Is(err, sipengine.ErrClosed) {
		return telephony.CauseShutdown, telephony.StatusNone
	}
	return telephony.CauseTransportError, telephony.StatusNone
}

// refusal is the PlaceCall error for a call we ended before sending anything, by its
// policy (directions, gateway limits or health); nil for any other call.
func refusal(c *telephony.Call, rule string) error {
	switch c.Termination.Cause {
	case telephony.CauseDirectionBlocked:
		return &blockedError{callID: c.ID, gateway: c.Gateway, number: c.To, rule: rule}
	case telephony.CauseGatewayLimit, telephony.CauseGatewayDown:
		return &refusedError{callID: c.ID, gateway: c.Gateway, cause: c.Termination.Cause, status: c.LastResponse}
	}
	return nil
}

// forget drops a call from the live set once it ended.
func (s *CallService) forget(id string) {
	s.mu.Lock()
	delete(s.live, id)
	s.mu.Unlock()
}

// HangUp implements telephony.v1.CallService.
func (s *CallService) HangUp(ctx context.Context, r *telephonyv1.HangUpRequest) (*telephonyv1.HangUpResponse, error) {
	call := s.hangUpLocal(r.GetCallId())
	if call == nil && s.cfg.Shared != nil {
		rec, err := s.hangUpRemote(ctx, r.GetCallId())
		if err != nil {
			return nil, toStatus(ctx, s.log, recordsError(err))
		}
		return &telephonyv1.HangUpResponse{Call: callToProto(rec)}, nil
	}
	if call != nil {
		wait := time.NewTimer(s.cfg.HangUpWait)
		defer wait.Stop()
		select {
		case <-call.Done():
		case <-wait.C:
		case <-ctx.Done():
			return nil, toStatus(ctx, s.log, ctx.Err())
		}
	}
	rec, err := s.records.Get(ctx, r.GetCallId())
	if err != nil {
		return nil, toStatus(ctx, s.log, recordsError(err))
	}
	return &telephonyv1.HangUpResponse{Call: callToProto(rec)}, nil
}

// GetCall implements telephony.v1.CallService.
func (s *CallService) GetCall(ctx context.Context, r *telephonyv1.GetCallRequest) (*telephonyv1.GetCallResponse, error) {
	rec, err := s.records.Get(ctx, r.GetCallId())
	if err != nil {
		return nil, toStatus(ctx, s.log, recordsError(err))
	}
	if !inScope(callScope(ctx), rec.Labels) {
		// Another agent's call answers as a missing one: its existence is not revealed.
		return nil, toStatus(ctx, s.log, tracker.ErrNotFound)
	}
	return &telephonyv1.GetCallResponse{Call: callToProto(rec)}, nil
}

// WatchCall implements telephony.v1.CallService.
func (s *CallService) WatchCall(r *telephonyv1.WatchCallRequest, stream grpc.ServerStreamingServer[telephonyv1.CallEvent]) error {
	ctx := stream.Context()
	if scope := callScope(ctx); scope != nil {
		// An agent watches only its own calls; another's answers as a missing one.
		rec, err := s.records.Get(ctx, r.GetCallId())
		if err != nil {
			return toStatus(ctx, s.log, recordsError(err))
		}
		if !inScope(scope, rec.Labels) {
			return toStatus(ctx, s.log, tracker.ErrNotFound)
		}
	}
	l, ok := s.events.get(r.GetCallId())
	if !ok && s.cfg.Shared != nil {
		return toStatus(ctx, s.log, s.watchRemote(ctx, r.GetCallId(), r.GetAfterSequence(), stream))
	}
	if !ok {
		if _, err := s.records.Get(ctx, r.GetCallId()); err != nil {
			return toStatus(ctx, s.log, recordsError(err))
		}
		return toStatus(ctx, s.log, fmt.Errorf("events of call %s: %w (history expired)", r.GetCallId(), tracker.ErrNotFound))
	}
	sub, err := l.subscribe(r.GetAfterSequence())
	if err != nil {
		return toStatus(ctx, s.log, err)
	}
	defer sub.close()
	last := r.GetAfterSequence()
	for {
		ev, seq, err := sub.next(ctx)
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, errSlowWatcher):
			return toStatus(ctx, s.log, &watcherBehind{lastSent: last})
		case err != nil:
			return toStatus(ctx, s.log, err)
		}
		if err := sendEvent(stream.Send, &ev, r.GetCallId(), seq); err != nil {
			return err
		}
		last = seq
	}
}

// sendEvent sends ev, the event of sequence seq of call id, with send, in a message taken
// from eventMessages for the time of the send: a gRPC Send has encoded it when it returns.
func sendEvent(send func(*telephonyv1.CallEvent) error, ev *logEvent, id string, seq uint64) error {
	m := eventMessages.Get().(*eventMessage)
	defer eventMessages.Put(m)
	return send(m.build(ev, id, seq))
}
