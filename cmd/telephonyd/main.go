// Command telephonyd is the telephony control plane: a gRPC service that places outbound
// calls through SIP provider gateways. Without --config it runs the embedded demo: in-memory
// stores and a simulated provider gateway named "demo".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/ccplane/telephony/directions"
	"github.com/ccplane/telephony/server"
	"github.com/ccplane/telephony/sipengine"
	"github.com/ccplane/telephony/tracker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal a second one kills the process: restore default handling.
		<-ctx.Done()
		stop()
	}()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "telephonyd:", err)
		os.Exit(1)
	}
}

// run starts the service and blocks until ctx ends, then shuts down gracefully: new calls are
// refused, live calls are ended (KILL / SHUTDOWN) and recorded, and watch streams end after
// their calls' last event.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("telephonyd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML configuration `file`; none = the embedded demo")
	tour := fs.Bool("tour", true, "demo only: place a few sample calls at start and print their events")
	listen := fs.String("listen", "", "gRPC listen `address`, overriding grpc.listen")
	if err := fs.Parse(args); err != nil {
		return err
	}

	var cfg fileConfig
	var demo *demoGateway
	if *configPath != "" {
		c, err := loadConfig(*configPath)
		if err != nil {
			return err
		}
		cfg = c
	} else {
		d, err := newDemo()
		if err != nil {
			return err
		}
		demo, cfg = d, d.config()
	}
	if *listen != "" {
		cfg.GRPC.Listen = *listen
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	log.Info("configuration", "grpc", cfg.GRPC.Listen, "grpc_tls", fmt.Sprintf("%+v", cfg.GRPC.TLS),
		"grpc_rate_limit", fmt.Sprintf("%+v", cfg.rateLimitConfig()), "sip", cfg.SIP.Listen, "gateways", fmt.Sprintf("%+v", cfg.Gateways),
		"auth_tokens", fmt.Sprint(cfg.authConfig().Tokens))
	svc, err := build(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer svc.closeRedis()

	var wg sync.WaitGroup
	defer wg.Wait()
	rulesCtx, stopRules := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRules()
	wg.Go(func() {
		if err := svc.rules.Run(rulesCtx); err != nil {
			log.Error("directions cache stopped", "err", err)
		}
	})
	recordsCtx, stopRecords := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRecords()
	recordsDone := make(chan struct{})
	wg.Go(func() {
		defer close(recordsDone)
		if err := svc.records.run(recordsCtx); err != nil {
			log.Error("record writer stopped", "err", err)
		}
	})
	sharedCtx, stopShared := context.WithCancel(context.WithoutCancel(ctx))
	defer stopShared()
	sharedDone := make(chan struct{})
	wg.Go(func() {
		defer close(sharedDone)
		if err := svc.calls.Run(sharedCtx); err != nil {
			log.Error("call sharing stopped", "err", err)
		}
	})
	sipCtx, stopSIP := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSIP()
	engineDone := make(chan struct{})
	wg.Go(func() {
		defer close(engineDone)
		if err := svc.engine.Run(sipCtx); err != nil {
			log.Error("sip engine stopped", "err", err)
		}
	})
	select {
	case <-svc.engine.Ready():
	case <-ctx.Done():
		return nil
	}
	wg.Go(func() {
		if err := svc.trunks.Run(sipCtx); err != nil {
			log.Error("gateway keep-alive stopped", "err", err)
		}
	})
	wg.Go(func() { healthWatch{hs: svc.health, redis: svc.redis, trunks: svc.trunks}.run(sipCtx) })
	lis, err := net.Listen("tcp", cfg.GRPC.Listen)
	if err != nil {
		return fmt.Errorf("grpc listen: %w", err)
	}
	wg.Go(func() {
		if err := svc.grpc.Serve(lis); err != nil {
			log.Error("grpc server stopped", "err", err)
		}
	})
	if cfg.Metrics.Listen != "" {
		mlis, err := net.Listen("tcp", cfg.Metrics.Listen)
		if err != nil {
			return fmt.Errorf("metrics listen: %w", err)
		}
		msrv := metricsServer(svc.metrics, cfg.Metrics.PProf)
		wg.Go(func() {
			if err := msrv.Serve(mlis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server stopped", "err", err)
			}
		})
		defer msrv.Close()
		log.Info("metrics serving", "addr", mlis.Addr().String())
	}
	log.Info("telephonyd serving", "grpc", lis.Addr().String(), "sip", svc.engine.Addr(), "gateways", len(cfg.Gateways))

	if demo != nil {
		demoCtx, stopDemo := context.WithCancel(ctx)
		defer stopDemo()
		wg.Go(func() { demo.run(demoCtx, log) })
		if *tour {
			wg.Go(func() { runTour(demoCtx, lis.Addr().String(), stdout, log) })
		} else {
			printDemoHelp(stdout, lis.Addr().String())
		}
	}

	<-ctx.Done()
	log.Info("shutting down: ending live calls")
	svc.health.Shutdown()
	svc.calls.Drain()
	stopSIP() // the engine ends every live call and returns once they are recorded
	<-engineDone
	svc.calls.Close()
	stopShared() // after the calls' last events, which it appends before it returns
	<-sharedDone
	stopRecords()
	<-recordsDone
	grace := time.Duration(cfg.Shutdown.Grace)
	closeCtx, cancelClose := context.WithTimeout(context.Background(), grace)
	defer cancelClose()
	if err := svc.records.close(closeCtx); err != nil {
		log.Error("call records not all written", "err", err)
	}
	// Streams still open after the grace period end with UNAVAILABLE: clients resume them
	// elsewhere from their last sequence.
	graceful := time.AfterFunc(grace, svc.grpc.Stop)
	defer graceful.Stop()
	svc.grpc.GracefulStop()
	return nil
}

// service is everything run wires together.
type service struct {
	engine       *sipengine.Engine
	trunks       *sipengine.Trunks
	calls        *server.CallService
	rules        *directions.Cache
	records      records
	gatewayNames []string
	redis        redis.UniversalClient // nil without redis.url
	closeRedis   func() error
	grpc         *grpc.Server
	health       *health.Server
	metrics      *prometheus.Registry
}

func build(ctx context.Context, cfg fileConfig, log *slog.Logger) (*service, error) {
	tlsOpts, err := cfg.GRPC.TLS.serverOptions()
	if err != nil {
		return nil, err
	}
	var sdp string
	if cfg.SIP.SDPFile != "" {
		raw, err := os.ReadFile(cfg.SIP.SDPFile)
		if err != nil {
			return nil, fmt.Errorf("sip.sdp_file: %w", err)
		}
		sdp = string(raw)
		if err := sipengine.CheckSDP(sdp); err != nil {
			return nil, fmt.Errorf("sip.sdp_file: %w", err)
		}
	}
	engine, err := sipengine.New(sipengine.Config{
		Listen:       cfg.SIP.Listen,
		ExternalHost: cfg.SIP.ExternalHost,
		SetupTimeout: time.Duration(cfg.SIP.SetupTimeout),
		EndGrace:     time.Duration(cfg.SIP.EndGrace),
		DefaultSDP:   sdp,
		Logger:       log,
	})
	if err != nil {
		return nil, err
	}
	reg := newRegistry()
	client, err := openRedis(cfg, log)
	if err != nil {
		return nil, errors.Join(err, engine.Close())
	}
	if client != nil {
		client.AddHook(newRedisErrors(reg))
	}
	closeRedis := func() error { return nil }
	if client != nil {
		closeRedis = client.Close
	}
	store, cache := openDirections(ctx, cfg, client, log)
	recs, err := openRecords(cfg, client, log)
	if err != nil {
		return nil, errors.Join(err, engine.Close(), closeRedis())
	}
	gws := make([]sipengine.Gateway, 0, len(cfg.Gateways))
	names := make([]string, 0, len(cfg.Gateways))
	meanings := tracker.Meanings{}
	for _, g := range cfg.Gateways {
		gws = append(gws, g.gateway())
		names = append(names, g.Name)
		if len(g.Meanings) > 0 {
			meanings[g.Name] = g.Meanings
		}
	}
	trunks, err := sipengine.NewTrunks(engine, gws, sipengine.TrunksConfig{
		ProbeTimeout: time.Duration(cfg.SIP.KeepAlive.Timeout),
		DownAfter:    cfg.SIP.KeepAlive.DownAfter,
		UpAfter:      cfg.SIP.KeepAlive.UpAfter,
		Logger:       log,
	})
	if err != nil {
		return nil, errors.Join(err, engine.Close(), closeRedis())
	}
	shared, err := openShared(cfg, client, recs, log)
	if err != nil {
		return nil, errors.Join(err, engine.Close(), closeRedis())
	}
	calls, err := server.NewCallService(server.Config{
		Gateways:       gws,
		RingTimeout:    time.Duration(cfg.Calls.RingTimeout),
		MaxDuration:    time.Duration(cfg.Calls.MaxDuration),
		EventRetention: time.Duration(cfg.Calls.EventRetention),
		Shared:         shared,
		Metrics:        server.NewMetrics(reg),
		Logger:         log,
	}, trunks, recs, cache)
	if err != nil {
		return nil, errors.Join(err, engine.Close(), closeRedis())
	}
	grpcMetrics := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram())
	grpcCfg := server.GRPCConfig{Auth: cfg.authConfig(), RateLimit: cfg.rateLimitConfig(), Metrics: grpcMetrics}
	srv, hs := server.NewGRPCServer(log, grpcCfg, server.Services{
		Calls:      calls,
		Directions: server.NewDirectionService(log, names, store, cache),
		Reports:    server.NewReportService(server.ReportConfig{Gateways: names, Labels: cfg.Calls.ReportLabels, Meanings: meanings, Logger: log}, recs),
		Gateways:   server.NewGatewayService(trunks),
	}, tlsOpts...)
	reg.MustRegister(grpcMetrics, newDirectionsCollector(cache, names), newGatewaysCollector(trunks))
	return &service{engine: engine, trunks: trunks, calls: calls, rules: cache, records: recs, gatewayNames: names,
		redis: client, closeRedis: closeRedis, grpc: srv, health: hs, metrics: reg}, nil
}

func newLogger(cfg fileConfig, w io.Writer) (*slog.Logger, error) {
	lvl, err := parseLevel(cfg.Log.Level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}
