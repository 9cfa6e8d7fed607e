package server

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/ccplane/telephony/sipengine"
)

// Config holds the call service's settings; zero values mean the defaults given.
type Config struct {
	// Gateways are the provider gateways calls may be placed through, by name.
	Gateways []sipengine.Gateway
	// RingTimeout is the default for PlaceCallRequest.ring_timeout; default 60 s.
	RingTimeout time.Duration
	// MaxDuration is the default for PlaceCallRequest.max_duration; default 1 h.
	MaxDuration time.Duration
	// HangUpWait bounds how long HangUp waits for the call to end before it returns the call
	// as it stands; default 5 s: two of the engine's EndGrace (2 s) periods, for a CANCEL
	// that must wait for a provisional response and then for its 487, and a margin.
	HangUpWait time.Duration
	// EventRetention is how long a call's event history stays watchable after it ended;
	// default 10 min.
	EventRetention time.Duration
	// Shared makes this instance one of several that answer for each other's calls through
	// Redis; nil for a single instance.
	Shared *Shared
	// Metrics receives the call series; nil records none.
	Metrics *Metrics
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

const (
	maxRingTimeout = 10 * time.Minute
	maxMaxDuration = 24 * time.Hour
)

func (c Config) withDefaults() (Config, error) {
	seen := make(map[string]bool)
	for _, g := range c.Gateways {
		if err := g.Validate(); err != nil {
			return c, fmt.Errorf("gateway %q: %w", g.Name, err)
		}
		if seen[g.Name] {
			return c, fmt.Errorf("gateway %q defined twice", g.Name)
		}
		seen[g.Name] = true
	}
	if c.RingTimeout <= 0 {
		c.RingTimeout = 60 * time.Second
	}
	if c.MaxDuration <= 0 {
		c.MaxDuration = time.Hour
	}
	if c.RingTimeout > maxRingTimeout || c.MaxDuration > maxMaxDuration {
		return c, fmt.Errorf("default ring timeout or max duration above %v / %v", maxRingTimeout, maxMaxDuration)
	}
	if c.HangUpWait <= 0 {
		c.HangUpWait = 5 * time.Second
	}
	if c.EventRetention <= 0 {
		c.EventRetention = 10 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	var err error
	if c.Shared, err = c.Shared.withDefaults(); err != nil {
		return c, err
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}
