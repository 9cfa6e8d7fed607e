package client

import (
	"context"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// The DirectionService methods all change or read a whole rule set keyed by prefix, so each
// is idempotent: AddRules upserts, RemoveRules ignores prefixes already gone, and a failed
// store write answers Unavailable with nothing changed. All five are therefore retried on
// Unavailable; a retry that follows a lost reply may bump the version once more, nothing
// else. Errors are the server's status errors, unchanged.

// SetDirections replaces the gateway's whole rule set with rules (none = every number is
// blocked) and returns the rule set now in force. Retried on Unavailable.
func (c *Client) SetDirections(ctx context.Context, gateway string, rules []*telephonyv1.DirectionRule) (*telephonyv1.Directions, error) {
	resp, err := invoke(ctx, c, true, c.dirs.SetDirections, &telephonyv1.SetDirectionsRequest{Gateway: gateway, Rules: rules})
	if err != nil {
		return nil, err
	}
	return resp.GetDirections(), nil
}

// AddRules adds rules to the gateway's set, replacing those with the same prefix, and
// returns the rule set now in force. Retried on Unavailable.
func (c *Client) AddRules(ctx context.Context, gateway string, rules []*telephonyv1.DirectionRule) (*telephonyv1.Directions, error) {
	resp, err := invoke(ctx, c, true, c.dirs.AddRules, &telephonyv1.AddRulesRequest{Gateway: gateway, Rules: rules})
	if err != nil {
		return nil, err
	}
	return resp.GetDirections(), nil
}

// RemoveRules removes the gateway's rules with the given prefixes ("" is the rule that
// matches every number; prefixes without a rule are ignored) and returns the rule set now
// in force. Retried on Unavailable.
func (c *Client) RemoveRules(ctx context.Context, gateway string, prefixes []string) (*telephonyv1.Directions, error) {
	resp, err := invoke(ctx, c, true, c.dirs.RemoveRules, &telephonyv1.RemoveRulesRequest{Gateway: gateway, Prefixes: prefixes})
	if err != nil {
		return nil, err
	}
	return resp.GetDirections(), nil
}

// ListDirections returns the gateway's rules, sorted by prefix, and their version.
// Retried on Unavailable.
func (c *Client) ListDirections(ctx context.Context, gateway string) (*telephonyv1.Directions, error) {
	resp, err := invoke(ctx, c, true, c.dirs.ListDirections, &telephonyv1.ListDirectionsRequest{Gateway: gateway})
	if err != nil {
		return nil, err
	}
	return resp.GetDirections(), nil
}

// CheckDirection tells whether number (written as for PlaceCall's to) would be dialled
// through the gateway, as what, and which rule decided; it places no call. A blocked number
// is an answer, not an error. Retried on Unavailable.
func (c *Client) CheckDirection(ctx context.Context, gateway, number string) (*telephonyv1.CheckDirectionResponse, error) {
	return invoke(ctx, c, true, c.dirs.CheckDirection, &telephonyv1.CheckDirectionRequest{Gateway: gateway, Number: number})
}
