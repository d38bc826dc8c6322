package rendersim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Config tunes a Server. Zero fields take the defaults noted.
type Config struct {
	// TokenTTL is how long an issued token is accepted (default 15 min). expires_in is sent in
	// whole seconds, rounded up.
	TokenTTL time.Duration
	// Schedule is the schedule new instances start with. The zero Schedule keeps jobs still;
	// `strike dev` passes DefaultSchedule().
	Schedule Schedule
	// DefaultPageSize is used when a list request has no page_size (default 50).
	DefaultPageSize int
	// MaxPageSize caps page_size (default 500).
	MaxPageSize int
	// JobIDPrefix starts every job id (default "job-"). `strike dev` makes it unique per start:
	// the simulator forgets its jobs on restart while PostgreSQL remembers the ids it saw, and
	// real Render never reuses an id.
	JobIDPrefix string
}

func (c Config) withDefaults() Config {
	if c.TokenTTL <= 0 {
		c.TokenTTL = 15 * time.Minute
	}
	if c.DefaultPageSize <= 0 {
		c.DefaultPageSize = 50
	}
	if c.MaxPageSize <= 0 {
		c.MaxPageSize = 500
	}
	if c.JobIDPrefix == "" {
		c.JobIDPrefix = "job-"
	}
	c.DefaultPageSize = min(c.DefaultPageSize, c.MaxPageSize)
	return c
}

// ErrNoInstance is returned by the admin hooks for an instance that does not exist.
var ErrNoInstance = errors.New("rendersim: no such instance")

// Server simulates many Render instances. It is an http.Handler; Serve runs it on a listener.
// All methods are safe for concurrent use.
type Server struct {
	clock Clock
	cfg   Config
	mux   *http.ServeMux

	mu        sync.RWMutex
	instances map[string]*instance

	closed    chan struct{} // closed by Close: releases hanging and slow handlers
	closeOnce sync.Once
}

// New returns a simulator with no instances. A nil clock is the system clock.
func New(clock Clock, cfg Config) *Server {
	if clock == nil {
		clock = SystemClock{}
	}
	s := &Server{
		clock:     clock,
		cfg:       cfg.withDefaults(),
		instances: map[string]*instance{},
		closed:    make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{instance}/oauth/token", s.handleToken)
	mux.HandleFunc("GET /{instance}/api/v1/jobs", s.api(endpointList, s.handleList))
	mux.HandleFunc("POST /{instance}/api/v1/jobs", s.api(endpointCreate, s.handleCreate))
	mux.HandleFunc("GET /{instance}/api/v1/jobs/{id}", s.api(endpointGet, s.handleGet))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint")
	})
	s.mux = mux
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Serve serves on ln until ctx is done, then closes the simulator and shuts the HTTP server
// down (waiting up to 5 s for in-flight requests).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		s.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	err := srv.Serve(ln)
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close releases every request held by a Timeouts or SlowPages fault. The Server keeps
// answering other requests; close the HTTP server separately (Serve does both).
func (s *Server) Close() { s.closeOnce.Do(func() { close(s.closed) }) }

// BaseURL is the base URL of instance on a simulator reachable at root (e.g. an
// httptest.Server's URL).
func BaseURL(root, instance string) string {
	u, err := url.Parse(root)
	if err != nil {
		return root + "/" + url.PathEscape(instance)
	}
	return u.JoinPath(instance).String()
}

// validName keeps instance names to one clean path segment.
func validName(name string) error {
	if name == "" || len(name) > 100 {
		return fmt.Errorf("rendersim: instance name must be 1-100 characters, got %d", len(name))
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("rendersim: instance name %q: only letters, digits, '.', '_' and '-'", name)
		}
	}
	if name == "." || name == ".." {
		return fmt.Errorf("rendersim: instance name %q is not a path segment", name)
	}
	return nil
}

// AddInstance creates an instance reachable at BaseURL(root, name) that accepts exactly this
// client id and secret. It starts with the Config's Schedule, no jobs and no faults.
func (s *Server) AddInstance(name, clientID, secret string) error {
	if err := validName(name); err != nil {
		return err
	}
	if clientID == "" || secret == "" {
		return errors.New("rendersim: client id and secret are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.instances[name]; ok {
		return fmt.Errorf("rendersim: instance %q already exists", name)
	}
	s.instances[name] = newInstance(name, clientID, secret, s.cfg.Schedule, s.cfg.JobIDPrefix)
	return nil
}

// RemoveInstance deletes an instance; its base URL answers 404 from then on.
func (s *Server) RemoveInstance(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.instances[name]; !ok {
		return fmt.Errorf("%w: %q", ErrNoInstance, name)
	}
	delete(s.instances, name)
	return nil
}

// Instances lists the instance names, sorted.
func (s *Server) Instances() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := make([]string, 0, len(s.instances))
	for n := range s.instances {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (s *Server) instance(name string) (*instance, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	in, ok := s.instances[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoInstance, name)
	}
	return in, nil
}

// with runs f on a locked instance whose schedule has been brought up to the clock.
func (s *Server) with(name string, f func(in *instance, now time.Time) error) error {
	in, err := s.instance(name)
	if err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	now := s.clock.Now()
	in.advance(now)
	return f(in, now)
}

// SetSchedule changes how the instance's jobs move from now on.
func (s *Server) SetSchedule(name string, sc Schedule) error {
	return s.with(name, func(in *instance, _ time.Time) error {
		in.schedule = sc
		return nil
	})
}

// CreateJob creates a job as if through the API (idempotent on ExternalRef); created is false
// when a job with that reference already existed, which is returned.
func (s *Server) CreateJob(name string, spec JobSpec) (j Job, created bool, err error) {
	if spec.ExternalRef == "" {
		return Job{}, false, errors.New("rendersim: external_ref is required")
	}
	err = s.with(name, func(in *instance, now time.Time) error {
		j, created = in.create(spec, now)
		return nil
	})
	return j, created, err
}

// Jobs returns the instance's jobs as of the clock, in creation order.
func (s *Server) Jobs(name string) ([]Job, error) {
	var out []Job
	err := s.with(name, func(in *instance, _ time.Time) error {
		for _, j := range in.jobs {
			out = append(out, j.Job)
		}
		return nil
	})
	return out, err
}

// SetStatus moves a job to status now, as a field worker would; the schedule continues from
// there. Setting the status it already has changes nothing.
func (s *Server) SetStatus(name, jobID, status string) (Job, error) {
	if !validStatus(status) {
		return Job{}, fmt.Errorf("rendersim: unknown status %q", status)
	}
	var out Job
	err := s.with(name, func(in *instance, now time.Time) error {
		j, ok := in.byID[jobID]
		if !ok {
			return fmt.Errorf("rendersim: instance %q has no job %q", name, jobID)
		}
		if j.Status != status {
			in.setStatus(j, status, now)
		}
		out = j.Job
		return nil
	})
	return out, err
}

// Changes returns the instance's whole change feed (every recorded job state), oldest first.
func (s *Server) Changes(name string) ([]Job, error) {
	var out []Job
	err := s.with(name, func(in *instance, _ time.Time) error {
		out = slices.Clone(in.changes)
		return nil
	})
	return out, err
}

// SetFaults replaces the instance's faults; Faults{} switches them all off.
func (s *Server) SetFaults(name string, f Faults) error {
	return s.with(name, func(in *instance, _ time.Time) error {
		in.faults = f
		return nil
	})
}

// Faults returns the instance's faults with the counts still to fire.
func (s *Server) Faults(name string) (Faults, error) {
	var out Faults
	err := s.with(name, func(in *instance, _ time.Time) error {
		out = in.faults
		return nil
	})
	return out, err
}

// RevokeTokens invalidates every token of the instance, as an auth server restart would.
func (s *Server) RevokeTokens(name string) error {
	return s.with(name, func(in *instance, _ time.Time) error {
		clear(in.tokens)
		return nil
	})
}

// Requests returns what the instance has received so far.
func (s *Server) Requests(name string) (Stats, error) {
	var out Stats
	err := s.with(name, func(in *instance, _ time.Time) error {
		out = in.stats
		out.PollTimes = slices.Clone(in.stats.PollTimes)
		return nil
	})
	return out, err
}
