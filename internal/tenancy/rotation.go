package tenancy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The rotation pointer of a roster (roster_rotation) is moved by the dialer: when a ring-down
// of a rotating roster starts (RotationStart) and when someone on it is called or accepts
// (MoveRotation). It lives in PostgreSQL, not in the dialer's partition state, because ECOs are
// keyed (and partitioned) by ECO id: the ECOs of one roster are spread over every partition and
// every replica. docs/decisions.md says why.

// RotationStart gives the ECO its starting position on a rotating roster: the first of
// positions (ascending) after the roster's pointer, wrapping to the first; the pointer moves to
// it, so an ECO starting at the same moment on another replica starts after it. Decided once
// per ECO: asked again (a transaction redone, a replica taking the partition over), it answers
// the position it gave and moves nothing. 0 when positions is empty.
func (s Store) RotationStart(ctx context.Context, ecoID, ospID, region string, positions []int, now time.Time) (int, error) {
	if len(positions) == 0 {
		return 0, nil
	}
	var start int
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		// The pointer row is the lock every start of this roster queues on.
		if _, err := tx.Exec(ctx, `INSERT INTO roster_rotation (osp_tenant_id, region) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
			ospID, region); err != nil {
			return err
		}
		var last int
		if err := tx.QueryRow(ctx, `SELECT last_position FROM roster_rotation WHERE osp_tenant_id = $1 AND region = $2 FOR UPDATE`,
			ospID, region).Scan(&last); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT start_position FROM roster_rotation_starts WHERE eco_id = $1`, ecoID).Scan(&start)
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		start = After(positions, last)
		if _, err := tx.Exec(ctx, `INSERT INTO roster_rotation_starts (eco_id, osp_tenant_id, region, start_position) VALUES ($1, $2, $3, $4)`,
			ecoID, ospID, region, start); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE roster_rotation SET last_position = $3, moved_at = greatest(moved_at, $4)
			WHERE osp_tenant_id = $1 AND region = $2`, ospID, region, start, now)
		return err
	})
	if err != nil {
		return 0, wrap(fmt.Sprintf("rotation start of %s on %s/%s", ecoID, ospID, region), err)
	}
	return start, nil
}

// After is the first of positions (ascending) after last, wrapping to the first.
func After(positions []int, last int) int {
	for _, p := range positions {
		if p > last {
			return p
		}
	}
	return positions[0]
}

// MoveRotation moves a roster's pointer to position, as of at (someone there was called, or
// accepted). A move older than the pointer's last one is ignored, so moves applied late or
// twice (a transaction redone) never take it back. A position not on the roster (an ad-hoc
// number a dispatcher added to one ECO) moves nothing.
func (s Store) MoveRotation(ctx context.Context, ospID, region string, position int, at time.Time) error {
	_, err := s.Pool.Exec(ctx, `INSERT INTO roster_rotation (osp_tenant_id, region, last_position, moved_at)
		SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM roster_contacts
			WHERE osp_tenant_id = $1 AND region = $2 AND position = $3)
		ON CONFLICT (osp_tenant_id, region) DO UPDATE SET last_position = excluded.last_position, moved_at = excluded.moved_at
		WHERE roster_rotation.moved_at <= excluded.moved_at`, ospID, region, position, at)
	return wrap(fmt.Sprintf("move rotation of %s/%s", ospID, region), err)
}
