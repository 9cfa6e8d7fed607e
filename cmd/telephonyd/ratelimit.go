package main

import (
	"fmt"

	"github.com/ccplane/telephony/server"
)

// rateLimit is grpc.rate_limit, or a token's rate_limit overriding it: a token bucket of rps
// requests per second and bursts of burst (0 = rps rounded up); rps 0 = unlimited.
type rateLimit struct {
	RPS   float64 `yaml:"rps"`
	Burst int     `yaml:"burst"`
}

func (r rateLimit) limit() server.RateLimit { return server.RateLimit{RPS: r.RPS, Burst: r.Burst} }

// rateLimitConfig is the server's view of grpc.rate_limit and the tokens' overrides.
func (c fileConfig) rateLimitConfig() server.RateLimitConfig {
	rl := server.RateLimitConfig{Default: c.GRPC.RateLimit.limit()}
	for _, t := range c.Auth.Tokens {
		if t.RateLimit != nil {
			if rl.Tokens == nil {
				rl.Tokens = make(map[string]server.RateLimit)
			}
			rl.Tokens[t.Name] = t.RateLimit.limit()
		}
	}
	return rl
}

// validateRateLimits reports every invalid rate limit, by its key.
func (c fileConfig) validateRateLimits() []error {
	var errs []error
	if err := c.GRPC.RateLimit.limit().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("grpc.rate_limit: %w", err))
	}
	for i, t := range c.Auth.Tokens {
		if t.RateLimit == nil {
			continue
		}
		if err := t.RateLimit.limit().Validate(); err != nil {
			errs = append(errs, fmt.Errorf("auth.tokens[%d] (%s).rate_limit: %w", i, t.Name, err))
		}
	}
	return errs
}
