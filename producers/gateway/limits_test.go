package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/producers/gateway"
	"github.com/osprey-strike/strike/schemas"
)

// nopProducer acknowledges every record without sending it anywhere.
type nopProducer struct{}

func (nopProducer) ProduceSync(_ context.Context, rs ...*kgo.Record) kgo.ProduceResults {
	out := make(kgo.ProduceResults, len(rs))
	for i, r := range rs {
		out[i] = kgo.ProduceResult{Record: r}
	}
	return out
}

// lightAPI is the API on its own schema with one user per role the tests need, without Kafka.
type lightAPI struct {
	db     *pgtest.Schema
	srv    *httptest.Server
	tokens map[string]string
}

func newLightAPI(t *testing.T, cfg gateway.Config, log zerolog.Logger) *lightAPI {
	t.Helper()
	ctx := context.Background()
	db := pgtest.New(t)
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, gateway.Deps{Pool: db.PoolAs(t, pg.RoleGateway), Validator: v, Producer: nopProducer{}, Log: log}, cfg)
	l := &lightAPI{db: db, srv: srv, tokens: map[string]string{}}
	acc := gateway.Accounts{Pool: db.Pool}
	for _, u := range []struct {
		email string
		admin bool
	}{{single, false}, {sysadmin, true}, {nobody, false}} {
		if _, _, err := acc.EnsureUser(ctx, u.email, "", u.admin); err != nil {
			t.Fatal(err)
		}
		tok, err := acc.CreateToken(ctx, u.email, "test")
		if err != nil {
			t.Fatal(err)
		}
		l.tokens[u.email] = tok
	}
	return l
}

// clientFrom returns an HTTP client whose connections come from the given loopback address.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

func (l *lightAPI) get(t *testing.T, c *http.Client, token, path string) (*http.Response, gateway.Problem) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, l.srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var p gateway.Problem
	_ = json.Unmarshal(raw, &p)
	return resp, p
}

// Failed authentication is limited per client address: after the burst of failures, that
// address gets 429 problem+json with Retry-After, while a valid token from another address is
// not locked out.
func TestFailedAuthenticationIsRateLimitedPerAddress(t *testing.T) {
	t.Parallel()
	const burst = 5
	l := newLightAPI(t, gateway.Config{AuthFailureBurst: burst, AuthFailureRefill: time.Minute}, zerolog.Nop())
	attacker, other := clientFrom("127.0.0.2"), clientFrom("127.0.0.3")
	for i := range burst {
		resp, _ := l.get(t, attacker, gateway.NewToken(), "/v1/me")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: status %d, want 401", i+1, resp.StatusCode)
		}
	}
	resp, p := l.get(t, attacker, gateway.NewToken(), "/v1/me")
	if resp.StatusCode != http.StatusTooManyRequests || p.Slug() != gateway.ProbTooManyFailures {
		t.Fatalf("guess %d: status %d %q, want 429 %s", burst+1, resp.StatusCode, p.Slug(), gateway.ProbTooManyFailures)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("429 Content-Type %q", ct)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Errorf("Retry-After %q, want 1..60 seconds", resp.Header.Get("Retry-After"))
	}
	// The locked address cannot test a real token either (no oracle while locked) ...
	if resp, _ := l.get(t, attacker, l.tokens[single], "/v1/me"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("valid token from the locked address: %d, want 429", resp.StatusCode)
	}
	// ... but the same valid token from another address works.
	if resp, _ := l.get(t, other, l.tokens[single], "/v1/me"); resp.StatusCode != http.StatusOK {
		t.Errorf("valid token from another address: %d, want 200", resp.StatusCode)
	}
}

// One token that keeps failing (a revoked or expired token retried from many addresses) is
// limited on its own, and only that token.
func TestFailedAuthenticationIsRateLimitedPerToken(t *testing.T) {
	t.Parallel()
	const burst = 3
	l := newLightAPI(t, gateway.Config{AuthFailureBurst: burst, AuthFailureRefill: time.Minute}, zerolog.Nop())
	if _, err := l.db.Pool.Exec(context.Background(), `UPDATE api_tokens SET revoked_at = now()
		WHERE user_id = (SELECT id FROM users WHERE email = $1)`, nobody); err != nil {
		t.Fatal(err)
	}
	revoked := l.tokens[nobody]
	for i := range burst {
		c := clientFrom("127.0.1." + strconv.Itoa(i+1))
		if resp, _ := l.get(t, c, revoked, "/v1/me"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: status %d, want 401", i+1, resp.StatusCode)
		}
	}
	resp, p := l.get(t, clientFrom("127.0.1.200"), revoked, "/v1/me")
	if resp.StatusCode != http.StatusTooManyRequests || p.Slug() != gateway.ProbTooManyFailures {
		t.Fatalf("revoked token from a fresh address: %d %q, want 429", resp.StatusCode, p.Slug())
	}
	if resp, _ := l.get(t, clientFrom("127.0.1.201"), l.tokens[single], "/v1/me"); resp.StatusCode != http.StatusOK {
		t.Errorf("another token from a fresh address: %d, want 200", resp.StatusCode)
	}
}

// Database work has a deadline per request: a token lookup stuck behind a lock is answered with
// 503 when the request's deadline passes, instead of holding the request until the client gives up.
func TestDatabaseWorkHasADeadlinePerRequest(t *testing.T) {
	t.Parallel()
	l := newLightAPI(t, gateway.Config{RequestTimeout: 300 * time.Millisecond}, zerolog.Nop())
	ctx := context.Background()
	tx, err := l.db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `LOCK TABLE api_tokens IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, p := l.get(t, clientFrom("127.0.0.1"), l.tokens[single], "/v1/me")
	took := time.Since(start)
	if resp.StatusCode != http.StatusServiceUnavailable || p.Slug() != gateway.ProbUnavailable {
		t.Fatalf("status %d %q, want 503 unavailable", resp.StatusCode, p.Slug())
	}
	if took > 3*time.Second {
		t.Fatalf("answered after %v, want about the 300 ms deadline", took)
	}
}
