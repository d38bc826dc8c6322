package devpg

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Marker starts the comment `strike dev` writes on a database it created (COMMENT ON DATABASE).
// `strike dev` seeds demo data, plants dev tokens and resets the sink's offsets; it does so only
// in a database carrying this marker, unless told otherwise (--dev-reuse-database).
const Marker = "strike-dev:"

const markerComment = Marker + " created by 'strike dev' for development; holds demo data and dev-only tokens. Never point a production component at it."

// ErrNotDevDatabase wraps the refusal of a database without the marker.
var ErrNotDevDatabase = errors.New("database not created by 'strike dev'")

// markStatement is the SQL that marks database name as strike dev's. COMMENT takes no
// parameters: the text is a constant, the name an escaped identifier.
func markStatement(name string) string {
	return "COMMENT ON DATABASE " + pgx.Identifier{name}.Sanitize() + " IS '" + strings.ReplaceAll(markerComment, "'", "''") + "'"
}

// MarkSQL is the statement an operator runs once to mark an existing development database
// (one created by a strike dev older than the marker), for error messages.
func MarkSQL(url string) string {
	name := "<database>"
	if cfg, err := pgx.ParseConfig(url); err == nil {
		name = cfg.Database
	}
	return markStatement(name)
}

// MarkDatabase writes the marker on the database url names (the caller must own it, as the one
// that created it does).
func MarkDatabase(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("mark the dev database: %w", err)
	}
	defer conn.Close(ctx)
	name := conn.Config().Database
	_, err = conn.Exec(ctx, markStatement(name))
	if err != nil {
		return fmt.Errorf("mark database %q as strike dev's (COMMENT ON DATABASE): %w", name, err)
	}
	return nil
}

// IsDevDatabase reports whether the database url names carries the marker.
func IsDevDatabase(ctx context.Context, url string) (bool, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return false, fmt.Errorf("read the dev database marker: %w", err)
	}
	defer conn.Close(ctx)
	var comment string
	err = conn.QueryRow(ctx, `SELECT coalesce(shobj_description(oid, 'pg_database'), '')
		FROM pg_database WHERE datname = current_database()`).Scan(&comment)
	if err != nil {
		return false, fmt.Errorf("read the dev database marker: %w", err)
	}
	return strings.HasPrefix(comment, Marker), nil
}
