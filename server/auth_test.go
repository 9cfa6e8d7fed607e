package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/ccplane/telephony/client"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/server"
	"github.com/ccplane/telephony/sipengine"
)

const (
	dialerToken = "dialer-secret-0123456789"
	agent7Token = "agent7-secret-0123456789"
	agent8Token = "agent8-secret-0123456789"
	adminToken  = "admin-secret-0123456789"
)

var testAuth = server.AuthConfig{Tokens: []server.Token{
	{Name: "crm", Secret: dialerToken, Role: server.RoleDialer},
	{Name: "desk-7", Secret: agent7Token, Role: server.RoleAgent, Labels: map[string]string{"agent_id": "7"}},
	{Name: "desk-8", Secret: agent8Token, Role: server.RoleAgent, Labels: map[string]string{"agent_id": "8"}},
	{Name: "ops", Secret: adminToken, Role: server.RoleAdmin},
}}

// startAuthStack is a stack with testAuth's tokens and a gateway that answers nothing, so that
// calls end on their own (SETUP_TIMEOUT) soon after they are placed.
func startAuthStack(t *testing.T) *stack {
	return startStack(t, stackConfig{
		gateways:     []sipengine.Gateway{{Name: "gw", Address: "127.0.0.1:9"}},
		setupTimeout: 300 * time.Millisecond,
		auth:         testAuth,
	})
}

// tokenConn sends a bearer token with every RPC.
type tokenConn struct {
	cc    *grpc.ClientConn
	token string
}

func (c tokenConn) ctx(ctx context.Context) context.Context {
	if c.token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token)
}

func (c tokenConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return c.cc.Invoke(c.ctx(ctx), method, args, reply, opts...)
}

func (c tokenConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return c.cc.NewStream(c.ctx(ctx), desc, method, opts...)
}

// callAny calls any RPC with an empty request (the handlers refuse it as invalid, so nothing
// changes) and returns the code: whether the interceptor let it through is all that matters.
func callAny(t *testing.T, cc grpc.ClientConnInterface, method string, streaming bool) codes.Code {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !streaming {
		return status.Code(cc.Invoke(ctx, method, &emptypb.Empty{}, &emptypb.Empty{}))
	}
	s, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method)
	if err != nil {
		return status.Code(err)
	}
	if err := s.SendMsg(&emptypb.Empty{}); err != nil {
		return status.Code(err)
	}
	if err := s.CloseSend(); err != nil {
		return status.Code(err)
	}
	return status.Code(s.RecvMsg(&emptypb.Empty{}))
}

// TestRoles calls every RPC of the three services with each role's token: the roles the spec
// gives get through (whatever the handler then answers), the others get PermissionDenied.
func TestRoles(t *testing.T) {
	st := startAuthStack(t)
	callRead := map[string]bool{"WatchCall": true, "GetCall": true, "ListCalls": true}
	want := map[server.Role]func(service, method string) bool{
		server.RoleAdmin: func(string, string) bool { return true },
		server.RoleDialer: func(service, _ string) bool {
			return service == telephonyv1.CallService_ServiceDesc.ServiceName
		},
		server.RoleAgent: func(service, method string) bool {
			return service == telephonyv1.CallService_ServiceDesc.ServiceName && callRead[method]
		},
	}
	tokens := map[server.Role]string{server.RoleAdmin: adminToken, server.RoleDialer: dialerToken, server.RoleAgent: agent7Token}
	descs := []grpc.ServiceDesc{telephonyv1.CallService_ServiceDesc, telephonyv1.DirectionService_ServiceDesc, telephonyv1.ReportService_ServiceDesc}
	for role, token := range tokens {
		cc := tokenConn{cc: st.conn, token: token}
		for _, d := range descs {
			type rpc struct {
				name      string
				streaming bool
			}
			var rpcs []rpc
			for _, m := range d.Methods {
				rpcs = append(rpcs, rpc{name: m.MethodName})
			}
			for _, s := range d.Streams {
				rpcs = append(rpcs, rpc{name: s.StreamName, streaming: true})
			}
			for _, r := range rpcs {
				t.Run(string(role)+"/"+d.ServiceName+"/"+r.name, func(t *testing.T) {
					code := callAny(t, cc, "/"+d.ServiceName+"/"+r.name, r.streaming)
					allowed := want[role](d.ServiceName, r.name)
					switch {
					case allowed && (code == codes.PermissionDenied || code == codes.Unauthenticated):
						t.Errorf("code %v, want the call let through", code)
					case !allowed && code != codes.PermissionDenied:
						t.Errorf("code %v, want PermissionDenied", code)
					}
				})
			}
		}
	}
}

// TestUnauthenticated checks that a missing or unknown token gets Unauthenticated, unary and
// streaming, while health and reflection stay open.
func TestUnauthenticated(t *testing.T) {
	st := startAuthStack(t)
	for name, cc := range map[string]grpc.ClientConnInterface{
		"no token":      st.conn,
		"wrong token":   tokenConn{cc: st.conn, token: "not-a-token"},
		"token prefix":  tokenConn{cc: st.conn, token: dialerToken[:10]},
		"another case":  tokenConn{cc: st.conn, token: strings.ToUpper(adminToken)},
		"empty bearer ": tokenConn{cc: st.conn, token: " "},
	} {
		t.Run(name, func(t *testing.T) {
			if code := callAny(t, cc, telephonyv1.CallService_ListCalls_FullMethodName, false); code != codes.Unauthenticated {
				t.Errorf("ListCalls: code %v, want Unauthenticated", code)
			}
			if code := callAny(t, cc, telephonyv1.CallService_WatchCall_FullMethodName, true); code != codes.Unauthenticated {
				t.Errorf("WatchCall: code %v, want Unauthenticated", code)
			}
		})
	}
	ctx := context.Background()
	resp, err := healthpb.NewHealthClient(st.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "telephony.v1.CallService"})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health without a token: %v %v, want SERVING", resp, err)
	}
	rs, err := reflectionpb.NewServerReflectionClient(st.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.Recv(); err != nil {
		t.Errorf("reflection without a token: %v", err)
	}
	_ = rs.CloseSend()
}

// TestAgentSeesOnlyItsCalls places a call for agent 7 and one for agent 8 and checks that
// agent 7 can read and watch its own and that the other one looks missing.
func TestAgentSeesOnlyItsCalls(t *testing.T) {
	st := startAuthStack(t)
	ctx := context.Background()
	dialer := telephonyv1.NewCallServiceClient(tokenConn{cc: st.conn, token: dialerToken})
	agent := telephonyv1.NewCallServiceClient(tokenConn{cc: st.conn, token: agent7Token})
	place := func(agentID string) string {
		resp, err := dialer.PlaceCall(ctx, &telephonyv1.PlaceCallRequest{Gateway: "gw", To: "15550100200",
			Labels: map[string]string{"agent_id": agentID, "campaign": "spring"}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetCall().GetCallId()
	}
	own, other := place("7"), place("8")

	if _, err := agent.GetCall(ctx, &telephonyv1.GetCallRequest{CallId: own}); err != nil {
		t.Errorf("GetCall of its own call: %v", err)
	}
	// The client package's token option reaches the same check.
	c := client.New(st.conn, client.WithInsecure(), client.WithToken(agent7Token))
	if _, err := c.GetCall(ctx, own); err != nil {
		t.Errorf("client.GetCall of its own call: %v", err)
	}
	_, errOther := agent.GetCall(ctx, &telephonyv1.GetCallRequest{CallId: other})
	_, errMissing := agent.GetCall(ctx, &telephonyv1.GetCallRequest{CallId: "0b7ae9a1-0d5c-4a4e-9a43-9d1b0f0c1d2e"})
	if status.Code(errOther) != codes.NotFound || status.Convert(errOther).Message() != status.Convert(errMissing).Message() {
		t.Errorf("GetCall of another agent's call: %v, want NotFound like a missing call (%v)", errOther, errMissing)
	}
	if _, err := dialer.GetCall(ctx, &telephonyv1.GetCallRequest{CallId: other}); err != nil {
		t.Errorf("dialer GetCall: %v", err)
	}

	evs, err := watch(t, agent, own, 0, nil)
	if err != nil || len(evs) == 0 || !strings.HasPrefix(render(evs[len(evs)-1]), "ended") {
		t.Errorf("WatchCall of its own call: %v %v, want its events to the end", renderAll(evs), err)
	}
	if _, err := watch(t, agent, other, 0, nil); status.Code(err) != codes.NotFound {
		t.Errorf("WatchCall of another agent's call: %v, want NotFound", err)
	}

	list := func(c telephonyv1.CallServiceClient, labels map[string]string) []string {
		t.Helper()
		resp, err := c.ListCalls(ctx, &telephonyv1.ListCallsRequest{Labels: labels})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range resp.GetCalls() {
			ids = append(ids, c.GetCallId())
		}
		return ids
	}
	for _, tc := range []struct {
		name   string
		c      telephonyv1.CallServiceClient
		labels map[string]string
		want   []string
	}{
		{"agent, no filter", agent, nil, []string{own}},
		{"agent asks for agent 8", agent, map[string]string{"agent_id": "8"}, nil},
		{"agent, own campaign filter", agent, map[string]string{"campaign": "spring"}, []string{own}},
		{"agent, other campaign", agent, map[string]string{"campaign": "autumn"}, nil},
		{"dialer sees both", dialer, nil, []string{other, own}},
	} {
		if got := list(tc.c, tc.labels); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: ListCalls %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestAuthConfigValidate(t *testing.T) {
	err := server.AuthConfig{Tokens: []server.Token{
		{Name: "a", Secret: "s1", Role: "root"},
		{Name: "b", Secret: "s2", Role: server.RoleAgent},
		{Name: "a", Secret: "", Role: server.RoleDialer},
		{Name: "", Secret: "s1", Role: server.RoleAdmin},
	}}.Validate()
	if err == nil {
		t.Fatal("Validate accepted broken tokens")
	}
	for _, want := range []string{`role "root"`, "(b): an agent token needs labels", "name used twice", "token is empty", "tokens[3]: name is empty", "token used by an earlier entry"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "s1") || strings.Contains(err.Error(), "s2") {
		t.Errorf("error %q shows a secret", err)
	}
	if err := testAuth.Validate(); err != nil {
		t.Errorf("valid tokens: %v", err)
	}
}
