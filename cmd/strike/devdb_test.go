package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/osprey-strike/strike/internal/pgtest"
)

// strike dev writes demo data, dev tokens and resets sink offsets: it works only in a database
// it created itself (marked when created) unless told otherwise with --dev-reuse-database.
func TestDevRefusesADatabaseItDidNotCreate(t *testing.T) {
	ctx := context.Background()
	log := zerolog.Nop()

	// A database strike dev did not create (the test database): refused, with what to do.
	db := pgtest.New(t)
	err := prepareDevDatabase(ctx, log, db.URL, false, false)
	if err == nil {
		t.Fatal("strike dev accepted a database it did not create")
	}
	for _, want := range []string{"--dev-reuse-database", "not created by 'strike dev'", "COMMENT ON DATABASE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// Told otherwise: accepted, and still not marked as its own.
	if err := prepareDevDatabase(ctx, log, db.URL, true, false); err != nil {
		t.Fatalf("--dev-reuse-database: %v", err)
	}
	if err := prepareDevDatabase(ctx, log, db.URL, false, false); err == nil {
		t.Fatal("--dev-reuse-database once marked the database as strike dev's")
	}

	// A fresh machine: the database does not exist; strike dev creates and marks it, and
	// accepts it again at the next start (an earlier `make run`).
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "strike_devtest_" + hex.EncodeToString(b[:])
	cfg, err := pgx.ParseConfig(pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	fresh := strings.Replace(pgtest.URL(), "/"+cfg.Database, "/"+name, 1)
	drop := func(db string) {
		conn, err := pgx.Connect(context.Background(), pgtest.URL())
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { drop(name) })
	if err := prepareDevDatabase(ctx, log, fresh, false, false); err != nil {
		t.Fatalf("fresh database: %v", err)
	}
	if err := prepareDevDatabase(ctx, log, fresh, false, false); err != nil {
		t.Fatalf("database created by an earlier strike dev: %v", err)
	}

	// A development database from a strike dev older than the marker, marked once by hand
	// with the statement the refusal gives: accepted from then on.
	legacyName := name + "_legacy"
	legacy := strings.Replace(pgtest.URL(), "/"+cfg.Database, "/"+legacyName, 1)
	admin, err := pgx.Connect(ctx, pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+legacyName); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { drop(legacyName) })
	err = prepareDevDatabase(ctx, log, legacy, false, false)
	if err == nil {
		t.Fatal("accepted an unmarked database")
	}
	conn, err2 := pgx.Connect(ctx, legacy)
	if err2 != nil {
		t.Fatal(err2)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, err.Error()[strings.Index(err.Error(), "COMMENT ON DATABASE"):]); err != nil {
		t.Fatalf("the statement in the refusal does not run: %v", err)
	}
	if err := prepareDevDatabase(ctx, log, legacy, false, false); err != nil {
		t.Fatalf("database marked by hand: %v", err)
	}
}
