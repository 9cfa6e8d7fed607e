package directions

import "errors"

// Sentinel errors, so callers can match them with errors.Is whatever the message says.
var (
	// ErrInvalidNumber means a dialled number cannot be normalised: bad input, not a
	// blocked call.
	ErrInvalidNumber = errors.New("directions: invalid number")
	// ErrInvalidRule means a rule (or a prefix to remove) is malformed, or one request
	// gives one prefix two different actions.
	ErrInvalidRule = errors.New("directions: invalid rule")
	// ErrInvalidGateway means a gateway ID is empty.
	ErrInvalidGateway = errors.New("directions: invalid gateway ID")
	// ErrUnavailable means there are no rules to decide with: the gateway's rules were
	// never loaded (the store is unreachable) or the gateway is not configured. The call
	// must not be placed.
	ErrUnavailable = errors.New("directions: rules unavailable")
	// ErrUnknownGateway means the cache was not configured with the gateway. Errors that
	// wrap it also wrap ErrUnavailable.
	ErrUnknownGateway = errors.New("directions: unknown gateway")
)
