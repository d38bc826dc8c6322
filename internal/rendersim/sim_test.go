package rendersim_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/osprey-strike/strike/internal/rendersim"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	sim   *rendersim.Server
	clock *rendersim.ManualClock
	url   string
}

func newFixture(t *testing.T, cfg rendersim.Config) *fixture {
	t.Helper()
	clock := rendersim.NewManualClock(t0)
	sim := rendersim.New(clock, cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close) // runs first: releases hanging handlers so srv.Close returns
	return &fixture{sim: sim, clock: clock, url: srv.URL}
}

func (f *fixture) add(t *testing.T, name string) {
	t.Helper()
	if err := f.sim.AddInstance(name, name+"-id", name+"-secret"); err != nil {
		t.Fatal(err)
	}
}

// token fetches a token with HTTP Basic credentials; status is the HTTP status.
func (f *fixture) token(t *testing.T, instance, id, secret string) (string, int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, rendersim.BaseURL(f.url, instance)+"/oauth/token",
		strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		Error       string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode == http.StatusOK && (body.AccessToken == "" || body.ExpiresIn <= 0) {
		t.Fatalf("token answer %+v", body)
	}
	if resp.StatusCode == http.StatusUnauthorized && body.Error != "invalid_client" {
		t.Fatalf("401 error code %q, want invalid_client", body.Error)
	}
	return body.AccessToken, resp.StatusCode
}

type listAnswer struct {
	Jobs []struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		Version  int64  `json:"version"`
		Assignee *struct {
			Name string `json:"name"`
		} `json:"assignee"`
		UpdatedAt string `json:"updated_at"`
	} `json:"jobs"`
	NextPageToken string `json:"next_page_token"`
	NextCursor    string `json:"next_cursor"`
	Error         string `json:"error"`
}

func (f *fixture) get(t *testing.T, instance, token, pathAndQuery string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, rendersim.BaseURL(f.url, instance)+pathAndQuery, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (f *fixture) list(t *testing.T, instance, token string, q url.Values) (int, listAnswer) {
	t.Helper()
	status, b := f.get(t, instance, token, "/api/v1/jobs?"+q.Encode())
	var a listAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("list answer %q: %v", b, err)
	}
	return status, a
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rendersim.Config{TokenTTL: time.Minute})
	f.add(t, "a")
	f.add(t, "b")

	t.Run("good credentials get a token", func(t *testing.T) {
		if _, status := f.token(t, "a", "a-id", "a-secret"); status != http.StatusOK {
			t.Fatalf("status %d", status)
		}
	})
	t.Run("bad secret is invalid_client", func(t *testing.T) {
		if _, status := f.token(t, "a", "a-id", "nope"); status != http.StatusUnauthorized {
			t.Fatalf("status %d", status)
		}
	})
	t.Run("another instance's credentials are refused", func(t *testing.T) {
		if _, status := f.token(t, "b", "a-id", "a-secret"); status != http.StatusUnauthorized {
			t.Fatalf("status %d", status)
		}
	})
	t.Run("another instance's token is refused", func(t *testing.T) {
		tok, _ := f.token(t, "a", "a-id", "a-secret")
		if status, _ := f.get(t, "b", tok, "/api/v1/jobs"); status != http.StatusUnauthorized {
			t.Fatalf("status %d", status)
		}
		if status, _ := f.get(t, "a", tok, "/api/v1/jobs"); status != http.StatusOK {
			t.Fatalf("own instance: status %d", status)
		}
	})
	t.Run("credentials in the form are accepted", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"a-id"}, "client_secret": {"a-secret"}}
		resp, err := http.PostForm(rendersim.BaseURL(f.url, "a")+"/oauth/token", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("unknown instance is 404", func(t *testing.T) {
		if _, status := f.token(t, "nope", "a-id", "a-secret"); status != http.StatusNotFound {
			t.Fatalf("status %d", status)
		}
	})
}

func TestTokenExpiresOnTheClock(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rendersim.Config{TokenTTL: time.Minute})
	f.add(t, "a")
	tok, _ := f.token(t, "a", "a-id", "a-secret")
	f.clock.Advance(59 * time.Second)
	if status, _ := f.get(t, "a", tok, "/api/v1/jobs"); status != http.StatusOK {
		t.Fatalf("before TTL: status %d", status)
	}
	f.clock.Advance(time.Second)
	if status, _ := f.get(t, "a", tok, "/api/v1/jobs"); status != http.StatusUnauthorized {
		t.Fatalf("at TTL: status %d", status)
	}
	st, _ := f.sim.Requests("a")
	if st.Unauthorized != 1 || st.TokensIssued != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestScheduleMovesJobsOnTheClock(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rendersim.Config{Schedule: rendersim.DefaultSchedule()})
	f.add(t, "a")
	first, created, err := f.sim.CreateJob("a", rendersim.JobSpec{ExternalRef: "ACME-1"})
	if err != nil || !created || first.Status != rendersim.StatusDispatched || first.Version != 1 {
		t.Fatalf("CreateJob = %+v, %v, %v", first, created, err)
	}
	f.clock.Advance(5 * time.Second)
	if _, _, err := f.sim.CreateJob("a", rendersim.JobSpec{ExternalRef: "ACME-2"}); err != nil {
		t.Fatal(err)
	}

	f.clock.Advance(5 * time.Second) // job 1 is due en_route exactly now
	jobs, _ := f.sim.Jobs("a")
	if jobs[0].Status != rendersim.StatusEnRoute || jobs[0].Version != 2 || jobs[0].Assignee == "" ||
		!jobs[0].UpdatedAt.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("job 1 after 10 s: %+v", jobs[0])
	}
	if jobs[1].Status != rendersim.StatusDispatched {
		t.Fatalf("job 2 after 5 s: %+v", jobs[1])
	}

	f.clock.Advance(time.Hour) // everything resolves; feed must stay chronological
	jobs, _ = f.sim.Jobs("a")
	for _, j := range jobs {
		if j.Status != rendersim.StatusResolved || j.Version != 4 {
			t.Fatalf("after an hour: %+v", j)
		}
	}
	if want := t0.Add(60 * time.Second); !jobs[0].UpdatedAt.Equal(want) {
		t.Fatalf("resolved at %v, want %v (when it fell due, not when observed)", jobs[0].UpdatedAt, want)
	}
	changes, _ := f.sim.Changes("a")
	if len(changes) != 8 {
		t.Fatalf("%d changes, want 8", len(changes))
	}
	for i := 1; i < len(changes); i++ {
		if changes[i].UpdatedAt.Before(changes[i-1].UpdatedAt) {
			t.Fatalf("feed not chronological at %d: %v then %v", i, changes[i-1].UpdatedAt, changes[i].UpdatedAt)
		}
	}
}

func TestSetStatus(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rendersim.Config{})
	f.add(t, "a")
	j, _, _ := f.sim.CreateJob("a", rendersim.JobSpec{ExternalRef: "R1"})
	f.clock.Advance(time.Hour)
	if jobs, _ := f.sim.Jobs("a"); jobs[0].Status != rendersim.StatusDispatched {
		t.Fatalf("zero schedule moved the job: %+v", jobs[0])
	}
	got, err := f.sim.SetStatus("a", j.ID, rendersim.StatusOnSite)
	if err != nil || got.Version != 2 || got.Status != rendersim.StatusOnSite || !got.UpdatedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("SetStatus = %+v, %v", got, err)
	}
	if again, _ := f.sim.SetStatus("a", j.ID, rendersim.StatusOnSite); again.Version != 2 {
		t.Fatalf("same status bumped the version: %+v", again)
	}
	if _, err := f.sim.SetStatus("a", j.ID, "teleported"); err == nil {
		t.Fatal("unknown status accepted")
	}
	if _, err := f.sim.SetStatus("a", "job-999", rendersim.StatusResolved); err == nil {
		t.Fatal("unknown job accepted")
	}
	if _, err := f.sim.SetStatus("zz", j.ID, rendersim.StatusResolved); !errors.Is(err, rendersim.ErrNoInstance) {
		t.Fatalf("unknown instance: %v", err)
	}
}

func TestChangeFeedCursorsAndPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rendersim.Config{})
	f.add(t, "a")
	f.add(t, "b")
	for i := range 7 {
		_, _, _ = f.sim.CreateJob("a", rendersim.JobSpec{ExternalRef: "R" + string(rune('0'+i))})
	}
	tok, _ := f.token(t, "a", "a-id", "a-secret")

	var ids []string
	q := url.Values{"page_size": {"3"}}
	var cursor string
	for pages := 1; ; pages++ {
		status, a := f.list(t, "a", tok, q)
		if status != http.StatusOK {
			t.Fatalf("status %d: %+v", status, a)
		}
		for _, j := range a.Jobs {
			ids = append(ids, j.ID)
		}
		if a.NextPageToken == "" {
			cursor = a.NextCursor
			if pages != 3 || cursor == "" {
				t.Fatalf("ended after %d pages with cursor %q", pages, cursor)
			}
			break
		}
		if a.NextCursor != "" {
			t.Fatal("next_cursor on a page that is not the last")
		}
		q = url.Values{"page_size": {"3"}, "page_token": {a.NextPageToken}}
	}
	if len(ids) != 7 {
		t.Fatalf("read %d jobs, want 7", len(ids))
	}

	_, a := f.list(t, "a", tok, url.Values{"changed_since": {cursor}})
	if len(a.Jobs) != 0 || a.NextCursor != cursor {
		t.Fatalf("no change since cursor: %+v", a)
	}
	jobs, _ := f.sim.Jobs("a")
	_, _ = f.sim.SetStatus("a", jobs[2].ID, rendersim.StatusEnRoute)
	_, a = f.list(t, "a", tok, url.Values{"changed_since": {cursor}})
	if len(a.Jobs) != 1 || a.Jobs[0].ID != jobs[2].ID || a.Jobs[0].Version != 2 || a.Jobs[0].Assignee == nil {
		t.Fatalf("one change since cursor: %+v", a)
	}

	tokB, _ := f.token(t, "b", "b-id", "b-secret")
	for name, c := range map[string]string{"another instance's cursor": cursor, "garbage": "!!!", "future": "YzF8eHx4"} {
		status, a := f.list(t, "b", tokB, url.Values{"changed_since": {c}})
		if status != http.StatusBadRequest || a.Error != "invalid_cursor" {
			t.Errorf("%s: status %d, %+v", name, status, a)
		}
	}
}

func TestCreateIsIdempotentOverHTTP(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rendersim.Config{})
	f.add(t, "a")
	tok, _ := f.token(t, "a", "a-id", "a-secret")
	post := func(body string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, rendersim.BaseURL(f.url, "a")+"/api/v1/jobs", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	status, first := post(`{"external_ref":"ACME-00042-2026","title":"Fibre cut"}`)
	if status != http.StatusCreated {
		t.Fatalf("first create: %d %v", status, first)
	}
	status, second := post(`{"external_ref":"ACME-00042-2026"}`)
	if status != http.StatusConflict || second["error"] != "duplicate_external_ref" {
		t.Fatalf("second create: %d %v", status, second)
	}
	if job, _ := second["job"].(map[string]any); job["id"] != first["id"] {
		t.Fatalf("conflict names job %v, want %v", second["job"], first["id"])
	}
	if status, _ := post(`{"title":"no ref"}`); status != http.StatusBadRequest {
		t.Fatalf("create without external_ref: %d", status)
	}
	if jobs, _ := f.sim.Jobs("a"); len(jobs) != 1 {
		t.Fatalf("%d jobs, want 1", len(jobs))
	}
}

func TestFaultsCountDownAndStats(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rendersim.Config{})
	f.add(t, "a")
	tok, _ := f.token(t, "a", "a-id", "a-secret")
	if err := f.sim.SetFaults("a", rendersim.Faults{ServerErrors: 2, RateLimits: 1, RetryAfter: "7"}); err != nil {
		t.Fatal(err)
	}
	// Order: RateLimits before ServerErrors.
	req, _ := http.NewRequest(http.MethodGet, rendersim.BaseURL(f.url, "a")+"/api/v1/jobs", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "7" {
		t.Fatalf("first: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	for i, want := range []int{500, 500, 200} {
		if status, _ := f.get(t, "a", tok, "/api/v1/jobs"); status != want {
			t.Fatalf("request %d: status %d, want %d", i+2, status, want)
		}
	}
	left, _ := f.sim.Faults("a")
	if left.ServerErrors != 0 || left.RateLimits != 0 {
		t.Fatalf("faults left %+v", left)
	}
	f.clock.Advance(time.Second)
	_, _ = f.get(t, "a", tok, "/api/v1/jobs?page_token=x")
	st, _ := f.sim.Requests("a")
	if st.Polls != 4 || st.Pages != 5 || st.Faults != 3 || len(st.PollTimes) != 4 || !st.FirstPoll.Equal(t0) || !st.LastPoll.Equal(t0) {
		t.Fatalf("stats %+v", st)
	}
}

func TestAlwaysFaultsKeepFiring(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rendersim.Config{})
	f.add(t, "a")
	tok, _ := f.token(t, "a", "a-id", "a-secret")
	_ = f.sim.SetFaults("a", rendersim.Faults{ServerErrors: rendersim.Always})
	for range 5 {
		if status, _ := f.get(t, "a", tok, "/api/v1/jobs"); status != http.StatusInternalServerError {
			t.Fatalf("status %d", status)
		}
	}
	_ = f.sim.SetFaults("a", rendersim.Faults{})
	if status, _ := f.get(t, "a", tok, "/api/v1/jobs"); status != http.StatusOK {
		t.Fatalf("after clearing: status %d", status)
	}
}

func TestAddInstanceValidation(t *testing.T) {
	t.Parallel()
	sim := rendersim.New(nil, rendersim.Config{})
	tests := []struct {
		name, instance, id, secret string
		ok                         bool
	}{
		{"valid", "osp-1", "id", "s", true},
		{"duplicate", "osp-1", "id", "s", false},
		{"slash", "a/b", "id", "s", false},
		{"dot-dot", "..", "id", "s", false},
		{"empty", "", "id", "s", false},
		{"no secret", "osp-2", "id", "", false},
	}
	for _, tt := range tests {
		if err := sim.AddInstance(tt.instance, tt.id, tt.secret); (err == nil) != tt.ok {
			t.Errorf("%s: err = %v", tt.name, err)
		}
	}
	if got := sim.Instances(); len(got) != 1 || got[0] != "osp-1" {
		t.Fatalf("Instances = %v", got)
	}
	if err := sim.RemoveInstance("osp-1"); err != nil || len(sim.Instances()) != 0 {
		t.Fatalf("RemoveInstance: %v", err)
	}
}

func TestServeStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	sim := rendersim.New(nil, rendersim.Config{})
	_ = sim.AddInstance("a", "a-id", "a-secret")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- sim.Serve(ctx, ln) }()
	f := &fixture{sim: sim, url: "http://" + ln.Addr().String()}
	if _, status := f.token(t, "a", "a-id", "a-secret"); status != http.StatusOK {
		t.Fatalf("token status %d", status)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestCloseReleasesHangingRequests(t *testing.T) {
	t.Parallel()
	sim := rendersim.New(nil, rendersim.Config{})
	_ = sim.AddInstance("a", "a-id", "a-secret")
	entered := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/jobs") {
			entered <- struct{}{}
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f := &fixture{sim: sim, url: srv.URL}
	tok, _ := f.token(t, "a", "a-id", "a-secret")
	_ = sim.SetFaults("a", rendersim.Faults{Timeouts: rendersim.Always})
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, rendersim.BaseURL(f.url, "a")+"/api/v1/jobs", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-entered
	select {
	case status := <-done:
		t.Fatalf("request answered %d while the timeout fault is on", status)
	default:
	}
	sim.Close()
	if status := <-done; status != http.StatusServiceUnavailable {
		t.Fatalf("released request answered %d, want 503", status)
	}
}
