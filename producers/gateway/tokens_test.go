package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/producers/gateway"
)

type discardProducer struct{}

func (discardProducer) ProduceSync(context.Context, ...*kgo.Record) kgo.ProduceResults { return nil }

// tokenItem is a listed token: never its secret.
type tokenItem struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Token      string     `json:"token"`
}

type tokenList struct {
	Items []tokenItem `json:"items"`
}

// lockedBuffer collects log lines from concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logged serves the world's database through a second API that logs into a buffer (info and
// above) with cfg, and returns a copy of the world that talks to it.
func (w *world) logged(t *testing.T, cfg gateway.Config) (*world, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	producer := w.kafka.ClientAs(t, w.kafka.Principal(t, "gateway"))
	cfg.AuthFailureBurst = 1 << 20
	srv := serve(t, gateway.Deps{Pool: w.db.PoolAs(t, pg.RoleGateway), Validator: w.v, Producer: producer,
		Log: zerolog.New(logs).Level(zerolog.InfoLevel)}, cfg)
	w2 := *w
	w2.srv = srv
	w2.tokens = map[string]string{}
	for k, v := range w.tokens {
		w2.tokens[k] = v
	}
	return &w2, logs
}

func (w *world) userID(t *testing.T, email string) string {
	t.Helper()
	var id string
	if err := w.db.Pool.QueryRow(context.Background(), `SELECT id::text FROM users WHERE email = $1`, email).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func near(t *testing.T, what string, got *time.Time, want time.Time) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: no expiry, want about %s", what, want)
		return
	}
	if d := got.Sub(want); d < -time.Minute || d > time.Minute {
		t.Errorf("%s: expires %s, want about %s", what, got, want)
	}
}

func TestOwnTokensListCreateRevoke(t *testing.T) {
	t.Parallel()
	w := newWorld(t)

	r := w.do(t, single, "GET", "/v1/me/tokens", nil)
	if r.status != http.StatusOK {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), w.tokens[single]) || strings.Contains(string(r.body), `"token"`) {
		t.Errorf("list shows a secret: %s", r.body)
	}
	l := decode[tokenList](t, r)
	if len(l.Items) != 1 || l.Items[0].Name != "test" || l.Items[0].ID == "" {
		t.Fatalf("list: %s", r.body)
	}
	// Tokens issued without an expiry get the default, 90 days.
	near(t, "CreateToken", l.Items[0].ExpiresAt, l.Items[0].CreatedAt.Add(90*24*time.Hour))
	if l.Items[0].LastUsedAt == nil {
		t.Errorf("the token just used has no last_used_at: %s", r.body)
	}

	r = w.do(t, single, "POST", "/v1/me/tokens", map[string]any{"name": "laptop"})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	created := decode[tokenItem](t, r)
	if !strings.HasPrefix(created.Token, gateway.TokenPrefix) || created.ID == "" || created.Name != "laptop" {
		t.Fatalf("create: %s", r.body)
	}
	near(t, "created", created.ExpiresAt, time.Now().Add(90*24*time.Hour))
	w.tokens["single-laptop"] = created.Token
	if r := w.do(t, "single-laptop", "GET", "/v1/me", nil); r.status != http.StatusOK {
		t.Fatalf("the new token: %d", r.status)
	}

	r = w.do(t, single, "POST", "/v1/me/tokens", map[string]any{"name": "short", "expires_in_days": 7})
	if r.status != http.StatusCreated {
		t.Fatalf("create with expiry: %d %s", r.status, r.body)
	}
	near(t, "7 days", decode[tokenItem](t, r).ExpiresAt, time.Now().Add(7*24*time.Hour))

	for _, body := range []any{"{}", map[string]any{"name": ""}, map[string]any{"name": "x", "expires_in_days": 0},
		map[string]any{"name": "x", "expires_in_days": 366}, map[string]any{"name": strings.Repeat("x", 101)},
		map[string]any{"name": "x", "token": "stk_chosen"}} {
		if r := w.do(t, single, "POST", "/v1/me/tokens", body); r.status != http.StatusBadRequest || r.slug() != gateway.ProbValidation {
			t.Errorf("create %v: %d %s, want 400 validation", body, r.status, r.body)
		}
	}

	l = decode[tokenList](t, w.do(t, single, "GET", "/v1/me/tokens", nil))
	if len(l.Items) != 3 {
		t.Fatalf("after two creates: %d tokens", len(l.Items))
	}
	for _, it := range l.Items {
		if it.Token != "" {
			t.Errorf("list shows a secret for %s", it.Name)
		}
	}

	// Revoke one: only that token stops working.
	if r := w.do(t, single, "DELETE", "/v1/me/tokens/"+created.ID, nil); r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := w.do(t, "single-laptop", "GET", "/v1/me", nil); r.status != http.StatusUnauthorized {
		t.Errorf("revoked token: %d", r.status)
	}
	if r := w.do(t, single, "GET", "/v1/me", nil); r.status != http.StatusOK {
		t.Errorf("the other token after revoking one: %d", r.status)
	}
	if r := w.do(t, single, "DELETE", "/v1/me/tokens/"+created.ID, nil); r.status != http.StatusNotFound {
		t.Errorf("revoke twice: %d, want 404", r.status)
	}
	if r := w.do(t, single, "DELETE", "/v1/me/tokens/not-a-uuid", nil); r.status != http.StatusNotFound || r.slug() != gateway.ProbNotFound {
		t.Errorf("revoke a malformed id: %d %s", r.status, r.body)
	}
	if n := len(decode[tokenList](t, w.do(t, single, "GET", "/v1/me/tokens", nil)).Items); n != 2 {
		t.Errorf("after a revoke: %d tokens listed, want 2", n)
	}

	// A user without memberships manages their own tokens too.
	if r := w.do(t, nobody, "GET", "/v1/me/tokens", nil); r.status != http.StatusOK {
		t.Errorf("no-memberships user lists tokens: %d", r.status)
	}
}

// Revoking someone else's token is a 404, exactly as for an id that does not exist.
func TestRevokingAnotherUsersTokenIsNotFound(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	mine := decode[tokenList](t, w.do(t, single, "GET", "/v1/me/tokens", nil)).Items[0]
	theirs := w.do(t, multi, "DELETE", "/v1/me/tokens/"+mine.ID, nil)
	ghost := w.do(t, multi, "DELETE", "/v1/me/tokens/00000000-0000-4000-8000-000000000000", nil)
	if theirs.status != http.StatusNotFound || ghost.status != http.StatusNotFound || string(theirs.body) != string(ghost.body) {
		t.Errorf("another user's token: %d %s; a missing one: %d %s", theirs.status, theirs.body, ghost.status, ghost.body)
	}
	if r := w.do(t, single, "GET", "/v1/me", nil); r.status != http.StatusOK {
		t.Errorf("the token after another user tried to revoke it: %d", r.status)
	}
	if r := w.do(t, multi, "DELETE", "/v1/admin/users/"+single+"/tokens/"+mine.ID, nil); r.status != http.StatusForbidden ||
		r.slug() != gateway.ProbNotSystemAdmin {
		t.Errorf("admin route as a non-admin: %d %s", r.status, r.body)
	}
}

func TestSystemAdminManagesAnyUsersTokens(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, who := range []string{single, w.userID(t, single)} {
		r := w.do(t, sysadmin, "GET", "/v1/admin/users/"+who+"/tokens", nil)
		if r.status != http.StatusOK || len(decode[tokenList](t, r).Items) != 1 || strings.Contains(string(r.body), w.tokens[single]) {
			t.Errorf("admin list of %s: %d %s", who, r.status, r.body)
		}
	}
	r := w.do(t, sysadmin, "POST", "/v1/admin/users/"+single+"/tokens", map[string]any{"name": "issued by ops", "expires_in_days": 30})
	if r.status != http.StatusCreated {
		t.Fatalf("admin create: %d %s", r.status, r.body)
	}
	issued := decode[tokenItem](t, r)
	near(t, "admin-issued", issued.ExpiresAt, time.Now().Add(30*24*time.Hour))
	w.tokens["issued"] = issued.Token
	if m := decode[me](t, w.do(t, "issued", "GET", "/v1/me", nil)); len(m.Tenants) != 1 || m.Tenants[0].TenantID != devdata.NOCNorthwind {
		t.Errorf("the admin-issued token is not the user's: %+v", m)
	}
	// A token id of another user under this user: 404.
	sysTok := decode[tokenList](t, w.do(t, sysadmin, "GET", "/v1/me/tokens", nil)).Items[0]
	if r := w.do(t, sysadmin, "DELETE", "/v1/admin/users/"+single+"/tokens/"+sysTok.ID, nil); r.status != http.StatusNotFound {
		t.Errorf("another user's token id under the user: %d", r.status)
	}
	if r := w.do(t, sysadmin, "DELETE", "/v1/admin/users/"+single+"/tokens/"+issued.ID, nil); r.status != http.StatusNoContent {
		t.Fatalf("admin revoke: %d %s", r.status, r.body)
	}
	if r := w.do(t, "issued", "GET", "/v1/me", nil); r.status != http.StatusUnauthorized {
		t.Errorf("admin-revoked token: %d", r.status)
	}
	for _, path := range []string{"/v1/admin/users/ghost@nowhere.example/tokens", "/v1/admin/users/00000000-0000-4000-8000-000000000000/tokens"} {
		if r := w.do(t, sysadmin, "GET", path, nil); r.status != http.StatusNotFound || r.slug() != gateway.ProbNotFound {
			t.Errorf("GET %s: %d %s", path, r.status, r.body)
		}
		if r := w.do(t, sysadmin, "POST", path, map[string]any{"name": "x"}); r.status != http.StatusNotFound {
			t.Errorf("POST %s: %d %s", path, r.status, r.body)
		}
	}
}

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	// The default comes from the config.
	w2, _ := w.logged(t, gateway.Config{TokenTTL: 48 * time.Hour})
	r := w2.do(t, single, "POST", "/v1/me/tokens", map[string]any{"name": "two days"})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	tok := decode[tokenItem](t, r)
	near(t, "TokenTTL 48h", tok.ExpiresAt, time.Now().Add(48*time.Hour))
	// An expired token is refused and no longer listed.
	if _, err := w.db.Pool.Exec(ctx, `UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, tok.ID); err != nil {
		t.Fatal(err)
	}
	w2.tokens["expired"] = tok.Token
	if r := w2.do(t, "expired", "GET", "/v1/me", nil); r.status != http.StatusUnauthorized {
		t.Errorf("expired token: %d", r.status)
	}
	for _, it := range decode[tokenList](t, w2.do(t, single, "GET", "/v1/me/tokens", nil)).Items {
		if it.ID == tok.ID {
			t.Error("an expired token is listed")
		}
	}
	// The CLI's path issues with an explicit expiry.
	acc := gateway.Accounts{Pool: w.db.Pool}
	secret, info, err := acc.IssueToken(ctx, single, "cli", 10*24*time.Hour)
	if err != nil || !strings.HasPrefix(secret, gateway.TokenPrefix) {
		t.Fatalf("IssueToken: %v", err)
	}
	near(t, "IssueToken", info.ExpiresAt, time.Now().Add(10*24*time.Hour))

	for _, cfg := range []gateway.Config{{TokenTTL: -time.Hour}, {TokenTTL: 400 * 24 * time.Hour}, {TokenTTL: time.Hour, TokenMaxTTL: time.Minute}} {
		if _, err := gateway.New(gateway.Deps{Pool: w.db.Pool, Validator: w.v, Producer: discardProducer{}}, cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}

// Denials and admin writes are logged at info with the user and tenant ids, never a token.
func TestDenialsAndAdminWritesAreLogged(t *testing.T) {
	t.Parallel()
	w, logs := newWorld(t).logged(t, gateway.Config{})
	singleID, multiID, adminID := w.userID(t, single), w.userID(t, multi), w.userID(t, sysadmin)
	mine := decode[tokenList](t, w.do(t, single, "GET", "/v1/me/tokens", nil)).Items[0]

	w.do(t, multi, "DELETE", "/v1/me/tokens/"+mine.ID, nil)                                            // 404: another user's token
	w.do(t, single, "GET", "/v1/nocs/"+devdata.NOCHarbor+"/ecos", nil)                                 // 403 forbidden-tenant
	w.do(t, "", "GET", "/v1/me/tokens", nil)                                                           // 401
	w.do(t, "stk_wrong", "GET", "/v1/me/tokens", nil)                                                  // 401
	w.do(t, viewer, "GET", "/v1/admin/users/"+single+"/tokens", nil)                                   // 403 not-system-admin
	r := w.do(t, sysadmin, "POST", "/v1/admin/users/"+single+"/tokens", map[string]any{"name": "ops"}) // admin write
	if r.status != http.StatusCreated {
		t.Fatalf("admin create: %d %s", r.status, r.body)
	}
	issued := decode[tokenItem](t, r)
	w.do(t, sysadmin, "DELETE", "/v1/admin/users/"+single+"/tokens/"+issued.ID, nil) // admin write
	w.do(t, sysadmin, "PUT", "/v1/admin/nocs/"+devdata.NOCHarbor+"/policy", "{}")    // admin write, refused
	own := decode[tokenItem](t, w.do(t, single, "POST", "/v1/me/tokens", map[string]any{"name": "own"}))

	out := logs.String()
	for name, secret := range w.tokens {
		if strings.Contains(out, secret) {
			t.Errorf("the log shows %s's token", name)
		}
	}
	for _, secret := range []string{issued.Token, own.Token, "stk_wrong"} {
		if strings.Contains(out, secret) {
			t.Error("the log shows a created token")
		}
	}
	want := []struct{ what, a, b, c string }{
		{"404 on another user's token", `"user_id":"` + multiID + `"`, `"status":404`, `"token_id":"` + mine.ID + `"`},
		{"403 forbidden tenant", `"user_id":"` + singleID + `"`, `"status":403`, `"noc_tenant_id":"` + devdata.NOCHarbor + `"`},
		{"401", `"route":"GET /v1/me/tokens"`, `"status":401`, `"level":"info"`},
		{"admin create", `"user_id":"` + adminID + `"`, `"status":201`, `"target_user_id":"` + singleID + `"`},
		{"admin revoke", `"user_id":"` + adminID + `"`, `"status":204`, `"token_id":"` + issued.ID + `"`},
		{"admin policy write", `"user_id":"` + adminID + `"`, `"route":"PUT /v1/admin/nocs/{noc}/policy"`, `"noc_tenant_id":"` + devdata.NOCHarbor + `"`},
	}
	lines := strings.Split(out, "\n")
	for _, w := range want {
		found := false
		for _, l := range lines {
			if strings.Contains(l, `"level":"info"`) && strings.Contains(l, w.a) && strings.Contains(l, w.b) && strings.Contains(l, w.c) {
				found = true
			}
		}
		if !found {
			t.Errorf("no info line for %s (%s %s %s) in:\n%s", w.what, w.a, w.b, w.c, out)
		}
	}
}
