package opsserver_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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
	srv := httptest.NewServer(s.Ops)
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
	srv := httptest.NewServer(s.Ops)
	defer srv.Close()
	_, body := get(t, srv, "/metrics")
	for _, want := range []string{`strike_readiness_check_ok{check="postgres"} 1`, `strike_readiness_check_ok{check="leases"} 0`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, body)
		}
	}
}

// serveLoopback runs s on a loopback port until the test ends and returns its address.
func serveLoopback(t *testing.T, s *opsserver.Server) string {
	t.Helper()
	ln, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ctx, ln, nil) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// A client that trickles its body one byte a second is cut off by the read timeout instead of
// holding a connection (and a handler) for as long as it likes.
func TestSlowBodyIsCutOffByTheReadTimeout(t *testing.T) {
	t.Parallel()
	s := opsserver.New(zerolog.Nop(), prometheus.NewRegistry())
	s.Mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	})
	addr := serveLoopback(t, s)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_, _ = io.Copy(io.Discard, conn) // ends when the server closes the connection
	}()
	const bound = 25 * time.Second // the test's own bound; the server must act well before it
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-closed:
			took := time.Since(start)
			if limit := opsserver.DefaultLimits.ReadTimeout + 3*time.Second; took > limit {
				t.Fatalf("connection held %v, want at most %v", took, limit)
			}
			t.Logf("server closed the trickling connection after %v", took.Round(time.Millisecond))
			return
		case <-tick.C:
			if time.Since(start) > bound {
				t.Fatalf("a body trickled one byte a second still held the connection after %v", bound)
			}
			_, _ = conn.Write([]byte("x"))
		}
	}
}

// Oversized request headers are refused with 431 before any handler runs.
func TestOversizedHeadersAreRefused(t *testing.T) {
	t.Parallel()
	s := opsserver.New(zerolog.Nop(), prometheus.NewRegistry())
	addr := serveLoopback(t, s)
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/healthz", nil)
	req.Header.Set("X-Padding", strings.Repeat("a", 100<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("100 KiB of headers: status %d, want 431", resp.StatusCode)
	}
}

// The public listener (API, webhooks) answers readiness as ok or not, without the failing
// dependency's error, and does not serve /metrics.
func TestPublicReadinessSaysOkOrNotWithoutDetails(t *testing.T) {
	t.Parallel()
	s := opsserver.New(zerolog.Nop(), prometheus.NewRegistry())
	healthy := true
	s.AddCheck("postgres", func(context.Context) error {
		if healthy {
			return nil
		}
		return errors.New("dial tcp db.internal:5432: user strike_gateway: connection refused")
	})
	public := httptest.NewServer(s.Mux)
	defer public.Close()
	if code, body := get(t, public, "/readyz"); code != http.StatusOK || body != "{\"status\":\"ok\"}\n" {
		t.Errorf("public /readyz = %d %q, want 200 {\"status\":\"ok\"}", code, body)
	}
	healthy = false
	code, body := get(t, public, "/readyz")
	if code != http.StatusServiceUnavailable || body != "{\"status\":\"unavailable\"}\n" {
		t.Errorf("public /readyz = %d %q, want 503 {\"status\":\"unavailable\"}", code, body)
	}
	for _, leak := range []string{"postgres", "db.internal", "strike_gateway", "refused"} {
		if strings.Contains(body, leak) {
			t.Errorf("public /readyz leaks %q: %s", leak, body)
		}
	}
	if code, _ := get(t, public, "/metrics"); code != http.StatusNotFound {
		t.Errorf("public /metrics = %d, want 404", code)
	}
}
