package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/producers/gateway"
)

// runCLIWithInput runs the CLI with stdin.
func runCLIWithInput(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// A sign-in password is set from stdin (never a flag), stored as an argon2id hash, not marked as
// a dev password; too short a password and an unknown user are refused.
func TestAdminPasswordSet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	url := "--database-url=" + db.URL
	if _, _, err := (gateway.Accounts{Pool: db.Pool}).EnsureUser(ctx, "ops@example.com", "", false); err != nil {
		t.Fatal(err)
	}
	out, err := runCLIWithInput(t, "correct horse battery staple\n", "admin", "password", "set", url, "--user", "Ops@Example.com")
	if err != nil || !strings.Contains(out, "password set for ops@example.com") {
		t.Fatalf("password set said %q (%v)", out, err)
	}
	var hash string
	var dev bool
	if err := db.Pool.QueryRow(ctx, `SELECT password_hash, password_dev FROM users WHERE email = 'ops@example.com'`).Scan(&hash, &dev); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$") || strings.Contains(hash, "horse") || dev {
		t.Fatalf("stored %q (dev %v)", hash, dev)
	}
	if _, err := runCLIWithInput(t, "short\n", "admin", "password", "set", url, "--user", "ops@example.com"); err == nil {
		t.Error("a 5-character password was accepted")
	}
	if _, err := runCLIWithInput(t, "correct horse battery staple\n", "admin", "password", "set", url, "--user", "ghost@example.com"); err == nil {
		t.Error("a password for a user that does not exist was accepted")
	}
}
