package render_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/osprey-strike/strike/internal/render"
	"github.com/osprey-strike/strike/internal/rendersim"
	"github.com/osprey-strike/strike/internal/secrets"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// env is a simulator on a real HTTP server plus everything needed to prove that no credential
// leaks: a log buffer and a transport that records every credential that went over the wire.
type env struct {
	t     *testing.T
	sim   *rendersim.Server
	clock *rendersim.ManualClock
	url   string
	logs  *syncBuffer
	creds *credRecorder
}

func newEnv(t *testing.T, cfg rendersim.Config) *env {
	t.Helper()
	clock := rendersim.NewManualClock(t0)
	sim := rendersim.New(clock, cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close) // runs first, releasing handlers held by the timeout fault
	e := &env{t: t, sim: sim, clock: clock, url: srv.URL, logs: &syncBuffer{}, creds: &credRecorder{}}
	t.Cleanup(e.assertNoLeakInLogs)
	return e
}

// instance adds an instance and returns its secret.
func (e *env) instance(name string) secrets.Secret {
	e.t.Helper()
	secret := "sEcReT-" + name + "-" + secrets.GenerateKey()
	if err := e.sim.AddInstance(name, name+"-client", secret); err != nil {
		e.t.Fatal(err)
	}
	e.creds.add(secret)
	return secrets.Secret(secret)
}

// fastConfig keeps retries quick so fault tests stay well under a second each.
func (e *env) config(name string, secret secrets.Secret) render.InstanceConfig {
	return render.InstanceConfig{
		BaseURL:        rendersim.BaseURL(e.url, name),
		ClientID:       name + "-client",
		ClientSecret:   secret,
		Timeout:        2 * time.Second,
		MaxRetries:     2,
		BackoffInitial: 5 * time.Millisecond,
		BackoffMax:     20 * time.Millisecond,
	}
}

func (e *env) client(cfg render.InstanceConfig) *render.Client {
	e.t.Helper()
	log := zerolog.New(e.logs).Level(zerolog.DebugLevel)
	c, err := render.New(cfg, &http.Client{Transport: e.creds.transport()}, log)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) stats(name string) rendersim.Stats {
	e.t.Helper()
	st, err := e.sim.Requests(name)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

func (e *env) faults(name string, f rendersim.Faults) {
	e.t.Helper()
	if err := e.sim.SetFaults(name, f); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) createJobs(name string, n int) []rendersim.Job {
	e.t.Helper()
	var out []rendersim.Job
	for i := range n {
		j, _, err := e.sim.CreateJob(name, rendersim.JobSpec{ExternalRef: fmt.Sprintf("ACME-NOCA-%05d-2026", i+1)})
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, j)
	}
	return out
}

// assertNoLeak fails if s contains any client secret or bearer token seen so far.
func (e *env) assertNoLeak(what, s string) {
	e.t.Helper()
	for _, c := range e.creds.all() {
		if strings.Contains(s, c) {
			e.t.Fatalf("%s contains a credential: %s", what, s)
		}
	}
}

func (e *env) assertNoLeakInLogs() { e.assertNoLeak("log output", e.logs.String()) }

// credRecorder collects the secrets and every token issued, as seen on the wire.
type credRecorder struct {
	mu    sync.Mutex
	creds []string
}

func (r *credRecorder) add(c string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.creds = append(r.creds, c)
}

func (r *credRecorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.creds...)
}

func (r *credRecorder) transport() http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
			r.add(tok)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil || !strings.HasSuffix(req.URL.Path, "/oauth/token") || resp.StatusCode != http.StatusOK {
			return resp, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if json.Unmarshal(body, &tok) == nil && tok.AccessToken != "" {
			r.add(tok.AccessToken)
		}
		return resp, err
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
