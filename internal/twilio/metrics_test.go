package twilio

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
)

func gaugeValue(g prometheus.Gauge) float64 {
	var m dto.Metric
	_ = g.Write(&m)
	return m.GetGauge().GetValue()
}

func TestMetricsShareARegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := Config{AccountSID: testAccount, AuthToken: "tok123"}
	a, err := New(cfg, zerolog.Nop(), reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg, zerolog.Nop(), reg)
	if err != nil {
		t.Fatal("second client on the same registry:", err)
	}
	a.metrics.credAlert.WithLabelValues(testAccount).Set(1)
	if v := gaugeValue(b.metrics.credAlert.WithLabelValues(testAccount)); v != 1 {
		t.Fatalf("clients do not share collectors: %v", v)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"strike_twilio_cps_wait_seconds", "strike_twilio_credentials_alert"} {
		if !names[n] {
			t.Errorf("%s not registered (have %v)", n, names)
		}
	}
}
