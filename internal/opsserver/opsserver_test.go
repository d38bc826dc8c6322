package opsserver_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/osprey-strike/strike/internal/opsserver"
)

func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestReadinessReflectsEveryCheckAndMetricsComeFromTheGivenRegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "strike_test_things_total", Help: "things"})
	reg.MustRegister(c)
	c.Add(3)
	s := opsserver.New(zerolog.Nop(), reg)
	healthy := true
	s.AddCheck("postgres", func(context.Context) error {
		if healthy {
			return nil
		}
		return errors.New("connection refused")
	})
	srv := httptest.NewServer(s.Mux)
	defer srv.Close()

	if code, _ := get(t, srv, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get(t, srv, "/readyz"); code != http.StatusOK || !strings.Contains(body, `"postgres":"ok"`) {
		t.Errorf("/readyz = %d %s, want 200 with postgres ok", code, body)
	}
	healthy = false
	if code, body := get(t, srv, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "connection refused") {
		t.Errorf("/readyz = %d %s, want 503 naming the failing check", code, body)
	}
	if _, body := get(t, srv, "/metrics"); !strings.Contains(body, "strike_test_things_total 3") {
		t.Errorf("/metrics does not show the registry's counter:\n%s", body)
	}
}

func TestReadinessChecksAreExportedAsMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	s := opsserver.New(zerolog.Nop(), reg)
	reg.MustRegister(s.ReadinessCollector())
	s.AddCheck("postgres", func(context.Context) error { return nil })
	s.AddCheck("leases", func(context.Context) error { return errors.New("no lease round yet") })
	srv := httptest.NewServer(s.Mux)
	defer srv.Close()
	_, body := get(t, srv, "/metrics")
	for _, want := range []string{`strike_readiness_check_ok{check="postgres"} 1`, `strike_readiness_check_ok{check="leases"} 0`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, body)
		}
	}
}
