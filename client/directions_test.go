package client

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/ccplane/telephony/client/clienttest"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

const (
	allow = telephonyv1.DirectionAction_DIRECTION_ACTION_ALLOW
	deny  = telephonyv1.DirectionAction_DIRECTION_ACTION_DENY
)

func rule(prefix string, action telephonyv1.DirectionAction) *telephonyv1.DirectionRule {
	return &telephonyv1.DirectionRule{Prefix: prefix, Action: action}
}

// directionsFake is a DirectionService that records every request, fails the first ones
// with errs in turn, and returns dirs from the rule-set methods.
type directionsFake struct {
	errs []codes.Code // the answers to the first requests; OK after the last
	dirs *telephonyv1.Directions

	mu   sync.Mutex
	reqs []proto.Message
}

func (f *directionsFake) record(req proto.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	if n := len(f.reqs); n <= len(f.errs) {
		return status.Error(f.errs[n-1], "fake")
	}
	return nil
}

func (f *directionsFake) requests() []proto.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs
}

func (f *directionsFake) service() *clienttest.DirectionService {
	return &clienttest.DirectionService{
		SetDirectionsFn: func(_ context.Context, r *telephonyv1.SetDirectionsRequest) (*telephonyv1.SetDirectionsResponse, error) {
			return &telephonyv1.SetDirectionsResponse{Directions: f.dirs}, f.record(r)
		},
		AddRulesFn: func(_ context.Context, r *telephonyv1.AddRulesRequest) (*telephonyv1.AddRulesResponse, error) {
			return &telephonyv1.AddRulesResponse{Directions: f.dirs}, f.record(r)
		},
		RemoveRulesFn: func(_ context.Context, r *telephonyv1.RemoveRulesRequest) (*telephonyv1.RemoveRulesResponse, error) {
			return &telephonyv1.RemoveRulesResponse{Directions: f.dirs}, f.record(r)
		},
		ListDirectionsFn: func(_ context.Context, r *telephonyv1.ListDirectionsRequest) (*telephonyv1.ListDirectionsResponse, error) {
			return &telephonyv1.ListDirectionsResponse{Directions: f.dirs}, f.record(r)
		},
		CheckDirectionFn: func(_ context.Context, r *telephonyv1.CheckDirectionRequest) (*telephonyv1.CheckDirectionResponse, error) {
			return &telephonyv1.CheckDirectionResponse{Allowed: true, NormalizedNumber: "79161234567", MatchedRule: rule("7", allow)}, f.record(r)
		},
	}
}

func TestDirectionsRequests(t *testing.T) {
	rules := []*telephonyv1.DirectionRule{rule("", deny), rule("7", allow), rule("7809", deny)}
	dirs := &telephonyv1.Directions{Gateway: "carrier-a", Rules: rules, Version: 4}
	tests := []struct {
		name     string
		call     func(context.Context, *Client) (proto.Message, error)
		wantReq  proto.Message
		wantResp proto.Message
	}{
		{
			name: "SetDirections",
			call: func(ctx context.Context, c *Client) (proto.Message, error) {
				return c.SetDirections(ctx, "carrier-a", rules)
			},
			wantReq:  &telephonyv1.SetDirectionsRequest{Gateway: "carrier-a", Rules: rules},
			wantResp: dirs,
		},
		{
			name: "SetDirections with no rules",
			call: func(ctx context.Context, c *Client) (proto.Message, error) {
				return c.SetDirections(ctx, "carrier-a", nil)
			},
			wantReq:  &telephonyv1.SetDirectionsRequest{Gateway: "carrier-a"},
			wantResp: dirs,
		},
		{
			name: "AddRules",
			call: func(ctx context.Context, c *Client) (proto.Message, error) {
				return c.AddRules(ctx, "carrier-a", rules[1:])
			},
			wantReq:  &telephonyv1.AddRulesRequest{Gateway: "carrier-a", Rules: rules[1:]},
			wantResp: dirs,
		},
		{
			name: "RemoveRules",
			call: func(ctx context.Context, c *Client) (proto.Message, error) {
				return c.RemoveRules(ctx, "carrier-a", []string{"", "7809"})
			},
			wantReq:  &telephonyv1.RemoveRulesRequest{Gateway: "carrier-a", Prefixes: []string{"", "7809"}},
			wantResp: dirs,
		},
		{
			name: "ListDirections",
			call: func(ctx context.Context, c *Client) (proto.Message, error) {
				return c.ListDirections(ctx, "carrier-a")
			},
			wantReq:  &telephonyv1.ListDirectionsRequest{Gateway: "carrier-a"},
			wantResp: dirs,
		},
		{
			name: "CheckDirection",
			call: func(ctx context.Context, c *Client) (proto.Message, error) {
				return c.CheckDirection(ctx, "carrier-a", "+7 916 123-45-67")
			},
			wantReq:  &telephonyv1.CheckDirectionRequest{Gateway: "carrier-a", Number: "+7 916 123-45-67"},
			wantResp: &telephonyv1.CheckDirectionResponse{Allowed: true, NormalizedNumber: "79161234567", MatchedRule: rule("7", allow)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &directionsFake{dirs: dirs}
			c := New(serve(t, &clienttest.Service{Directions: f.service()}))
			resp, err := tc.call(t.Context(), c)
			if err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			if diff := cmp.Diff([]proto.Message{tc.wantReq}, f.requests(), protocmp.Transform()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantResp, resp, protocmp.Transform()); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDirectionsRetry(t *testing.T) {
	calls := map[string]func(context.Context, *Client) error{
		"SetDirections": func(ctx context.Context, c *Client) error {
			_, err := c.SetDirections(ctx, "gw", []*telephonyv1.DirectionRule{rule("7", allow)})
			return err
		},
		"AddRules": func(ctx context.Context, c *Client) error {
			_, err := c.AddRules(ctx, "gw", []*telephonyv1.DirectionRule{rule("7", allow)})
			return err
		},
		"RemoveRules": func(ctx context.Context, c *Client) error {
			_, err := c.RemoveRules(ctx, "gw", []string{"7"})
			return err
		},
		"ListDirections": func(ctx context.Context, c *Client) error {
			_, err := c.ListDirections(ctx, "gw")
			return err
		},
		"CheckDirection": func(ctx context.Context, c *Client) error {
			_, err := c.CheckDirection(ctx, "gw", "79161234567")
			return err
		},
	}
	tests := []struct {
		name      string
		errs      []codes.Code
		wantCalls int
		wantCode  codes.Code
	}{
		{name: "unavailable retried", errs: []codes.Code{codes.Unavailable, codes.Unavailable}, wantCalls: 3, wantCode: codes.OK},
		{name: "gives up after the attempt limit", errs: []codes.Code{codes.Unavailable, codes.Unavailable, codes.Unavailable}, wantCalls: 3, wantCode: codes.Unavailable},
		{name: "invalid argument not retried", errs: []codes.Code{codes.InvalidArgument}, wantCalls: 1, wantCode: codes.InvalidArgument},
		{name: "not found not retried", errs: []codes.Code{codes.NotFound}, wantCalls: 1, wantCode: codes.NotFound},
	}
	for method, call := range calls {
		for _, tc := range tests {
			t.Run(method+"/"+tc.name, func(t *testing.T) {
				f := &directionsFake{errs: tc.errs, dirs: &telephonyv1.Directions{Gateway: "gw"}}
				c := New(serve(t, &clienttest.Service{Directions: f.service()}), WithRetry(3, time.Millisecond))
				err := call(t.Context(), c)
				if got := status.Code(err); got != tc.wantCode {
					t.Errorf("code: got %v, want %v (err %v)", got, tc.wantCode, err)
				}
				if got := len(f.requests()); got != tc.wantCalls {
					t.Errorf("server calls: got %d, want %d", got, tc.wantCalls)
				}
			})
		}
	}
}

func TestDirectionsUnsetIsUnimplemented(t *testing.T) {
	_, err := New(serve(t, &clienttest.Service{})).ListDirections(t.Context(), "gw")
	if got, want := status.Code(err), codes.Unimplemented; got != want {
		t.Errorf("code: got %v, want %v (err %v)", got, want, err)
	}
}
