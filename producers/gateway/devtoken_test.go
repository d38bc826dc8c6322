package gateway_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/producers/gateway"
	"github.com/osprey-strike/strike/schemas"
)

// A stk_dev_ token is derived from a public seed: a gateway outside `strike dev` refuses it as
// it refuses an unknown token (401), and says why in its log without showing the token. A random
// token of the same user keeps working; in dev mode the dev token works.
func TestDevTokenRefusedOutsideDevMode(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	acc := gateway.Accounts{Pool: db.Pool}
	const email = "nina@northwind.example"
	if _, _, err := acc.EnsureUser(ctx, email, "Nina", false); err != nil {
		t.Fatal(err)
	}
	devTok := gateway.DevToken("public-seed", email)
	if !gateway.IsDevToken(devTok) {
		t.Fatalf("IsDevToken(%q) = false", devTok)
	}
	if err := acc.StoreToken(ctx, email, devTok, "strike dev"); err != nil {
		t.Fatal(err)
	}
	realTok, err := acc.CreateToken(ctx, email, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	if gateway.IsDevToken(realTok) {
		t.Fatalf("IsDevToken(random token) = true")
	}

	serve := func(devMode bool) (*httptest.Server, *bytes.Buffer) {
		var logs bytes.Buffer
		srv := serve(t, gateway.Deps{Pool: db.PoolAs(t, pg.RoleGateway), Validator: v, Producer: nopProducer{}, Log: zerolog.New(&logs)},
			gateway.Config{DevMode: devMode})
		return srv, &logs
	}
	get := func(srv *httptest.Server, token string) int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	prod, logs := serve(false)
	if got := get(prod, devTok); got != http.StatusUnauthorized {
		t.Errorf("normal mode, dev token: status %d, want 401", got)
	}
	if got := get(prod, realTok); got != http.StatusOK {
		t.Errorf("normal mode, random token: status %d, want 200", got)
	}
	if !strings.Contains(logs.String(), "dev token") {
		t.Errorf("no log line says a dev token was refused:\n%s", logs)
	}
	if strings.Contains(logs.String(), devTok) || strings.Contains(logs.String(), devTok[len(gateway.DevTokenPrefix):]) {
		t.Errorf("the log shows the token:\n%s", logs)
	}

	dev, _ := serve(true)
	if got := get(dev, devTok); got != http.StatusOK {
		t.Errorf("dev mode, dev token: status %d, want 200", got)
	}
}
