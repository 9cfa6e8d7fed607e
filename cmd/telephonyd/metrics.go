package main

import (
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ccplane/telephony/directions"
	"github.com/ccplane/telephony/sipengine"
)

// directionsCollector reports the state of each gateway's directions at scrape time, so
// the call path pays nothing for it.
type directionsCollector struct {
	cache    *directions.Cache
	gateways []string
	stale    *prometheus.Desc
	version  *prometheus.Desc
}

func newDirectionsCollector(cache *directions.Cache, gateways []string) *directionsCollector {
	return &directionsCollector{
		cache:    cache,
		gateways: gateways,
		stale: prometheus.NewDesc("telephony_directions_stale",
			"1 while the gateway's directions are served from rules that could not be refreshed from the store.",
			[]string{"gateway"}, nil),
		version: prometheus.NewDesc("telephony_directions_version",
			"Version of the gateway's directions in force; absent until they were loaded once.",
			[]string{"gateway"}, nil),
	}
}

func (c *directionsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.stale
	ch <- c.version
}

func (c *directionsCollector) Collect(ch chan<- prometheus.Metric) {
	stale := c.cache.Stale()
	for _, gw := range c.gateways {
		v := 0.0
		if _, ok := stale[gw]; ok {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.stale, prometheus.GaugeValue, v, gw)
		if version, ok := c.cache.Version(gw); ok {
			ch <- prometheus.MustNewConstMetric(c.version, prometheus.GaugeValue, float64(version), gw)
		}
	}
}

// metricsServer serves reg's metrics at /metrics, and with withPProf the runtime profiles at
// /debug/pprof/.
func metricsServer(reg *prometheus.Registry, withPProf bool) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if withPProf {
		// One lock contention in 100 sampled, and on average one blocking event per
		// millisecond spent blocked: enough for /debug/pprof/mutex and /debug/pprof/block to
		// show where goroutines wait. The block profile costs about 0.6 % of the CPU at 700
		// calls per second (a stack taken for most waits of a watcher).
		runtime.SetMutexProfileFraction(100)
		runtime.SetBlockProfileRate(int(time.Millisecond))
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
}

// newRegistry is the process's metrics: Go runtime and process; the parts register theirs.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// gatewaysCollector reports each gateway's keep-alive state and load at scrape time.
type gatewaysCollector struct {
	trunks *sipengine.Trunks
	up     *prometheus.Desc
	active *prometheus.Desc
	queued *prometheus.Desc
}

func newGatewaysCollector(t *sipengine.Trunks) *gatewaysCollector {
	return &gatewaysCollector{
		trunks: t,
		up: prometheus.NewDesc("telephony_gateway_up",
			"1 while the gateway answers its OPTIONS keep-alive, 0 while it is down; absent when unmonitored.",
			[]string{"gateway"}, nil),
		active: prometheus.NewDesc("telephony_gateway_active_calls",
			"Calls holding one of the gateway's concurrent-call slots.", []string{"gateway"}, nil),
		queued: prometheus.NewDesc("telephony_gateway_queued_calls",
			"PlaceCalls waiting for a slot under the gateway's limits.", []string{"gateway"}, nil),
	}
}

func (c *gatewaysCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.active
	ch <- c.queued
}

func (c *gatewaysCollector) Collect(ch chan<- prometheus.Metric) {
	for _, g := range c.trunks.Status() {
		name := g.Gateway.Name
		if g.State != sipengine.GatewayUnmonitored {
			up := 0.0
			if g.State == sipengine.GatewayUp {
				up = 1
			}
			ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, name)
		}
		ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(g.Active), name)
		ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(g.Queued), name)
	}
}
