package twilio

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the adapter's Prometheus collectors. They exist even when no
// Registerer is given, so the code never branches on nil.
type metrics struct {
	cpsWait   prometheus.Histogram
	errors    *prometheus.CounterVec
	credAlert *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		cpsWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "strike_twilio_cps_wait_seconds",
			Help:    "Time a Twilio API request waited on its account's calls-per-second limiter.",
			Buckets: []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30},
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strike_twilio_errors_total",
			Help: "Twilio API errors by Twilio error code (or http_<status>, transport, local), retried ones included.",
		}, []string{"code"}),
		credAlert: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strike_twilio_credentials_alert",
			Help: "1 while Twilio rejects Strike's credentials for the account/subaccount; calling for it is stopped.",
		}, []string{"account_sid"}),
	}
	if reg == nil {
		return m, nil
	}
	// Several Clients may share a registry (tests, one per component in
	// `strike dev`): reuse the collectors already registered.
	if err := register(reg, m.cpsWait, &m.cpsWait); err != nil {
		return nil, err
	}
	if err := register(reg, m.errors, &m.errors); err != nil {
		return nil, err
	}
	if err := register(reg, m.credAlert, &m.credAlert); err != nil {
		return nil, err
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C, dst *C) error {
	err := reg.Register(c)
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		if existing, ok := already.ExistingCollector.(C); ok {
			*dst = existing
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("twilio: register metrics: %w", err)
	}
	return nil
}
