package directions

import (
	"context"
	"fmt"
)

// Store is the source of truth for every gateway's rules. Each gateway has a version that
// is 0 until its rules are first set and grows with every change, so "version differs"
// means "reload". Every change is atomic: a reader sees a gateway's rules and version
// either all before or all after it. Implementations are safe for concurrent use.
//
// Mutations validate their input first (ErrInvalidRule, ErrInvalidGateway) and then
// always make a new version, even when the rules end up the same.
type Store interface {
	// Rules returns a gateway's rules sorted by prefix and their version; a gateway never
	// set has no rules and version 0.
	Rules(ctx context.Context, gateway string) ([]Rule, uint64, error)
	// Version returns a gateway's version (0 = never set) without its rules.
	Version(ctx context.Context, gateway string) (uint64, error)
	// Replace makes rules the gateway's whole rule set and returns the new version. No
	// rules is a valid set: it blocks every number, and Seed will not refill it.
	Replace(ctx context.Context, gateway string, rules []Rule) (uint64, error)
	// Add sets the action of each rule's prefix, keeping the other rules.
	Add(ctx context.Context, gateway string, rules []Rule) (uint64, error)
	// Remove deletes the rules with these prefixes; prefixes without a rule are ignored.
	Remove(ctx context.Context, gateway string, prefixes []string) (uint64, error)
	// Seed sets rules only if the gateway has never had rules (version 0), atomically, so
	// config seeds a new gateway and never undoes changes made through the API. It
	// reports whether it set them; seeding no rules sets nothing.
	Seed(ctx context.Context, gateway string, rules []Rule) (seeded bool, err error)
	// Subscribe calls changed with the ID of every gateway changed by any instance from
	// now on, and with "" (meaning: any gateway may have changed) each time the
	// subscription is established, since changes made while it was not are lost. changed
	// is called on Subscribe's goroutine, one call at a time, and must be quick. Subscribe
	// blocks until ctx ends (returning ctx.Err()) or the subscription fails (returning
	// why); the caller subscribes again.
	Subscribe(ctx context.Context, changed func(gateway string)) error
}

// changeInput validates a gateway and the rules of a Replace, Add or Seed and returns them
// sorted without duplicates.
func changeInput(gateway string, rules []Rule) ([]Rule, error) {
	if err := validateGateway(gateway); err != nil {
		return nil, err
	}
	return canonical(rules)
}

// removeInput validates a gateway and the prefixes of a Remove.
func removeInput(gateway string, prefixes []string) error {
	if err := validateGateway(gateway); err != nil {
		return err
	}
	for _, p := range prefixes {
		if err := validatePrefix(p); err != nil {
			return err
		}
	}
	return nil
}

// validateGateway rejects the empty ID: it would make an empty Redis hash tag, which puts
// a gateway's keys in different Cluster slots, and "" means "every gateway" to Subscribe.
func validateGateway(gateway string) error {
	if gateway == "" {
		return fmt.Errorf("%w: empty", ErrInvalidGateway)
	}
	return nil
}
