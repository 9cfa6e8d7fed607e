package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ccplane/telephony/directions"
	"github.com/ccplane/telephony/server"
	"github.com/ccplane/telephony/sipengine"
	"github.com/ccplane/telephony/tracker"
)

// fileConfig is the YAML configuration file; README.md documents every key.
type fileConfig struct {
	GRPC struct {
		Listen    string    `yaml:"listen"`
		TLS       grpcTLS   `yaml:"tls"`
		RateLimit rateLimit `yaml:"rate_limit"`
	} `yaml:"grpc"`
	SIP struct {
		Listen       string   `yaml:"listen"`
		ExternalHost string   `yaml:"external_host"`
		SetupTimeout duration `yaml:"setup_timeout"`
		EndGrace     duration `yaml:"end_grace"`
		SDPFile      string   `yaml:"sdp_file"`
		// KeepAlive tunes how gateways' OPTIONS answers decide up and down; each gateway
		// sets its own interval.
		KeepAlive struct {
			Timeout   duration `yaml:"timeout"`
			DownAfter int      `yaml:"down_after"`
			UpAfter   int      `yaml:"up_after"`
		} `yaml:"keepalive"`
	} `yaml:"sip"`
	Calls struct {
		RingTimeout     duration `yaml:"ring_timeout"`
		MaxDuration     duration `yaml:"max_duration"`
		EventRetention  duration `yaml:"event_retention"`
		RecordRetention duration `yaml:"record_retention"`
		ReportLabels    []string `yaml:"report_labels"`
	} `yaml:"calls"`
	Redis struct {
		URL string `yaml:"url"`
		// Heartbeat is how often this instance proves it is alive; it is taken for dead,
		// and its unfinished calls ended as LOST, after three missed beats.
		Heartbeat duration `yaml:"heartbeat"`
		// ShareCalls makes the instances on this Redis answer for each other's calls:
		// each call's events are appended to a stream in Redis for WatchCall on any
		// instance, and HangUp reaches the call's owner. Off only for a lone instance that
		// wants to save those writes.
		ShareCalls *bool `yaml:"share_calls"`
		// PublishInterval is the least time between two appends of this instance's call
		// events to Redis (server.Shared.PublishInterval); 0 appends each at once.
		PublishInterval duration `yaml:"publish_interval"`
	} `yaml:"redis"`
	Metrics struct {
		Listen string `yaml:"listen"`
		// PProf adds Go's profiles at /debug/pprof/ on the same listener: for measuring, not
		// for a port others can reach.
		PProf bool `yaml:"pprof"`
	} `yaml:"metrics"`
	// Shutdown.Grace bounds each step of a shutdown after the live calls were ended: writing
	// the buffered records, and letting open streams finish.
	Shutdown struct {
		Grace duration `yaml:"grace"`
	} `yaml:"shutdown"`
	Log struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`
	Gateways []gatewayConfig `yaml:"gateways"`
	Auth     struct {
		Tokens []tokenConfig `yaml:"tokens"`
		// TokensFile holds more tokens (the same list), for secrets kept apart; a relative
		// path is relative to the configuration file.
		TokensFile string `yaml:"tokens_file"`
	} `yaml:"auth"`
}

// tokenConfig is one bearer token; no tokens at all turns authentication off.
type tokenConfig struct {
	Name   string            `yaml:"name"`
	Token  secret            `yaml:"token"`
	Role   string            `yaml:"role"`
	Labels map[string]string `yaml:"labels"`
	// RateLimit overrides grpc.rate_limit for this token; unset = the default.
	RateLimit *rateLimit `yaml:"rate_limit"`
}

// authConfig is the server's view of auth.tokens (with those of auth.tokens_file).
func (c fileConfig) authConfig() server.AuthConfig {
	var a server.AuthConfig
	for _, t := range c.Auth.Tokens {
		a.Tokens = append(a.Tokens, server.Token{Name: t.Name, Secret: string(t.Token), Role: server.Role(t.Role), Labels: t.Labels})
	}
	return a
}

// loadTokensFile appends the tokens of auth.tokens_file to auth.tokens.
func (c *fileConfig) loadTokensFile(configPath string) error {
	path := c.Auth.TokensFile
	if path == "" {
		return nil
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(configPath), path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("auth.tokens_file: %w", err)
	}
	var tokens []tokenConfig
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&tokens); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("auth.tokens_file %s: %w", path, err)
	}
	c.Auth.Tokens = append(c.Auth.Tokens, tokens...)
	return nil
}

type gatewayConfig struct {
	Name      string `yaml:"name"`
	Address   string `yaml:"address"`
	Transport string `yaml:"transport"`
	Username  string `yaml:"username"`
	Password  secret `yaml:"password"`
	FromUser  string `yaml:"from_user"`
	FromHost  string `yaml:"from_host"`
	// Allow and Deny seed the gateway's directions when the store has none for it yet.
	Allow []string `yaml:"allow"`
	Deny  []string `yaml:"deny"`
	// Meanings are what this provider means by some codes, shown in reports next to the
	// standard meaning (e.g. 480: "channel capacity exceeded").
	Meanings map[int]string `yaml:"meanings"`
	// The provider's limits: PlaceCall waits up to QueueTimeout for a slot, then refuses.
	MaxConcurrentCalls int      `yaml:"max_concurrent_calls"`
	MaxCPS             float64  `yaml:"max_cps"`
	QueueTimeout       duration `yaml:"queue_timeout"`
	// KeepAlive is the OPTIONS interval; unset = defaultKeepAlive, 0s = no keep-alive.
	KeepAlive *duration `yaml:"keepalive"`
}

// defaultKeepAlive is the OPTIONS interval of a gateway that does not set one.
const defaultKeepAlive = 30 * time.Second

// seedRules are the gateway's configured directions.
func (g gatewayConfig) seedRules() []directions.Rule {
	rules := make([]directions.Rule, 0, len(g.Allow)+len(g.Deny))
	for _, p := range g.Allow {
		rules = append(rules, directions.Rule{Prefix: strings.TrimPrefix(p, "+"), Action: directions.ActionAllow})
	}
	for _, p := range g.Deny {
		rules = append(rules, directions.Rule{Prefix: strings.TrimPrefix(p, "+"), Action: directions.ActionDeny})
	}
	return rules
}

// secret keeps passwords out of logs and error messages: it prints as a placeholder however
// it is formatted; string(s) is the only way to the value.
type secret string

func (s secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// LogValue implements slog.LogValuer.
func (s secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

func (g gatewayConfig) gateway() sipengine.Gateway {
	keepAlive := defaultKeepAlive
	if g.KeepAlive != nil {
		keepAlive = time.Duration(*g.KeepAlive)
	}
	return sipengine.Gateway{
		Name: g.Name, Address: g.Address, Transport: sipengine.Transport(g.Transport),
		Username: g.Username, Password: string(g.Password), FromUser: g.FromUser, FromHost: g.FromHost,
		MaxConcurrentCalls: g.MaxConcurrentCalls, MaxCPS: g.MaxCPS, QueueTimeout: time.Duration(g.QueueTimeout),
		KeepAlive: keepAlive,
	}
}

// duration reads "30s", "2m" and the like.
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 30s or 2m", n.Line, n.Value)
	}
	*d = duration(v)
	return nil
}

func defaultConfig() fileConfig {
	var c fileConfig
	c.GRPC.Listen = "127.0.0.1:50051"
	c.SIP.Listen = "127.0.0.1:5060"
	c.Log.Level = "info"
	c.Log.Format = "text"
	c.Shutdown.Grace = duration(10 * time.Second)
	c.Redis.Heartbeat = duration(tracker.DefaultOwnershipInterval)
	c.Redis.PublishInterval = duration(server.DefaultPublishInterval)
	return c
}

// loadConfig reads a YAML file over the defaults; unknown keys are errors, so that a typo is
// not silently ignored.
func loadConfig(path string) (fileConfig, error) {
	c := defaultConfig()
	raw, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	c.GRPC.TLS.resolve(filepath.Dir(path))
	return c, errors.Join(c.loadTokensFile(path), c.validate())
}

// validate reports every problem at once.
func (c fileConfig) validate() error {
	var errs []error
	if c.GRPC.Listen == "" {
		errs = append(errs, errors.New("grpc.listen is empty"))
	}
	if _, err := c.GRPC.TLS.config(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.validateRateLimits()...)
	if c.SIP.Listen == "" {
		errs = append(errs, errors.New("sip.listen is empty"))
	}
	if c.Redis.URL != "" {
		if _, err := redisOptions(c.Redis.URL); err != nil {
			errs = append(errs, fmt.Errorf("redis.url: %w", err))
		}
	}
	if _, err := parseLevel(c.Log.Level); err != nil {
		errs = append(errs, err)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		errs = append(errs, fmt.Errorf("log.format %q is not text or json", c.Log.Format))
	}
	// The record stores share these rules for report labels, whichever store is in use.
	if err := (tracker.RedisConfig{ReportLabels: c.Calls.ReportLabels}).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("calls.report_labels: %w", err))
	}
	if c.Redis.Heartbeat <= 0 {
		errs = append(errs, errors.New("redis.heartbeat must be positive"))
	}
	if c.Redis.PublishInterval < 0 {
		errs = append(errs, errors.New("redis.publish_interval must not be negative"))
	}
	if c.Shutdown.Grace <= 0 {
		errs = append(errs, errors.New("shutdown.grace must be positive"))
	}
	if k := c.SIP.KeepAlive; k.Timeout < 0 || k.DownAfter < 0 || k.UpAfter < 0 {
		errs = append(errs, errors.New("sip.keepalive: timeout, down_after and up_after must not be negative"))
	}
	if len(c.Gateways) == 0 {
		errs = append(errs, errors.New("gateways: none defined; calls would have nowhere to go"))
	}
	for i, g := range c.Gateways {
		if err := g.gateway().Validate(); err != nil {
			errs = append(errs, fmt.Errorf("gateways[%d] (%s): %w", i, g.Name, err))
		}
		for code := range g.Meanings {
			if code < 100 || code > 999 {
				errs = append(errs, fmt.Errorf("gateways[%d] (%s) meanings: %d is not a SIP code", i, g.Name, code))
			}
		}
		if _, err := directions.Compile(g.seedRules()); err != nil {
			errs = append(errs, fmt.Errorf("gateways[%d] (%s) allow/deny: %w", i, g.Name, err))
		}
	}
	if err := c.authConfig().Validate(); err != nil {
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			errs = append(errs, fmt.Errorf("auth.%w", e))
		}
	}
	return errors.Join(errs...)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("log.level %q is not debug, info, warn or error", s)
	}
	return l, nil
}
