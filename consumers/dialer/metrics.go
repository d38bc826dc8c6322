package dialer

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-strike/strike/consumers/dialer/ringdown"
)

// livePhases are the phases of an unfinished ring-down: the state label's bounded values.
var livePhases = []string{ringdown.PhaseRinging, ringdown.PhaseWaitingRetry}

type metrics struct {
	calls         *prometheus.CounterVec
	active        prometheus.Gauge
	live          *prometheus.GaugeVec
	firstCall     prometheus.Histogram
	fromRequest   prometheus.Histogram
	acceptance    prometheus.Histogram
	lateness      prometheus.Histogram
	transactions  *prometheus.CounterVec
	invalid       prometheus.Counter
	restored      prometheus.Counter
	redelivered   prometheus.Counter
	queued        prometheus.Gauge
	dropped       prometheus.Counter
	placeFailures *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strike_dialer_calls_total",
			Help: "Calls ended, by result (accepted, declined, no_answer, voicemail, busy, failed, invalid_number, canceled, error)."}, []string{"result"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "strike_dialer_active_ringdowns",
			Help: "Ring-downs owned by this replica that are not finished."}),
		live: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "strike_dialer_live_ringdowns",
			Help: "Unfinished ring-downs owned by this replica, by state (ringing, waiting_retry)."}, []string{"state"}),
		firstCall: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "strike_dialer_time_to_first_call_seconds",
			Help: "Time from eco.created to the first call's SID being recorded.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		// From the NOC's request (requested_at, set by the HTTP intake) rather than eco.created:
		// numbering and the Kafka hops before the dialer count too. ECOs whose request carries
		// no requested_at are not observed.
		fromRequest: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "strike_dialer_time_from_request_to_first_call_seconds",
			Help: "Time from the ECO request's requested_at to the first call's SID being recorded (requests that carry requested_at).", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		acceptance: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "strike_dialer_time_to_acceptance_seconds",
			Help: "Time from eco.created to an acceptance that counts.", Buckets: prometheus.ExponentialBuckets(1, 2, 14)}),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "strike_dialer_timer_lateness_seconds",
			Help: "How late a ring-down timer fired after its deadline.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strike_dialer_transactions_total",
			Help: "Kafka transactions ended, by result (committed, aborted, failed)."}, []string{"result"}),
		invalid: prometheus.NewCounter(prometheus.CounterOpts{Name: "strike_dialer_invalid_records_total",
			Help: "Input records that failed schema validation and were skipped."}),
		restored: prometheus.NewCounter(prometheus.CounterOpts{Name: "strike_dialer_restored_ringdowns_total",
			Help: "Ring-downs restored from strike.callout.state.v1 on partition assignment."}),
		redelivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "strike_dialer_finished_redelivered_total",
			Help: "eco.created records of already finished ring-downs, ignored (producer retries, offset resets)."}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{Name: "strike_dialer_side_effects_queued",
			Help: "Twilio requests decided and waiting to run (placements wait on the CPS limit)."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "strike_dialer_side_effects_dropped_total",
			Help: "Twilio requests not run because their partition left this replica (the new owner decides them)."}),
		placeFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strike_dialer_placement_failures_total",
			Help: "CreateCall failures by class: account (a Twilio account or configuration problem, alert), invalid_number, uncertain (the call may exist; confirmed before any second placement), transient."}, []string{"class"}),
	}
	if reg != nil {
		reg.MustRegister(m.calls, m.active, m.live, m.fromRequest, m.firstCall, m.acceptance, m.lateness, m.transactions, m.invalid, m.restored,
			m.redelivered, m.queued, m.dropped, m.placeFailures)
	}
	m.setLive(nil) // both states have a series from the start
	return m
}

// setLive sets the live ring-down gauges from a full count by phase (on partition changes).
func (m *metrics) setLive(byPhase map[string]int) {
	total := 0
	for _, ph := range livePhases {
		m.live.WithLabelValues(ph).Set(float64(byPhase[ph]))
		total += byPhase[ph]
	}
	m.active.Set(float64(total))
}

// addLive moves the live ring-down gauges by a commit's differences per phase.
func (m *metrics) addLive(delta map[string]int) {
	for ph, n := range delta {
		if n != 0 {
			m.live.WithLabelValues(ph).Add(float64(n))
			m.active.Add(float64(n))
		}
	}
}
