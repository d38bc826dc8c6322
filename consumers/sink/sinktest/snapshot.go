package sinktest

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Snapshot returns every projection table and the stored offsets as JSON, rows in primary-key
// order, so two states of the projections compare with ==.
func Snapshot(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []struct{ table, order string }{
		{"eco_board", "eco_id"},
		{"eco_timeline", "event_id"},
		{"call_attempts", "eco_id, call_id"},
		{"sink_offsets", "consumer_group, topic, partition"},
	} {
		cols := "to_jsonb(t)"
		if q.table == "sink_offsets" {
			cols = "to_jsonb(t) - 'updated_at'"
		}
		var out string
		err := pool.QueryRow(context.Background(),
			`SELECT coalesce(jsonb_agg(`+cols+` ORDER BY `+q.order+`), '[]')::text FROM `+q.table+` t`).Scan(&out)
		if err != nil {
			t.Fatalf("snapshot %s: %v", q.table, err)
		}
		b.WriteString(q.table + ": " + out + "\n")
	}
	return b.String()
}
