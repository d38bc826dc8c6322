// Package opsserver serves the operational HTTP endpoints every Strike process has, on an
// operations listener of their own: /metrics (Prometheus, from the registry passed in), /healthz
// (the process is alive) and /readyz (every registered check passes, with each check's verdict
// and error). Components mount their public routes (API, webhooks) on Mux, which is served on the
// public listener with /healthz and a /readyz that only says ok or not: dependency errors name
// hosts and database users, and metrics describe the whole system, so neither goes on the
// public port.
package opsserver

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// Limits bound what one client can hold of an HTTP server: a slow or idle client is cut off
// instead of keeping a connection and a handler for as long as it likes.
type Limits struct {
	// ReadHeaderTimeout bounds reading the request line and headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading the whole request, body included (bodies are at most 64 KiB).
	ReadTimeout time.Duration
	// WriteTimeout bounds the handler and writing its response; handlers' own deadlines (the
	// API's per-request database deadline, /readyz's 2 s) are shorter.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no next request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers; larger ones get 431.
	MaxHeaderBytes int
}

// DefaultLimits are the limits of every HTTP server Strike runs (API, webhooks, operations).
var DefaultLimits = Limits{
	ReadHeaderTimeout: 5 * time.Second,
	ReadTimeout:       10 * time.Second,
	WriteTimeout:      30 * time.Second,
	IdleTimeout:       60 * time.Second,
	MaxHeaderBytes:    16 << 10,
}

// NewHTTPServer returns an http.Server for h with the given limits.
func NewHTTPServer(h http.Handler, l Limits) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}

// Check reports whether a dependency is ready; a nil error means ready.
type Check func(ctx context.Context) error

// Server is a process's HTTP face: the public mux and the operations mux.
type Server struct {
	// Mux holds the public routes (API, webhooks), with /healthz and a details-free /readyz.
	Mux *http.ServeMux
	// Ops holds /metrics, /healthz and the detailed /readyz, for the operations listener.
	Ops *http.ServeMux

	log    zerolog.Logger
	mu     sync.Mutex
	checks map[string]Check
}

// New builds a server that exposes gatherer on the operations mux's /metrics.
func New(log zerolog.Logger, gatherer prometheus.Gatherer) *Server {
	s := &Server{Mux: http.NewServeMux(), Ops: http.NewServeMux(), log: log, checks: map[string]Check{}}
	healthz := func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
	s.Ops.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	s.Ops.HandleFunc("GET /healthz", healthz)
	s.Ops.HandleFunc("GET /readyz", s.ready)
	s.Mux.HandleFunc("GET /healthz", healthz)
	s.Mux.HandleFunc("GET /readyz", s.readySummary)
	return s
}

// AddCheck registers a readiness check under name.
func (s *Server) AddCheck(name string, c Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = c
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	status, out := s.runChecks(r.Context())
	writeJSON(w, status, out)
}

// readySummary is the public readiness answer: ok or not, nothing about why.
func (s *Server) readySummary(w http.ResponseWriter, r *http.Request) {
	status, _ := s.runChecks(r.Context())
	verdict := "ok"
	if status != http.StatusOK {
		verdict = "unavailable"
	}
	writeJSON(w, status, map[string]string{"status": verdict})
}

func (s *Server) runChecks(ctx context.Context) (int, map[string]string) {
	s.mu.Lock()
	names := make([]string, 0, len(s.checks))
	for n := range s.checks {
		names = append(names, n)
	}
	checks := s.checks
	s.mu.Unlock()
	sort.Strings(names)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	status := http.StatusOK
	out := map[string]string{}
	for _, n := range names {
		if err := checks[n](ctx); err != nil {
			status = http.StatusServiceUnavailable
			out[n] = err.Error()
		} else {
			out[n] = "ok"
		}
	}
	return status, out
}

// Listen binds addr; it fails at once if the port is taken, before anything else starts.
func (s *Server) Listen(addr string) (net.Listener, error) {
	return net.Listen("tcp", addr)
}

// Serve serves Mux on public and Ops on ops until ctx ends or one fails, then shuts both down
// gracefully. Either listener may be nil: a component without public routes has only ops.
func (s *Server) Serve(ctx context.Context, public, ops net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, x := range []struct {
		ln net.Listener
		h  http.Handler
	}{{public, s.Mux}, {ops, s.Ops}} {
		if x.ln == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = serve(ctx, x.ln, x.h)
			cancel()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// serve serves h on ln until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := NewHTTPServer(h, DefaultLimits)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := srv.Shutdown(shutdownCtx)
		if e := <-errc; e != nil && !errors.Is(e, http.ErrServerClosed) && err == nil {
			err = e
		}
		return err
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readiness exports the readiness checks as strike_readiness_check_ok{check}, run at scrape
// time, so an alert sees the same verdict as /readyz.
type readiness struct {
	s    *Server
	desc *prometheus.Desc
}

// ReadinessCollector returns a collector of strike_readiness_check_ok{check}: 1 while the
// check passes, 0 while it fails. The checks run at each scrape with a 2 s timeout.
func (s *Server) ReadinessCollector() prometheus.Collector {
	return readiness{s: s, desc: prometheus.NewDesc("strike_readiness_check_ok",
		"1 if the readiness check passes (as /readyz runs it), 0 if it fails.", []string{"check"}, nil)}
}

func (r readiness) Describe(ch chan<- *prometheus.Desc) { ch <- r.desc }

func (r readiness) Collect(ch chan<- prometheus.Metric) {
	r.s.mu.Lock()
	checks := make(map[string]Check, len(r.s.checks))
	for n, c := range r.s.checks {
		checks[n] = c
	}
	r.s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for n, c := range checks {
		v := 1.0
		if c(ctx) != nil {
			v = 0
		}
		ch <- prometheus.MustNewConstMetric(r.desc, prometheus.GaugeValue, v, n)
	}
}
