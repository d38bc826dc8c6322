package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/osprey-strike/strike/internal/pg"
)

// devLoginRoles makes one login role per component, granted that component's role
// (pg.Components), and returns each component's URL: dbURL with the login role's name and a
// fresh random password. It is what an operator does by hand in production
// (docs/runbooks/database-roles.md). A component whose STRIKE_<COMPONENT>_DATABASE_URL is set
// keeps that URL and gets no login role.
//
// Roles are cluster-wide: the names carry a hash of the database's address, so two dev databases
// in one cluster never reset each other's passwords. Needs a user with CREATEROLE (strike dev's
// private cluster and the local postgres user have it).
func devLoginRoles(ctx context.Context, owner *pgxpool.Pool, dbURL string) (map[string]string, error) {
	u, err := url.Parse(dbURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("strike dev needs DATABASE_URL as a postgres:// URL to derive the components' login URLs, got %s", pg.Redact(dbURL))
	}
	sum := sha256.Sum256([]byte(u.Host + u.Path))
	tag := hex.EncodeToString(sum[:4])
	out := map[string]string{}
	for _, c := range pg.Components {
		if own := os.Getenv(c.URLEnv()); own != "" {
			out[c.Name] = own
			continue
		}
		login := "strike_dev_" + tag + "_" + strings.ReplaceAll(c.Name, "-", "_")
		var b [24]byte
		_, _ = rand.Read(b[:])
		password := hex.EncodeToString(b[:])
		if err := ensureLoginRole(ctx, owner, login, password, c.Role); err != nil {
			return nil, fmt.Errorf("strike dev: make the login role %s for %s (the database user needs CREATEROLE; or set %s): %w",
				login, c.Name, c.URLEnv(), err)
		}
		cu := *u
		cu.User = url.UserPassword(login, password)
		out[c.Name] = cu.String()
	}
	return out, nil
}

// ensureLoginRole creates login (or resets its password) and grants it role. Role statements take
// no bind parameters, so format() quotes the name and password on the server.
func ensureLoginRole(ctx context.Context, owner *pgxpool.Pool, login, password, role string) error {
	var exists bool
	if err := owner.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, login).Scan(&exists); err != nil {
		return err
	}
	verb := "CREATE"
	if exists {
		verb = "ALTER"
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`SELECT format('` + verb + ` ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD %L', $1::text, $2::text)`, []any{login, password}},
		{`SELECT format('GRANT %I TO %I', $1::text, $2::text)`, []any{role, login}},
	} {
		var stmt string
		if err := owner.QueryRow(ctx, q.sql, q.args...).Scan(&stmt); err != nil {
			return err
		}
		if _, err := owner.Exec(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}
