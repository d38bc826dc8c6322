// Package pg opens Strike's PostgreSQL pool and applies the embedded migrations.
package pg

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/osprey-strike/strike/migrations"
)

// DefaultURL is the local server that `make run` and `make test` expect.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/strike?sslmode=disable"

// Open connects a pool and checks the server answers.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres at %s: %w", Redact(url), err)
	}
	return pool, nil
}

// Redact returns url without its password, for log lines and errors.
func Redact(url string) string {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return "(unparseable database url)"
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// EnsureDatabase creates the database named in url if it does not exist, connecting to the
// server's "postgres" database to do so. It is what lets `make run` work on a fresh machine.
func EnsureDatabase(ctx context.Context, url string) error {
	_, err := CreateDatabaseIfMissing(ctx, url)
	return err
}

// CreateDatabaseIfMissing is EnsureDatabase that also says whether this call created the
// database (false when it existed, or another caller created it first).
func CreateDatabaseIfMissing(ctx context.Context, url string) (created bool, err error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return false, fmt.Errorf("parse database url: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return false, conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name
		return false, fmt.Errorf("connect to postgres at %s: %w", Redact(url), err)
	}
	admin := cfg.Copy()
	admin.Database = "postgres"
	conn, err = pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return false, fmt.Errorf("connect to postgres to create database %q: %w", cfg.Database, err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{cfg.Database}.Sanitize())
	if err != nil {
		if isDuplicateDatabase(err) {
			return false, nil
		}
		return false, fmt.Errorf("create database %q: %w", cfg.Database, err)
	}
	return true, nil
}

func isDuplicateDatabase(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505")
}

// MigrationResult says what Migrate applied.
type MigrationResult struct {
	Applied []int64
	Current int64
}

// Migrate applies every pending migration in migrations.FS to the database the pool points at
// (its search_path decides the schema). A PostgreSQL advisory lock keeps concurrent callers, such
// as several replicas starting at once, from applying the same migration twice.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (MigrationResult, error) {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	return migrate(ctx, db, migrations.FS)
}

func migrate(ctx context.Context, db *sql.DB, fsys fs.FS) (MigrationResult, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return MigrationResult{}, fmt.Errorf("migration lock: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return MigrationResult{}, fmt.Errorf("load migrations: %w", err)
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return MigrationResult{}, fmt.Errorf("apply migrations: %w", err)
	}
	var res MigrationResult
	for _, r := range results {
		res.Applied = append(res.Applied, r.Source.Version)
	}
	if res.Current, err = provider.GetDBVersion(ctx); err != nil {
		return res, fmt.Errorf("read schema version: %w", err)
	}
	return res, nil
}
