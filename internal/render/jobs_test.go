package render_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

func TestCreateJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	spec := render.JobSpec{ExternalRef: "ACME-NOCA-00042-2026", Title: "Fibre cut", Region: "north"}

	t.Run("second create returns the same job, not created", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, rendersim.Config{})
		c := e.client(e.config("a", e.instance("a")))
		first, created, err := c.CreateJob(ctx, spec)
		if err != nil || !created || first.ID == "" || first.ExternalRef != spec.ExternalRef || first.Status != render.StatusDispatched {
			t.Fatalf("first CreateJob = %+v, %v, %v", first, created, err)
		}
		second, created, err := c.CreateJob(ctx, spec)
		if err != nil || created || second.ID != first.ID {
			t.Fatalf("second CreateJob = %+v, %v, %v; want the same job, created=false", second, created, err)
		}
		if jobs, _ := e.sim.Jobs("a"); len(jobs) != 1 || jobs[0].Title != spec.Title || jobs[0].Region != spec.Region {
			t.Fatalf("simulator has %+v", jobs)
		}
	})
	t.Run("concurrent creates make one job", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, rendersim.Config{})
		c := e.client(e.config("a", e.instance("a")))
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			ids     = map[string]bool{}
			creates int
		)
		for range 8 {
			wg.Go(func() {
				j, created, err := c.CreateJob(ctx, spec)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
				ids[j.ID] = true
				if created {
					creates++
				}
			})
		}
		wg.Wait()
		if len(ids) != 1 || creates != 1 {
			t.Fatalf("%d distinct jobs, %d created=true; want 1 and 1", len(ids), creates)
		}
	})
	t.Run("500 is retried without a second job", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, rendersim.Config{})
		c := e.client(e.config("a", e.instance("a")))
		e.faults("a", rendersim.Faults{ServerErrors: 1})
		j, created, err := c.CreateJob(ctx, spec)
		if err != nil || !created {
			t.Fatalf("CreateJob = %+v, %v, %v", j, created, err)
		}
		if st := e.stats("a"); st.Creates != 2 {
			t.Fatalf("creates %d, want 2", st.Creates)
		}
	})
	t.Run("lost answer then retry finds the job", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, rendersim.Config{})
		c := e.client(e.config("a", e.instance("a")))
		e.faults("a", rendersim.Faults{Truncated: 1})
		if _, _, err := c.CreateJob(ctx, spec); !errors.Is(err, render.ErrMalformed) {
			t.Fatalf("truncated create: %v, want ErrMalformed", err)
		}
		j, created, err := c.CreateJob(ctx, spec) // the dispatch retries later
		if err != nil || created {
			t.Fatalf("retry = %+v, %v, %v; want the existing job", j, created, err)
		}
		if jobs, _ := e.sim.Jobs("a"); len(jobs) != 1 || jobs[0].ID != j.ID {
			t.Fatalf("simulator has %+v", jobs)
		}
	})
	t.Run("external_ref is required", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, rendersim.Config{})
		c := e.client(e.config("a", e.instance("a")))
		if _, _, err := c.CreateJob(ctx, render.JobSpec{Title: "x"}); !errors.Is(err, render.ErrRejected) {
			t.Fatalf("err = %v, want ErrRejected", err)
		}
		if st := e.stats("a"); st.Creates != 0 {
			t.Fatal("sent a create without external_ref")
		}
	})
}

// TestCreateJobConflictWithoutBody covers the contract's fallback: a 409 that does not carry
// the existing job is resolved with GET /api/v1/jobs?external_ref=.
func TestCreateJobConflictWithoutBody(t *testing.T) {
	t.Parallel()
	const ref = "ACME-NOCA-00007-2026"
	existing := `{"id":"J-7","external_ref":"` + ref + `","status":"on_site","assignee":{"name":"Dana"},"updated_at":"2026-03-01T12:00:00Z","version":5}`
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"tok","token_type":"Bearer","expires_in":3600}`))
	})
	mux.HandleFunc("POST /api/v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Idempotency-Key") != ref {
			t.Errorf("Idempotency-Key = %q", r.Header.Get("Idempotency-Key"))
		}
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body["external_ref"] != ref {
			t.Errorf("create body %v", body)
		}
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte(`{"error":"duplicate_external_ref"}`))
	})
	mux.HandleFunc("GET /api/v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("external_ref") != ref {
			t.Errorf("lookup query %q", r.URL.RawQuery)
		}
		_, _ = w.Write([]byte(`{"jobs":[` + existing + `]}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := render.New(render.InstanceConfig{BaseURL: srv.URL + "/", ClientID: "id", ClientSecret: "s"}, srv.Client(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	j, created, err := c.CreateJob(context.Background(), render.JobSpec{ExternalRef: ref})
	if err != nil || created || j.ID != "J-7" || j.Status != render.StatusOnSite || j.Assignee != "Dana" || j.Version != 5 {
		t.Fatalf("CreateJob = %+v, %v, %v", j, created, err)
	}
}

func TestGetJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, rendersim.Config{})
	c := e.client(e.config("a", e.instance("a")))
	made := e.createJobs("a", 2)
	_, _ = e.sim.SetStatus("a", made[1].ID, rendersim.StatusOnSite)

	j, err := c.GetJob(ctx, made[1].ID)
	if err != nil || j.ID != made[1].ID || j.Status != render.StatusOnSite || j.Version != 2 || j.Assignee == "" {
		t.Fatalf("GetJob = %+v, %v", j, err)
	}
	for name, id := range map[string]string{"unknown": "job-999999", "path characters": "../../oauth/token"} {
		if _, err := c.GetJob(ctx, id); !errors.Is(err, render.ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrNotFound", name, err)
		}
	}
	if _, err := c.GetJob(ctx, ""); !errors.Is(err, render.ErrRejected) {
		t.Errorf("empty id: err = %v, want ErrRejected", err)
	}
	e.faults("a", rendersim.Faults{Malformed: 1})
	if _, err := c.GetJob(ctx, made[0].ID); !errors.Is(err, render.ErrMalformed) {
		t.Errorf("malformed: err = %v, want ErrMalformed", err)
	}
}

// TestSecretNeverLeaks runs every failure path with debug logging on and scans every error
// string, the logs and the printed client for the client secret and every token issued.
func TestSecretNeverLeaks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, rendersim.Config{})
	secret := e.instance("a")
	cfg := e.config("a", secret)
	cfg.Timeout = 50 * time.Millisecond
	c := e.client(cfg)
	e.createJobs("a", 3)
	var errs []error
	for _, f := range []rendersim.Faults{
		{}, {ServerErrors: rendersim.Always}, {Timeouts: rendersim.Always}, {RateLimits: rendersim.Always, RetryAfter: "0"},
		{Malformed: 1}, {Truncated: 1}, {ExpiredTokens: rendersim.Always}, {TokenServerErrors: rendersim.Always},
		{PageTokenLoop: true},
	} {
		e.faults("a", f)
		_, err := c.ChangedJobs(ctx, "")
		errs = append(errs, err)
		_, _, err = c.CreateJob(ctx, render.JobSpec{ExternalRef: "R-1"})
		errs = append(errs, err)
		_, err = c.GetJob(ctx, "job-000001")
		errs = append(errs, err)
	}
	wrong := e.config("a", secrets.Secret("wrong-secret-"+secret.Reveal()[:8]))
	e.creds.add(wrong.ClientSecret.Reveal())
	_, err := e.client(wrong).ChangedJobs(ctx, "")
	errs = append(errs, err)

	failures := 0
	for _, err := range errs {
		if err != nil {
			failures++
			e.assertNoLeak("error", err.Error())
			e.assertNoLeak("error %+v", fmt.Sprintf("%+v", err))
		}
	}
	if failures < 15 {
		t.Fatalf("only %d failures exercised", failures)
	}
	e.assertNoLeak("printed client", fmt.Sprintf("%v %+v %#v", c, c, c))
	e.assertNoLeak("printed config", fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg))
	if !strings.Contains(e.logs.String(), "retrying") {
		t.Fatal("no retry was logged; the log scan proves nothing")
	}
	if len(e.creds.all()) < 3 {
		t.Fatal("no token was recorded; the scan proves nothing")
	}
}
