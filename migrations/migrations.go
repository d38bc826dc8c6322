// Package migrations holds Strike's PostgreSQL schema as numbered goose migrations,
// embedded so the binary carries them. Apply them with internal/pg.Migrate
// (`strike migrate`, or automatically in `strike dev`).
package migrations

import "embed"

// FS holds every NNNNN_name.sql migration in this folder.
//
//go:embed *.sql
var FS embed.FS
