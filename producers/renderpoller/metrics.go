package renderpoller

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-strike/strike/internal/dlq"
)

// Poll results, the values of the result label.
const (
	resultOK            = "ok"
	resultUnavailable   = "unavailable"
	resultRateLimited   = "rate_limited"
	resultUnauthorized  = "unauthorized"
	resultMalformed     = "malformed"
	resultInvalidCursor = "invalid_cursor"
	resultCredentials   = "credentials" // the stored secret did not open
	resultProduce       = "produce_error"
	resultStore         = "store_error"
	resultLeaseLost     = "lease_lost" // the lease lapsed or moved during the poll
	resultError         = "error"
)

type metrics struct {
	polls        *prometheus.CounterVec
	pollSeconds  prometheus.Histogram
	changes      *prometheus.CounterVec
	lagSeconds   prometheus.Histogram
	owned        prometheus.Gauge
	leaseErrors  prometheus.Counter
	leaseChanges *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strike_render_poller_polls_total",
			Help: "Polls of a Render instance's change feed, by instance and result (ok, unavailable, rate_limited, unauthorized, malformed, invalid_cursor, credentials, produce_error, store_error, lease_lost).",
		}, []string{"render_instance", "result"}),
		pollSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "strike_render_poller_poll_duration_seconds",
			Help:    "Time of one poll: every feed page, the ECO lookup, producing the events and saving the cursor.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strike_render_poller_changes_total",
			Help: "Job changes published to strike.render.changes.v1, by instance.",
		}, []string{"render_instance"}),
		lagSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "strike_render_poller_change_lag_seconds",
			Help:    "From a change's updated_at in Render to its detection by the poller.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300},
		}),
		owned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "strike_render_poller_owned_instances",
			Help: "Render instances whose lease this replica holds.",
		}),
		leaseErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strike_render_poller_lease_errors_total",
			Help: "Lease rounds that failed (PostgreSQL unreachable); the replica stops polling when its leases lapse.",
		}),
		leaseChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strike_render_poller_lease_changes_total",
			Help: "Instances taken over or given up by this replica, by change (acquired, released).",
		}, []string{"change"}),
	}
	if reg != nil {
		reg.MustRegister(m.polls, m.pollSeconds, m.changes, m.lagSeconds, m.owned, m.leaseErrors, m.leaseChanges)
	}
	return m
}

type dispatchMetrics struct {
	results  *prometheus.CounterVec
	seconds  prometheus.Histogram
	enqueued prometheus.Counter
	dlq      prometheus.Counter
	// dlqRecords is every consumer's strike_dlq_records_total{consumer, reason}.
	dlqRecords dlq.Counter
}

func newDispatchMetrics(reg prometheus.Registerer) *dispatchMetrics {
	m := &dispatchMetrics{
		dlqRecords: dlq.NewCounter(reg),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strike_render_dispatch_results_total",
			Help: "Render job creation attempts, by result (created, existing, failed, no_instance).",
		}, []string{"result"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "strike_render_dispatch_duration_seconds",
			Help:    "Time of one dispatch attempt, Render call and event included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		enqueued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strike_render_dispatch_enqueued_total",
			Help: "eco.created events read and queued for dispatch (redeliveries included; the queue drops repeats).",
		}),
		dlq: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strike_render_dispatch_dlq_total",
			Help: "Undecodable eco.created records sent to strike.dlq.v1.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.results, m.seconds, m.enqueued, m.dlq)
	}
	return m
}
