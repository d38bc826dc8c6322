package render_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/osprey-strike/strike/internal/render"
	"github.com/osprey-strike/strike/internal/rendersim"
	"github.com/osprey-strike/strike/internal/secrets"
)

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	const secret = "top-secret-value"
	tests := []struct {
		name string
		cfg  render.InstanceConfig
		want string
	}{
		{"no base URL", render.InstanceConfig{ClientID: "id", ClientSecret: secret}, "base URL is required"},
		{"relative base URL", render.InstanceConfig{BaseURL: "/acme", ClientID: "id", ClientSecret: secret}, "absolute"},
		{"query in base URL", render.InstanceConfig{BaseURL: "https://r.example/?x=1", ClientID: "id", ClientSecret: secret}, "query"},
		{"credentials in base URL", render.InstanceConfig{BaseURL: "https://u:p@r.example", ClientID: "id", ClientSecret: secret}, "credentials"},
		{"no client id", render.InstanceConfig{BaseURL: "https://r.example", ClientSecret: secret}, "client id"},
		{"no secret", render.InstanceConfig{BaseURL: "https://r.example", ClientID: "id"}, "client secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := render.New(tt.cfg, nil, zerolog.Nop())
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), secret) {
				t.Fatalf("New: %v; want an error about %q without the secret", err, tt.want)
			}
		})
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("fetched once and reused", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, rendersim.Config{TokenTTL: time.Hour})
		c := e.client(e.config("a", e.instance("a")))
		for range 3 {
			if _, err := c.ChangedJobs(ctx, ""); err != nil {
				t.Fatal(err)
			}
		}
		if st := e.stats("a"); st.TokensIssued != 1 || st.Polls != 3 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("refreshed when it expires", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, rendersim.Config{TokenTTL: time.Minute})
		cfg := e.config("a", e.instance("a"))
		cfg.Now = e.clock.Now // the client sees the simulator's time
		c := e.client(cfg)
		if _, err := c.ChangedJobs(ctx, ""); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(61 * time.Second)
		if _, err := c.ChangedJobs(ctx, ""); err != nil {
			t.Fatal(err)
		}
		if st := e.stats("a"); st.TokensIssued != 2 || st.Unauthorized != 0 {
			t.Fatalf("want a proactive refresh (2 tokens, no 401), stats %+v", st)
		}
	})
	t.Run("renewed shortly before expiry", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, rendersim.Config{TokenTTL: time.Minute})
		cfg := e.config("a", e.instance("a"))
		cfg.Now = e.clock.Now
		c := e.client(cfg)
		_, _ = c.ChangedJobs(ctx, "")
		e.clock.Advance(55 * time.Second) // inside the last tenth of the lifetime
		_, _ = c.ChangedJobs(ctx, "")
		if st := e.stats("a"); st.TokensIssued != 2 || st.Unauthorized != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("rejected early: one refresh and retry", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, rendersim.Config{TokenTTL: time.Minute})
		c := e.client(e.config("a", e.instance("a"))) // wall clock: believes the token is fresh
		_, _ = c.ChangedJobs(ctx, "")
		e.clock.Advance(2 * time.Minute) // the server's view: expired
		if _, err := c.ChangedJobs(ctx, ""); err != nil {
			t.Fatal(err)
		}
		e.faults("a", rendersim.Faults{ExpiredTokens: 1})
		if _, err := c.ChangedJobs(ctx, ""); err != nil {
			t.Fatal(err)
		}
		if st := e.stats("a"); st.TokensIssued != 3 || st.Unauthorized != 2 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("refused again after refresh: unauthorized, no loop", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, rendersim.Config{})
		c := e.client(e.config("a", e.instance("a")))
		e.faults("a", rendersim.Faults{ExpiredTokens: rendersim.Always})
		_, err := c.ChangedJobs(ctx, "")
		if !errors.Is(err, render.ErrUnauthorized) {
			t.Fatalf("err = %v, want ErrUnauthorized", err)
		}
		e.assertNoLeak("error", err.Error())
		if st := e.stats("a"); st.TokensIssued != 2 || st.Pages != 2 {
			t.Fatalf("want exactly one refresh, stats %+v", st)
		}
	})
	t.Run("bad secret: unauthorized without retrying", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, rendersim.Config{})
		e.instance("a")
		wrong := secrets.Secret("wrong-" + secrets.GenerateKey())
		e.creds.add(wrong.Reveal())
		c := e.client(e.config("a", wrong))
		_, err := c.ChangedJobs(ctx, "")
		if !errors.Is(err, render.ErrUnauthorized) {
			t.Fatalf("err = %v, want ErrUnauthorized", err)
		}
		e.assertNoLeak("error", err.Error())
		if st := e.stats("a"); st.TokenRequests != 1 || st.Pages != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("token endpoint 500 is retried", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, rendersim.Config{})
		c := e.client(e.config("a", e.instance("a")))
		e.faults("a", rendersim.Faults{TokenServerErrors: 2})
		if _, err := c.ChangedJobs(ctx, ""); err != nil {
			t.Fatal(err)
		}
		if st := e.stats("a"); st.TokenRequests != 3 || st.TokensIssued != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestManyInstancesOnOneServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, rendersim.Config{})
	const n = 20
	secretsOf := map[string]secrets.Secret{}
	jobsOf := map[string]int{}
	for i := range n {
		name := fmt.Sprintf("osp-%02d", i)
		secretsOf[name] = e.instance(name)
		jobsOf[name] = i%4 + 1
		e.createJobs(name, jobsOf[name])
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for name, secret := range secretsOf {
		wg.Go(func() {
			ch, err := e.client(e.config(name, secret)).ChangedJobs(ctx, "")
			if err == nil && len(ch.Jobs) != jobsOf[name] {
				err = fmt.Errorf("%s: read %d jobs, want %d", name, len(ch.Jobs), jobsOf[name])
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for name := range secretsOf {
		if st := e.stats(name); st.Polls != 1 || st.TokensIssued != 1 {
			t.Fatalf("%s: stats %+v", name, st)
		}
	}

	t.Run("A's credentials are refused by B", func(t *testing.T) {
		cfg := e.config("osp-01", secretsOf["osp-00"])
		cfg.ClientID = "osp-00-client"
		_, err := e.client(cfg).ChangedJobs(ctx, "")
		if !errors.Is(err, render.ErrUnauthorized) {
			t.Fatalf("err = %v, want ErrUnauthorized", err)
		}
	})
	t.Run("A's base URL with B's credentials is refused", func(t *testing.T) {
		cfg := e.config("osp-00", secretsOf["osp-01"])
		_, err := e.client(cfg).ChangedJobs(ctx, "")
		if !errors.Is(err, render.ErrUnauthorized) {
			t.Fatalf("err = %v, want ErrUnauthorized", err)
		}
	})
}

func TestChangedJobsPaginationAndCursor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, rendersim.Config{})
	cfg := e.config("a", e.instance("a"))
	cfg.PageSize = 10
	c := e.client(cfg)
	created := e.createJobs("a", 25)

	first, err := c.ChangedJobs(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if first.Pages != 3 || len(first.Jobs) != 25 || first.NextCursor == "" || first.Duplicates != 0 {
		t.Fatalf("first read: %d pages, %d jobs, cursor %q", first.Pages, len(first.Jobs), first.NextCursor)
	}
	for i, j := range first.Jobs {
		if j.ID != created[i].ID || j.ExternalRef != created[i].ExternalRef || j.Status != render.StatusDispatched || j.Version != 1 || !j.UpdatedAt.Equal(t0) {
			t.Fatalf("job %d = %+v, want %+v", i, j, created[i])
		}
	}

	none, err := c.ChangedJobs(ctx, first.NextCursor)
	if err != nil || len(none.Jobs) != 0 || none.Pages != 1 || none.NextCursor == "" {
		t.Fatalf("read with nothing new: %+v, %v", none, err)
	}

	e.clock.Advance(time.Minute)
	_, _ = e.sim.SetStatus("a", created[3].ID, rendersim.StatusEnRoute)
	_, _ = e.sim.SetStatus("a", created[3].ID, rendersim.StatusOnSite)
	_, _ = e.sim.SetStatus("a", created[7].ID, rendersim.StatusCancelled)
	next, err := c.ChangedJobs(ctx, none.NextCursor)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, 0, len(next.Jobs))
	for _, j := range next.Jobs {
		got = append(got, fmt.Sprintf("%s/%d/%s", j.ID, j.Version, j.Status))
	}
	want := []string{created[3].ID + "/2/en_route", created[3].ID + "/3/on_site", created[7].ID + "/2/cancelled"}
	if !slices.Equal(got, want) {
		t.Fatalf("changes = %v, want every change in order %v", got, want)
	}
	if next.Jobs[1].Assignee == "" || !next.Jobs[1].UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("revision %+v", next.Jobs[1])
	}
}

// TestNoChangeLostWhileJobsMove polls while jobs move on their schedule, and changes land
// between the pages of a read; every change in the simulator's feed must be read exactly once.
func TestNoChangeLostWhileJobsMove(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, rendersim.Config{Schedule: rendersim.Schedule{EnRoute: 7 * time.Second, OnSite: 11 * time.Second, Resolved: 13 * time.Second}})
	secret := e.instance("a")
	cfg := e.config("a", secret)
	cfg.PageSize = 3
	// Between pages, a job is created and the clock moves: the read must not see those
	// changes (they belong to the next read) nor lose them.
	var (
		mu           sync.Mutex
		pageRequests int
		inject       = true
	)
	base := e.creds.transport()
	transport := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		n, on := pageRequests, inject
		if r.URL.Query().Get("page_token") != "" {
			pageRequests++
		}
		mu.Unlock()
		if on && r.URL.Query().Get("page_token") != "" && n%3 == 0 {
			_, _, _ = e.sim.CreateJob("a", rendersim.JobSpec{ExternalRef: fmt.Sprintf("MID-%d", n)})
			e.clock.Advance(3 * time.Second)
		}
		return base.RoundTrip(r)
	})
	c, err := render.New(cfg, &http.Client{Transport: transport}, zerolog.New(e.logs))
	if err != nil {
		t.Fatal(err)
	}
	e.createJobs("a", 8)
	seen := map[string]bool{}
	cursor := ""
	for range 12 {
		ch, err := c.ChangedJobs(ctx, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range ch.Jobs {
			k := fmt.Sprintf("%s/%d", j.ID, j.Version)
			if seen[k] {
				t.Fatalf("revision %s read twice across reads", k)
			}
			seen[k] = true
		}
		cursor = ch.NextCursor
		e.clock.Advance(5 * time.Second)
	}
	mu.Lock()
	inject = false
	if pageRequests < 3 {
		t.Fatalf("only %d follow-up pages: the test did not exercise changes between pages", pageRequests)
	}
	mu.Unlock()
	final, err := c.ChangedJobs(ctx, cursor) // picks up what moved during the last polls
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range final.Jobs {
		seen[fmt.Sprintf("%s/%d", j.ID, j.Version)] = true
	}
	feed, _ := e.sim.Changes("a")
	for _, j := range feed {
		if k := fmt.Sprintf("%s/%d", j.ID, j.Version); !seen[k] {
			t.Fatalf("change %s (%s) was never read", k, j.Status)
		}
	}
	if len(seen) != len(feed) {
		t.Fatalf("read %d revisions, feed has %d", len(seen), len(feed))
	}
}

func TestInvalidCursor(t *testing.T) {
	t.Parallel()
	e := newEnv(t, rendersim.Config{})
	c := e.client(e.config("a", e.instance("a")))
	_, err := c.ChangedJobs(context.Background(), "bm90LWEtY3Vyc29y")
	if !errors.Is(err, render.ErrInvalidCursor) {
		t.Fatalf("err = %v, want ErrInvalidCursor", err)
	}
	if st := e.stats("a"); st.Pages != 1 {
		t.Fatalf("invalid cursor was retried: %+v", st)
	}
}
