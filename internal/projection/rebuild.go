package projection

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// CreateScratch makes empty copies of Tables in schema scratch (dropped first if a failed
// rebuild left it), with their row-level security and grants (strike_secure_projections), for a
// rebuild to fill. It runs as the owner: it creates tables.
func CreateScratch(ctx context.Context, pool *pgxpool.Pool, live, scratch string) error {
	s, l := pgx.Identifier{scratch}.Sanitize(), pgx.Identifier{live}.Sanitize()
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DROP SCHEMA IF EXISTS `+s+` CASCADE`); err != nil {
			return fmt.Errorf("drop old scratch schema: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE SCHEMA `+s); err != nil {
			return fmt.Errorf("create scratch schema: %w", err)
		}
		for _, t := range Tables {
			if _, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s.%s (LIKE %s.%s INCLUDING ALL)`, s, t, l, t)); err != nil {
				return fmt.Errorf("create %s: %w", t, err)
			}
		}
		if _, err := tx.Exec(ctx, `SELECT `+l+`.strike_secure_projections($1)`, scratch); err != nil {
			return fmt.Errorf("secure scratch tables: %w", err)
		}
		return nil
	})
}

// SwapIn replaces the live tables with scratch's in one transaction, so readers see the old
// tables or the new ones, never a mix. Offsets of consumer groups the rebuild did not write are
// carried over.
func SwapIn(ctx context.Context, pool *pgxpool.Pool, live, scratch string) error {
	s, l := pgx.Identifier{scratch}.Sanitize(), pgx.Identifier{live}.Sanitize()
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var locks []string
		for _, t := range Tables {
			locks = append(locks, l+"."+t)
		}
		if _, err := tx.Exec(ctx, `LOCK TABLE `+strings.Join(locks, ", ")+` IN ACCESS EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("lock live tables: %w", err)
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s.sink_offsets SELECT * FROM %s.sink_offsets o
			WHERE NOT EXISTS (SELECT 1 FROM %s.sink_offsets n WHERE n.consumer_group = o.consumer_group)`, s, l, s)); err != nil {
			return fmt.Errorf("carry other groups' offsets: %w", err)
		}
		for _, t := range Tables {
			if _, err := tx.Exec(ctx, fmt.Sprintf(`DROP TABLE %s.%s`, l, t)); err != nil {
				return fmt.Errorf("drop old %s: %w", t, err)
			}
			if _, err := tx.Exec(ctx, fmt.Sprintf(`ALTER TABLE %s.%s SET SCHEMA %s`, s, t, l)); err != nil {
				return fmt.Errorf("swap in %s: %w", t, err)
			}
		}
		if _, err := tx.Exec(ctx, `DROP SCHEMA `+s); err != nil {
			return fmt.Errorf("drop scratch schema: %w", err)
		}
		return nil
	})
}
