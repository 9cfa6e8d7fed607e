package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/ccplane/telephony/directions"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// DirectionService implements telephony.v1.DirectionService over the rule store; every
// change is loaded into this instance's cache before the RPC returns, so the caller's next
// PlaceCall sees it (other instances get it through the store's change notifications).
type DirectionService struct {
	telephonyv1.UnimplementedDirectionServiceServer

	log      *slog.Logger
	rules    directionRules
	check    directionCheck
	gateways map[string]bool
}

// NewDirectionService returns the direction service for the given gateway names.
func NewDirectionService(log *slog.Logger, gateways []string, rules directionRules, check directionCheck) *DirectionService {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &DirectionService{log: log.With("component", "directions"), rules: rules, check: check, gateways: map[string]bool{}}
	for _, g := range gateways {
		s.gateways[g] = true
	}
	return s
}

// SetDirections implements telephony.v1.DirectionService.
func (s *DirectionService) SetDirections(ctx context.Context, r *telephonyv1.SetDirectionsRequest) (*telephonyv1.SetDirectionsResponse, error) {
	d, err := s.change(ctx, r.GetGateway(), func(ctx context.Context, gw string) error {
		rules, err := rulesFromProto(r.GetRules())
		if err != nil {
			return err
		}
		_, err = s.rules.Replace(ctx, gw, rules)
		return storeError(err)
	})
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return &telephonyv1.SetDirectionsResponse{Directions: d}, nil
}

// AddRules implements telephony.v1.DirectionService.
func (s *DirectionService) AddRules(ctx context.Context, r *telephonyv1.AddRulesRequest) (*telephonyv1.AddRulesResponse, error) {
	d, err := s.change(ctx, r.GetGateway(), func(ctx context.Context, gw string) error {
		rules, err := rulesFromProto(r.GetRules())
		if err != nil {
			return err
		}
		_, err = s.rules.Add(ctx, gw, rules)
		return storeError(err)
	})
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return &telephonyv1.AddRulesResponse{Directions: d}, nil
}

// RemoveRules implements telephony.v1.DirectionService.
func (s *DirectionService) RemoveRules(ctx context.Context, r *telephonyv1.RemoveRulesRequest) (*telephonyv1.RemoveRulesResponse, error) {
	d, err := s.change(ctx, r.GetGateway(), func(ctx context.Context, gw string) error {
		_, err := s.rules.Remove(ctx, gw, r.GetPrefixes())
		return storeError(err)
	})
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return &telephonyv1.RemoveRulesResponse{Directions: d}, nil
}

// ListDirections implements telephony.v1.DirectionService.
func (s *DirectionService) ListDirections(ctx context.Context, r *telephonyv1.ListDirectionsRequest) (*telephonyv1.ListDirectionsResponse, error) {
	if err := s.knownGateway(r.GetGateway()); err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	d, err := s.list(ctx, r.GetGateway())
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	return &telephonyv1.ListDirectionsResponse{Directions: d}, nil
}

// CheckDirection implements telephony.v1.DirectionService.
func (s *DirectionService) CheckDirection(ctx context.Context, r *telephonyv1.CheckDirectionRequest) (*telephonyv1.CheckDirectionResponse, error) {
	if err := s.knownGateway(r.GetGateway()); err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	number, d, err := s.check.Check(r.GetGateway(), r.GetNumber())
	if err != nil {
		return nil, toStatus(ctx, s.log, numberError("number", err))
	}
	res := &telephonyv1.CheckDirectionResponse{Allowed: d.Allowed, NormalizedNumber: number}
	if d.Matched {
		res.MatchedRule = ruleToProto(d.Rule)
	}
	return res, nil
}

// change applies one edit to a gateway's rules, loads the result into this instance's
// cache and returns the rules now in force.
func (s *DirectionService) change(ctx context.Context, gw string, edit func(context.Context, string) error) (*telephonyv1.Directions, error) {
	if err := s.knownGateway(gw); err != nil {
		return nil, err
	}
	if err := edit(ctx, gw); err != nil {
		return nil, err
	}
	if err := s.check.Refresh(ctx, gw); err != nil {
		// The change is stored; the change notification or the version check brings it.
		s.log.WarnContext(ctx, "directions changed but not reloaded yet", "gateway_id", gw, "err", err)
	}
	s.log.InfoContext(ctx, "directions changed", "gateway_id", gw)
	return s.list(ctx, gw)
}

func (s *DirectionService) list(ctx context.Context, gw string) (*telephonyv1.Directions, error) {
	rules, version, err := s.rules.Rules(ctx, gw)
	if err != nil {
		return nil, storeError(err)
	}
	d := &telephonyv1.Directions{Gateway: gw, Version: version}
	for _, r := range rules {
		d.Rules = append(d.Rules, ruleToProto(r))
	}
	return d, nil
}

func (s *DirectionService) knownGateway(gw string) error {
	if !s.gateways[gw] {
		return fmt.Errorf("gateway %q: %w", gw, errUnknownGateway)
	}
	return nil
}

// rulesFromProto converts rules the proto rules passed (digit prefixes, ALLOW or DENY) and
// refuses a prefix given twice.
func rulesFromProto(in []*telephonyv1.DirectionRule) ([]directions.Rule, error) {
	out := make([]directions.Rule, 0, len(in))
	seen := make(map[string]bool, len(in))
	for i, r := range in {
		// Anything but ALLOW denies, so that a request that skipped validation blocks
		// rather than opens numbers.
		a := directions.ActionDeny
		if r.GetAction() == telephonyv1.DirectionAction_DIRECTION_ACTION_ALLOW {
			a = directions.ActionAllow
		}
		rule := directions.Rule{Prefix: r.GetPrefix(), Action: a}
		if seen[rule.Prefix] {
			return nil, invalid(fmt.Sprintf("rules[%d]", i), "prefix %q appears twice", rule.Prefix)
		}
		seen[rule.Prefix] = true
		out = append(out, rule)
	}
	return out, nil
}

func ruleToProto(r directions.Rule) *telephonyv1.DirectionRule {
	a := telephonyv1.DirectionAction_DIRECTION_ACTION_ALLOW
	if r.Action == directions.ActionDeny {
		a = telephonyv1.DirectionAction_DIRECTION_ACTION_DENY
	}
	return &telephonyv1.DirectionRule{Prefix: r.Prefix, Action: a}
}

// ruleName writes a rule as operators read it in error details: "7809:deny", ":allow".
func ruleName(d directions.Decision) string {
	if !d.Matched {
		return "none"
	}
	return d.Rule.Prefix + ":" + d.Rule.Action.String()
}

// numberError turns a malformed number into a field error; other errors pass unchanged.
func numberError(field string, err error) error {
	if errors.Is(err, directions.ErrInvalidNumber) {
		return invalid(field, "%s", strings.TrimPrefix(err.Error(), "directions: "))
	}
	return err
}

// errRulesUnavailable wraps a failure of the rule store: nothing was changed or read.
var errRulesUnavailable = errors.New("directions store unavailable")

func storeError(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", errRulesUnavailable, err)
}
