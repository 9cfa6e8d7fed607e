package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/ccplane/telephony/directions"
	"github.com/ccplane/telephony/internal/testenv"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/server"
	"github.com/ccplane/telephony/sipengine"
	"github.com/ccplane/telephony/tracker"
)

// stack is the service as telephonyd wires it (engine, call service, in-memory records,
// gRPC with its interceptors) with a gRPC client over an in-memory connection.
type stack struct {
	conn       *grpc.ClientConn
	client     telephonyv1.CallServiceClient
	directions telephonyv1.DirectionServiceClient
	reports    telephonyv1.ReportServiceClient
	gateways   telephonyv1.GatewayServiceClient
	engine     *sipengine.Engine
	metrics    *prometheus.Registry
}

type stackConfig struct {
	gateways     []sipengine.Gateway
	setupTimeout time.Duration
	// rules are the gateways' directions; a gateway without an entry may dial every number.
	rules map[string][]directions.Rule
	// redisRecords keeps call records in a redis-server of the test's own, not in memory.
	redisRecords bool
	// auth holds the bearer tokens; none = authentication off.
	auth server.AuthConfig
	// rateLimit bounds each caller's requests; zero = unlimited.
	rateLimit server.RateLimitConfig
	// keepAlive tunes the gateways' OPTIONS probes (each gateway sets its own interval).
	keepAlive sipengine.TrunksConfig
	// logs receives the stack's logs as text; nil discards them.
	logs io.Writer
	// wrapRecords, if set, stands between the call service and its record store.
	wrapRecords func(tracker.Store) tracker.Store
	// sharedRedis, if set, is the address of a redis-server that this stack shares with
	// others as one of several instances (server.Shared): its records are there too.
	sharedRedis string
}

func startStack(t *testing.T, sc stackConfig) *stack {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if sc.logs != nil {
		log = slog.New(slog.NewTextHandler(sc.logs, nil))
	}
	setup := sc.setupTimeout
	if setup == 0 {
		setup = 2 * time.Second
	}
	engine, err := sipengine.New(sipengine.Config{Listen: "127.0.0.1:0", SetupTimeout: setup, EndGrace: time.Second, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last first: the server stops, then the trunks, then the engine.
	testenv.Run(t, "engine", engine.Run)
	<-engine.Ready()
	ctx := t.Context()

	store := directions.NewMemory()
	var names []string
	for _, g := range sc.gateways {
		names = append(names, g.Name)
		rules, ok := sc.rules[g.Name]
		if !ok {
			rules = []directions.Rule{{Prefix: "", Action: directions.ActionAllow}}
		}
		if _, err := store.Replace(ctx, g.Name, rules); err != nil {
			t.Fatal(err)
		}
	}
	cache := directions.NewCache(directions.CacheConfig{Gateways: names, Logger: log}, store)
	if err := cache.Load(ctx); err != nil {
		t.Fatal(err)
	}
	var records tracker.Store = tracker.NewMemory().WithReportLabels("campaign")
	var shared *server.Shared
	switch {
	case sc.sharedRedis != "":
		records, shared = sharedStores(t, sc.sharedRedis)
	case sc.redisRecords:
		client := redis.NewClient(&redis.Options{Addr: testenv.StartRedis(t)})
		t.Cleanup(func() { client.Close() })
		if records, err = tracker.NewRedis(tracker.RedisConfig{ReportLabels: []string{"campaign"}}, client); err != nil {
			t.Fatal(err)
		}
	}
	if sc.wrapRecords != nil {
		records = sc.wrapRecords(records)
	}
	sc.keepAlive.Logger = log
	trunks, err := sipengine.NewTrunks(engine, sc.gateways, sc.keepAlive)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Run(t, "trunks", trunks.Run)
	reg := prometheus.NewRegistry()
	calls, err := server.NewCallService(server.Config{Gateways: sc.gateways, Shared: shared, Metrics: server.NewMetrics(reg), Logger: log}, trunks, records, cache)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Run(t, "call sharing", calls.Run)
	srv, _ := server.NewGRPCServer(log, server.GRPCConfig{Auth: sc.auth, RateLimit: sc.rateLimit}, server.Services{
		Calls:      calls,
		Directions: server.NewDirectionService(log, names, store, cache),
		Reports:    server.NewReportService(server.ReportConfig{Gateways: names, Labels: []string{"campaign"}, Logger: log}, records),
		Gateways:   server.NewGatewayService(trunks),
	})
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	cc, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Close()
		calls.Drain()
		srv.Stop()
		calls.Close()
	})
	return &stack{conn: cc, client: telephonyv1.NewCallServiceClient(cc),
		directions: telephonyv1.NewDirectionServiceClient(cc), reports: telephonyv1.NewReportServiceClient(cc),
		gateways: telephonyv1.NewGatewayServiceClient(cc), engine: engine, metrics: reg}
}

// sharedStores returns the records and the server.Shared of one instance of several on the
// redis-server at addr, with their loops running until the test ends.
func sharedStores(t *testing.T, addr string) (tracker.Store, *server.Shared) {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { client.Close() })
	rec, err := tracker.NewRedis(tracker.RedisConfig{ReportLabels: []string{"campaign"}, Instance: uuid.NewString()}, client)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Run(t, "ownership", func(ctx context.Context) error { return rec.RunOwnership(ctx, 100*time.Millisecond) })
	events, err := tracker.NewEventStreams(tracker.EventsConfig{}, client)
	if err != nil {
		t.Fatal(err)
	}
	cmds, err := tracker.NewCommands(tracker.CommandsConfig{}, client)
	if err != nil {
		t.Fatal(err)
	}
	return rec, &server.Shared{Instance: rec.Instance(), Events: events, Commands: cmds, Owners: rec, OwnerCheck: 200 * time.Millisecond}
}

// render writes an event as one short line, so that whole histories compare as strings:
// "> INVITE" sent, "< BYE" received, "< 180 INVITE" response, "state ringing",
// "ended kill ring_timeout 180".
func render(ev *telephonyv1.CallEvent) string {
	switch k := ev.GetKind().(type) {
	case *telephonyv1.CallEvent_Request:
		dir := ">"
		if k.Request.GetDirection() == telephonyv1.MessageDirection_MESSAGE_DIRECTION_RECEIVED {
			dir = "<"
		}
		return dir + " " + k.Request.GetMethod()
	case *telephonyv1.CallEvent_Response:
		return fmt.Sprintf("< %d %s", k.Response.GetStatus().GetCode(), k.Response.GetCseqMethod())
	case *telephonyv1.CallEvent_StateChanged:
		return "state " + stateName(k.StateChanged.GetTo())
	case *telephonyv1.CallEvent_Ended:
		term := k.Ended.GetTermination()
		return fmt.Sprintf("ended %s %s %d",
			strings.ToLower(strings.TrimPrefix(term.GetParty().String(), "TERMINATION_PARTY_")),
			strings.ToLower(strings.TrimPrefix(term.GetCause().String(), "TERMINATION_CAUSE_")),
			k.Ended.GetCall().GetLastResponse().GetCode())
	}
	return "unknown event"
}

func stateName(s telephonyv1.CallState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "CALL_STATE_"))
}

// watch streams a call's events from after, calling on for each one, until the stream ends.
// It returns the events and the stream's final error (nil for a clean end after `ended`).
func watch(t *testing.T, c telephonyv1.CallServiceClient, callID string, after uint64, on func(*telephonyv1.CallEvent)) ([]*telephonyv1.CallEvent, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stream, err := c.WatchCall(ctx, &telephonyv1.WatchCallRequest{CallId: callID, AfterSequence: after})
	if err != nil {
		return nil, err
	}
	var got []*telephonyv1.CallEvent
	for {
		ev, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return got, nil
			}
			return got, err
		}
		got = append(got, ev)
		if on != nil {
			on(ev)
		}
	}
}

// renderAll renders a history. The 200 that answers our CANCEL and the 487 that ends the
// INVITE travel on two transactions, and sipgo hands each message to its own goroutine, so
// their relative order is not defined; they are put in the order the gateway sends them.
func renderAll(evs []*telephonyv1.CallEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = render(ev)
		if i > 0 && out[i] == "< 200 CANCEL" && strings.HasSuffix(out[i-1], " INVITE") && strings.HasPrefix(out[i-1], "< ") {
			out[i-1], out[i] = out[i], out[i-1]
		}
	}
	return out
}
