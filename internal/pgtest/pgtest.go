// Package pgtest gives each test its own PostgreSQL schema with every migration applied, on the
// real server named by DATABASE_URL (default: the local server's strike_test database), so test
// packages run in parallel without seeing each other's rows.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/osprey-strike/strike/internal/pg"
)

// DefaultURL is used when DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/strike_test?sslmode=disable"

// URL is the server tests run against.
func URL() string {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Schema is a migrated, private schema and a pool whose connections use it.
type Schema struct {
	Name string
	Pool *pgxpool.Pool
	// URL connects to the same schema, for code under test that opens its own pool.
	URL string
}

// New creates a fresh schema, migrates it and drops it when the test ends. A missing server
// fails the test with the reason: these tests never fall back to a fake.
func New(t testing.TB) *Schema {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	base := URL()
	if err := pg.EnsureDatabase(ctx, base); err != nil {
		t.Fatalf("pgtest: %v (is PostgreSQL running on 127.0.0.1:5432? set DATABASE_URL)", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])

	admin, err := pg.Open(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		admin.Close()
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = admin.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE")
		admin.Close()
	})

	cfg, err := pgxpool.ParseConfig(base)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = name
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(pool.Close)
	if _, err := pg.Migrate(ctx, pool); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return &Schema{Name: name, Pool: pool, URL: withSearchPath(base, name)}
}

// PoolAs is a pool on the same schema whose sessions are role's, as if role had logged in
// (SET SESSION AUTHORIZATION, so RESET ROLE cannot climb back to the superuser and SET ROLE checks
// role's own memberships). Tests run a component as its database role (internal/pg.Role*) with it,
// so a missing grant or policy fails them as it would fail production.
func (s *Schema) PoolAs(t testing.TB, role string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(s.URL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "SET SESSION AUTHORIZATION "+pgx.Identifier{role}.Sanitize())
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		t.Fatalf("pgtest: connect as %s: %v", role, err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// URLAs is URL with role as the connection's role (the startup option role=), for a component
// under test in a child process: it works with role's grants and policies. Unlike PoolAs the
// session user stays the test's, so the child could RESET ROLE; the tests' children do not.
func (s *Schema) URLAs(role string) string {
	return s.URL + "&role=" + role
}

func withSearchPath(url, schema string) string {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}
