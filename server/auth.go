package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// Role is what a token's holder may do; methodRoles says which RPCs each role may call.
type Role string

const (
	// RoleDialer places, ends, watches and reads calls: a contact-center application.
	RoleDialer Role = "dialer"
	// RoleAgent watches and reads only the calls whose labels match all of its token's
	// labels: an agent desktop.
	RoleAgent Role = "agent"
	// RoleAdmin may call every RPC: directions, reports and calls.
	RoleAdmin Role = "admin"
)

// methodRoles is the one table of which roles may call which RPC. An RPC missing here is
// refused to every role.
var methodRoles = map[string][]Role{
	telephonyv1.CallService_PlaceCall_FullMethodName: {RoleDialer, RoleAdmin},
	telephonyv1.CallService_HangUp_FullMethodName:    {RoleDialer, RoleAdmin},
	telephonyv1.CallService_WatchCall_FullMethodName: {RoleDialer, RoleAgent, RoleAdmin},
	telephonyv1.CallService_GetCall_FullMethodName:   {RoleDialer, RoleAgent, RoleAdmin},
	telephonyv1.CallService_ListCalls_FullMethodName: {RoleDialer, RoleAgent, RoleAdmin},

	telephonyv1.DirectionService_SetDirections_FullMethodName:  {RoleAdmin},
	telephonyv1.DirectionService_AddRules_FullMethodName:       {RoleAdmin},
	telephonyv1.DirectionService_RemoveRules_FullMethodName:    {RoleAdmin},
	telephonyv1.DirectionService_ListDirections_FullMethodName: {RoleAdmin},
	telephonyv1.DirectionService_CheckDirection_FullMethodName: {RoleAdmin},

	telephonyv1.ReportService_GetSipReport_FullMethodName: {RoleAdmin},

	telephonyv1.GatewayService_ListGateways_FullMethodName: {RoleDialer, RoleAdmin},
}

// openServices are served without a token and without a rate limit: load balancers probe
// health, and grpcurl needs reflection.
var openServices = map[string]bool{
	healthpb.Health_ServiceDesc.ServiceName:                    true,
	reflectionv1.ServerReflection_ServiceDesc.ServiceName:      true,
	reflectionv1alpha.ServerReflection_ServiceDesc.ServiceName: true,
}

// AuthConfig holds the bearer tokens callers present ("authorization: Bearer <token>").
// No tokens means authentication is off: every caller may call every RPC.
type AuthConfig struct {
	Tokens []Token
}

// Token is one bearer token and who holds it.
type Token struct {
	// Name identifies the holder in logs (e.g. "crm", "desk-7"); the secret never appears.
	Name string
	// Secret is the token itself.
	Secret string
	Role   Role
	// Labels scope an agent to the calls carrying all of them (e.g. agent_id=7); required
	// for agents, unused for the other roles.
	Labels map[string]string
}

// String shows the holder and role, never the secret.
func (t Token) String() string { return fmt.Sprintf("%s (%s)", t.Name, t.Role) }

// LogValue implements slog.LogValuer without the secret.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", t.Name), slog.String("role", string(t.Role)))
}

// Validate reports every problem at once: names, secrets and roles, and agents without labels.
func (c AuthConfig) Validate() error {
	var errs []error
	names := make(map[string]bool)
	secrets := make(map[string]bool)
	for i, t := range c.Tokens {
		switch {
		case t.Name == "":
			errs = append(errs, fmt.Errorf("tokens[%d]: name is empty", i))
		case names[t.Name]:
			errs = append(errs, fmt.Errorf("tokens[%d] (%s): name used twice", i, t.Name))
		}
		names[t.Name] = true
		switch {
		case t.Secret == "":
			errs = append(errs, fmt.Errorf("tokens[%d] (%s): token is empty", i, t.Name))
		case secrets[t.Secret]:
			errs = append(errs, fmt.Errorf("tokens[%d] (%s): token used by an earlier entry too", i, t.Name))
		}
		secrets[t.Secret] = true
		switch t.Role {
		case RoleDialer, RoleAdmin:
		case RoleAgent:
			if len(t.Labels) == 0 {
				errs = append(errs, fmt.Errorf("tokens[%d] (%s): an agent token needs labels (e.g. agent_id) to scope its calls", i, t.Name))
			}
		default:
			errs = append(errs, fmt.Errorf("tokens[%d] (%s): role %q is not dialer, agent or admin", i, t.Name, t.Role))
		}
	}
	return errors.Join(errs...)
}

// Identity is the authenticated caller, in the context of every authenticated RPC.
type Identity struct {
	Name   string
	Role   Role
	Labels map[string]string
}

type identityKey struct{}

// IdentityFromContext returns the caller authenticated by the auth interceptor; false when
// authentication is off.
func IdentityFromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// callScope returns the labels every call visible to the caller carries; nil: every call.
func callScope(ctx context.Context) map[string]string {
	id, ok := IdentityFromContext(ctx)
	if !ok || id.Role != RoleAgent {
		return nil
	}
	return id.Labels
}

// inScope reports whether a call with labels is visible within scope.
func inScope(scope, labels map[string]string) bool {
	for k, v := range scope {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

type knownToken struct {
	hash [sha256.Size]byte
	id   Identity
}

// authenticator checks bearer tokens against the configured ones and the caller's role
// against methodRoles.
type authenticator struct {
	tokens []knownToken
}

func newAuthenticator(cfg AuthConfig, log *slog.Logger) *authenticator {
	a := &authenticator{}
	for _, t := range cfg.Tokens {
		if t.Secret == "" || (t.Role == RoleAgent && len(t.Labels) == 0) {
			// Validate refuses these; an agent without labels would see every call.
			log.Error("token ignored: empty, or an agent without labels", "token", t)
			continue
		}
		a.tokens = append(a.tokens, knownToken{hash: sha256.Sum256([]byte(t.Secret)),
			id: Identity{Name: t.Name, Role: t.Role, Labels: maps.Clone(t.Labels)}})
	}
	return a
}

// lookup finds the token's holder in constant time: hashes of equal length are compared
// with every known token, so neither the length nor a matching prefix shows in the timing.
func (a *authenticator) lookup(secret string) (Identity, bool) {
	h := sha256.Sum256([]byte(secret))
	var found Identity
	match := 0
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare(h[:], t.hash[:]) == 1 {
			found, match = t.id, 1
		}
	}
	return found, match == 1
}

// authenticate is the auth.AuthFunc: Unauthenticated without a known token, PermissionDenied
// when the token's role may not call the method.
func (a *authenticator) authenticate(ctx context.Context) (context.Context, error) {
	secret, err := auth.AuthFromMD(ctx, "bearer")
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, "a bearer token is required (authorization: Bearer <token>)")
	}
	id, ok := a.lookup(secret)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "unknown bearer token")
	}
	logging.AddFields(ctx, logging.Fields{"auth.name", id.Name, "auth.role", string(id.Role)})
	method, _ := grpc.Method(ctx)
	if !allowed(method, id.Role) {
		return nil, status.Errorf(codes.PermissionDenied, "role %s may not call %s", id.Role, method)
	}
	return context.WithValue(ctx, identityKey{}, id), nil
}

func allowed(method string, r Role) bool {
	return slices.Contains(methodRoles[method], r)
}

// guarded matches every service but health and reflection: the services behind the auth
// and rate-limit interceptors.
var guarded = selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool {
	return !openServices[c.Service]
})

// authInterceptors returns the unary and stream auth interceptors behind the selector, or
// nils when no tokens are configured.
func authInterceptors(cfg AuthConfig, log *slog.Logger) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	if len(cfg.Tokens) == 0 {
		log.Warn("authentication off: no tokens configured, every caller may call every RPC")
		return nil, nil
	}
	a := newAuthenticator(cfg, log)
	return selector.UnaryServerInterceptor(auth.UnaryServerInterceptor(a.authenticate), guarded),
		selector.StreamServerInterceptor(auth.StreamServerInterceptor(a.authenticate), guarded)
}
