package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/producers/gateway"
)

func TestAdminTokenAndMembershipCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	if err := devdata.Seed(ctx, tenancy.Store{Pool: db.Pool}); err != nil {
		t.Fatal(err)
	}
	url := "--database-url=" + db.URL
	out, err := runCLI(t, "admin", "token", "create", url, "--user", "Ops@Example.com", "--system-admin")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	token := lines[len(lines)-1]
	if !strings.HasPrefix(token, gateway.TokenPrefix) || !strings.Contains(out, "created user") {
		t.Fatalf("token create said %q", out)
	}
	var stored, admin int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE t.token_sha256 = $1), count(*) FILTER (WHERE u.system_role = 'admin')
		FROM api_tokens t JOIN users u ON u.id = t.user_id`, gateway.HashToken(token)).Scan(&stored, &admin); err != nil {
		t.Fatal(err)
	}
	if stored != 1 || admin != 1 {
		t.Errorf("stored hashes matching the printed token: %d, system admins: %d; want 1 and 1", stored, admin)
	}
	var plain int
	_ = db.Pool.QueryRow(ctx, `SELECT count(*) FROM api_tokens WHERE position($1::bytea IN token_sha256) > 0`, []byte(token)).Scan(&plain)
	if plain != 0 {
		t.Error("the token itself is stored")
	}

	if _, err := runCLI(t, "admin", "membership", "add", url, "--user", "ops@example.com", "--noc", devdata.NOCHarbor, "--role", "viewer"); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, "admin", "membership", "add", url, "--user", "ops@example.com", "--noc", "noc-ghost"); err == nil {
		t.Error("membership in a tenant that does not exist was accepted")
	}
	if _, err := runCLI(t, "admin", "membership", "add", url, "--user", "ops@example.com", "--noc", devdata.NOCHarbor, "--osp", devdata.OSPAcme); err == nil {
		t.Error("both --noc and --osp were accepted")
	}
	if _, err := runCLI(t, "admin", "membership", "remove", url, "--user", "ops@example.com", "--noc", devdata.NOCHarbor); err != nil {
		t.Fatal(err)
	}
	var ms int
	_ = db.Pool.QueryRow(ctx, `SELECT count(*) FROM memberships`).Scan(&ms)
	if ms != 0 {
		t.Errorf("%d memberships after remove", ms)
	}
	out, err = runCLI(t, "admin", "token", "revoke", url, "--user", "ops@example.com")
	if err != nil || !strings.Contains(out, "revoked 1 tokens") {
		t.Errorf("revoke said %q (%v)", out, err)
	}
}

// runCLI runs the CLI with args, returning stdout+stderr.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// Tokens issued by the CLI expire (90 days by default); one token can be listed and revoked by
// id, and revoking without --id still revokes every token of the user.
func TestAdminTokenExpiryListAndRevokeOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	url := "--database-url=" + db.URL
	create := func(args ...string) string {
		t.Helper()
		out, err := runCLI(t, append([]string{"admin", "token", "create", url, "--user", "ops@example.com"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		return lines[len(lines)-1]
	}
	first := create("--label", "laptop")
	second := create("--label", "ci", "--expires-in-days", "7")
	if _, err := runCLI(t, "admin", "token", "create", url, "--user", "ops@example.com", "--expires-in-days", "0"); err == nil {
		t.Error("--expires-in-days 0 was accepted")
	}
	var days1, days2 float64
	var id2 string
	if err := db.Pool.QueryRow(ctx, `SELECT extract(epoch FROM expires_at - now()) / 86400 FROM api_tokens WHERE token_sha256 = $1`,
		gateway.HashToken(first)).Scan(&days1); err != nil {
		t.Fatal(err)
	}
	if err := db.Pool.QueryRow(ctx, `SELECT id::text, extract(epoch FROM expires_at - now()) / 86400 FROM api_tokens WHERE token_sha256 = $1`,
		gateway.HashToken(second)).Scan(&id2, &days2); err != nil {
		t.Fatal(err)
	}
	if days1 < 89.9 || days1 > 90.1 || days2 < 6.9 || days2 > 7.1 {
		t.Errorf("expiries in days: %.2f and %.2f, want 90 and 7", days1, days2)
	}
	out, err := runCLI(t, "admin", "token", "list", url, "--user", "ops@example.com")
	if err != nil || !strings.Contains(out, id2) || !strings.Contains(out, "laptop") || strings.Contains(out, first) || strings.Contains(out, second) {
		t.Errorf("list said %q (%v)", out, err)
	}
	out, err = runCLI(t, "admin", "token", "revoke", url, "--user", "ops@example.com", "--id", id2)
	if err != nil || !strings.Contains(out, "revoked token "+id2) {
		t.Errorf("revoke one said %q (%v)", out, err)
	}
	if _, err := runCLI(t, "admin", "token", "revoke", url, "--user", "ops@example.com", "--id", id2); err == nil {
		t.Error("revoking a revoked token again succeeded")
	}
	var active int
	_ = db.Pool.QueryRow(ctx, `SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL`).Scan(&active)
	if active != 1 {
		t.Errorf("%d active tokens after revoking one of two", active)
	}
}
