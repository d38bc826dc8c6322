package dialer

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	calls         *prometheus.CounterVec
	active        prometheus.Gauge
	firstCall     prometheus.Histogram
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
		firstCall: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "strike_dialer_time_to_first_call_seconds",
			Help: "Time from eco.created to the first call's SID being recorded.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
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
		reg.MustRegister(m.calls, m.active, m.firstCall, m.acceptance, m.lateness, m.transactions, m.invalid, m.restored,
			m.redelivered, m.queued, m.dropped, m.placeFailures)
	}
	return m
}
