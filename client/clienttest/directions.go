package clienttest

import (
	"context"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// DirectionService is a DirectionService whose behaviour each test sets through function
// fields; a nil field answers Unimplemented. Serve registers it from Service.Directions.
type DirectionService struct {
	telephonyv1.UnimplementedDirectionServiceServer
	SetDirectionsFn  func(context.Context, *telephonyv1.SetDirectionsRequest) (*telephonyv1.SetDirectionsResponse, error)
	AddRulesFn       func(context.Context, *telephonyv1.AddRulesRequest) (*telephonyv1.AddRulesResponse, error)
	RemoveRulesFn    func(context.Context, *telephonyv1.RemoveRulesRequest) (*telephonyv1.RemoveRulesResponse, error)
	ListDirectionsFn func(context.Context, *telephonyv1.ListDirectionsRequest) (*telephonyv1.ListDirectionsResponse, error)
	CheckDirectionFn func(context.Context, *telephonyv1.CheckDirectionRequest) (*telephonyv1.CheckDirectionResponse, error)
}

// SetDirections implements telephonyv1.DirectionServiceServer.
func (s *DirectionService) SetDirections(ctx context.Context, r *telephonyv1.SetDirectionsRequest) (*telephonyv1.SetDirectionsResponse, error) {
	return call(s.SetDirectionsFn, ctx, r)
}

// AddRules implements telephonyv1.DirectionServiceServer.
func (s *DirectionService) AddRules(ctx context.Context, r *telephonyv1.AddRulesRequest) (*telephonyv1.AddRulesResponse, error) {
	return call(s.AddRulesFn, ctx, r)
}

// RemoveRules implements telephonyv1.DirectionServiceServer.
func (s *DirectionService) RemoveRules(ctx context.Context, r *telephonyv1.RemoveRulesRequest) (*telephonyv1.RemoveRulesResponse, error) {
	return call(s.RemoveRulesFn, ctx, r)
}

// ListDirections implements telephonyv1.DirectionServiceServer.
func (s *DirectionService) ListDirections(ctx context.Context, r *telephonyv1.ListDirectionsRequest) (*telephonyv1.ListDirectionsResponse, error) {
	return call(s.ListDirectionsFn, ctx, r)
}

// CheckDirection implements telephonyv1.DirectionServiceServer.
func (s *DirectionService) CheckDirection(ctx context.Context, r *telephonyv1.CheckDirectionRequest) (*telephonyv1.CheckDirectionResponse, error) {
	return call(s.CheckDirectionFn, ctx, r)
}

var _ telephonyv1.DirectionServiceServer = (*DirectionService)(nil)
