package server

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccplane/telephony"
)

// Metrics are the call service's Prometheus series. A nil *Metrics records nothing.
type Metrics struct {
	started *prometheus.CounterVec
	ended   *prometheus.CounterVec
	active  *prometheus.GaugeVec
	pdd     *prometheus.HistogramVec
	setup   *prometheus.HistogramVec
	blocked *prometheus.CounterVec
}

// callSeconds are the buckets of the post-dial delay and setup time histograms: providers
// answer in tens of milliseconds to tens of seconds.
var callSeconds = []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60}

// NewMetrics registers the call series with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "telephony_calls_started_total",
			Help: "Calls whose first INVITE was sent, by gateway.",
		}, []string{"gateway"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "telephony_calls_ended_total",
			Help: "Calls ended, by gateway, last SIP response code (9XX: ours, 0: none), party (kill/finish) and cause.",
		}, []string{"gateway", "code", "party", "cause"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "telephony_calls_active",
			Help: "Calls whose INVITE was sent and that have not ended, by gateway.",
		}, []string{"gateway"}),
		pdd: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "telephony_post_dial_delay_seconds",
			Help:    "Time from the INVITE to the first 180/183, by gateway.",
			Buckets: callSeconds,
		}, []string{"gateway"}),
		setup: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "telephony_setup_seconds",
			Help:    "Time from the INVITE to the 200 OK of answered calls, by gateway.",
			Buckets: callSeconds,
		}, []string{"gateway"}),
		blocked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "telephony_direction_blocked_total",
			Help: "PlaceCalls refused because the number is outside the gateway's directions.",
		}, []string{"gateway"}),
	}
	reg.MustRegister(m.started, m.ended, m.active, m.pdd, m.setup, m.blocked)
	return m
}

func (m *Metrics) callStarted(gateway string) {
	if m == nil {
		return
	}
	m.started.WithLabelValues(gateway).Inc()
	m.active.WithLabelValues(gateway).Inc()
}

// callEnded counts an ended call from its final record.
func (m *Metrics) callEnded(c *telephony.Call) {
	if m == nil {
		return
	}
	t := c.Termination
	m.ended.WithLabelValues(c.Gateway, strconv.Itoa(c.LastResponse.Code), t.Party.String(), t.Cause.String()).Inc()
	if c.InviteSentAt.IsZero() {
		return
	}
	m.active.WithLabelValues(c.Gateway).Dec()
	if !c.ProgressAt.IsZero() {
		m.pdd.WithLabelValues(c.Gateway).Observe(c.ProgressAt.Sub(c.InviteSentAt).Seconds())
	}
	if !c.AnsweredAt.IsZero() {
		m.setup.WithLabelValues(c.Gateway).Observe(c.AnsweredAt.Sub(c.InviteSentAt).Seconds())
	}
}

func (m *Metrics) directionBlocked(gateway string) {
	if m == nil {
		return
	}
	m.blocked.WithLabelValues(gateway).Inc()
}
