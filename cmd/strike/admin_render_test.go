package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/internal/secrets"
	"github.com/osprey-strike/strike/internal/tenancy"
)

// runRenderAdminCLI runs the CLI with args and stdin, returning stdout+stderr.
func runRenderAdminCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// Not parallel: STRIKE_SECRET_KEYS is process environment.
func TestAdminRenderTakesTheSecretFromStdinAndNeverShowsIt(t *testing.T) {
	db := pgtest.New(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(devdata.Seed(context.Background(), tenancy.Store{Pool: db.Pool}))
	k1 := "k1:" + secrets.GenerateKey()
	t.Setenv(secrets.EnvKeys, k1)
	const secret = "sEcReT-from-stdin-1234"
	url := "--database-url=" + db.URL

	out, err := runRenderAdminCLI(t, secret+"\n", "admin", "render", "add", url, "--id", "acme-main", "--osp", devdata.OSPAcme,
		"--base-url", "https://acme.render.example", "--client-id", "strike-acme")
	must(err)
	if !strings.Contains(out, "sealed under key k1") {
		t.Errorf("add said %q", out)
	}
	var stored string
	must(db.Pool.QueryRow(context.Background(), `SELECT client_secret_sealed FROM render_instances WHERE id = 'acme-main'`).Scan(&stored))
	kr, err := secrets.ParseKeyring(k1)
	must(err)
	if got, err := kr.Open(stored, secrets.RenderSecretAAD(devdata.OSPAcme, "acme-main", "https://acme.render.example", "strike-acme")); err != nil || got.Reveal() != secret {
		t.Fatalf("stored secret does not open to what stdin gave (err %v)", err)
	}

	// No flag can carry a secret.
	if _, err := runRenderAdminCLI(t, "", "admin", "render", "add", url, "--id", "x", "--osp", devdata.OSPAcme,
		"--base-url", "https://x.example", "--client-id", "c", "--secret", secret); err == nil || !strings.Contains(err.Error(), "unknown flag") {
		t.Errorf("add accepted a --secret flag: %v", err)
	}
	if _, err := runRenderAdminCLI(t, "", "admin", "render", "add", url, "--id", "x", "--osp", devdata.OSPAcme,
		"--base-url", "https://x.example", "--client-id", "c"); err == nil || !strings.Contains(err.Error(), "no secret given") {
		t.Errorf("add without a secret on stdin = %v, want a refusal", err)
	}

	// Rotation to a new key, then a listing that shows the key id but not the secret.
	t.Setenv(secrets.EnvKeys, k1+",k2:"+secrets.GenerateKey())
	out, err = runRenderAdminCLI(t, "", "admin", "render", "rotate-keys", url)
	must(err)
	if !strings.Contains(out, "1 secrets, 1 rotated, 0 already current, 0 failed") {
		t.Errorf("rotate-keys said %q", out)
	}
	out, err = runRenderAdminCLI(t, "", "admin", "render", "list", url, "--json")
	must(err)
	if strings.Contains(out, secret) || !strings.Contains(out, `"secret_key_id": "k2"`) {
		t.Errorf("list = %s; want key k2 and no secret", out)
	}
	out, err = runRenderAdminCLI(t, "new-"+secret+"\n", "admin", "render", "update", url, "acme-main", "--secret", "--interval", "30s")
	must(err)
	if strings.Contains(out, secret) {
		t.Errorf("update printed the secret: %s", out)
	}
	out, err = runRenderAdminCLI(t, "", "admin", "render", "remove", url, "acme-main")
	must(err)
	if !strings.Contains(out, "removed") {
		t.Errorf("remove said %q", out)
	}
}
