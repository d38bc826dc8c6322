package renderpoller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Errors of the store and the admin functions; match them with errors.Is.
var (
	ErrNotFound = errors.New("render instance not found")
	ErrInvalid  = errors.New("invalid")
	ErrExists   = errors.New("already exists")
)

// instanceRow is one instance as the poller and the dispatch load it (secret still sealed).
type instanceRow struct {
	ID           string
	OSPTenantID  string
	BaseURL      string
	ClientID     string
	Sealed       string
	PollInterval time.Duration
	Region       string
	UpdatedAt    time.Time
}

// lease is an instance this replica owns after a lease tick.
type lease struct {
	instanceRow
	Cursor     string
	LastPollAt time.Time // zero if never saved
}

// store is the poller's and dispatch's PostgreSQL access, one method per query.
type store struct {
	pool *pgxpool.Pool
}

// leaseTick is one replica's lease round, in one transaction so that its heartbeat and its
// renewed leases expire at the same instant (both now() + ttl): when another replica sees
// these leases lapse, it also sees this replica gone and takes them all.
//
// It renews the leases this replica holds on enabled instances, releases any beyond its fair
// share (ceil(enabled instances / live replicas)), and takes lapsed leases up to that share.
func (s store) leaseTick(ctx context.Context, replica string, ttl time.Duration) ([]lease, error) {
	var out []lease
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ttlArg := ttl.Seconds()
		if _, err := tx.Exec(ctx, `INSERT INTO render_poller_replicas (replica_id, seen_until)
			VALUES ($1, now() + make_interval(secs => $2))
			ON CONFLICT (replica_id) DO UPDATE SET seen_until = excluded.seen_until`, replica, ttlArg); err != nil {
			return fmt.Errorf("heartbeat: %w", err)
		}
		// Rows of replicas gone for an hour are only history; keep the table small.
		if _, err := tx.Exec(ctx, `DELETE FROM render_poller_replicas WHERE seen_until < now() - interval '1 hour'`); err != nil {
			return fmt.Errorf("forget old replicas: %w", err)
		}
		var live, total int
		if err := tx.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM render_poller_replicas WHERE seen_until > now()),
			(SELECT count(*) FROM render_instances WHERE enabled)`).Scan(&live, &total); err != nil {
			return fmt.Errorf("count replicas: %w", err)
		}
		share := total
		if live > 1 {
			share = (total + live - 1) / live
		}
		// Renew what we hold (even if it lapsed: nobody took it, or owner would differ) and
		// drop instances that were disabled or removed.
		rows, err := tx.Query(ctx, `UPDATE render_poll_state s SET lease_until = now() + make_interval(secs => $2)
			FROM render_instances i
			WHERE s.owner = $1 AND i.id = s.instance_id AND i.enabled
			RETURNING s.instance_id`, replica, ttlArg)
		if err != nil {
			return fmt.Errorf("renew leases: %w", err)
		}
		held, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("renew leases: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE render_poll_state s SET owner = NULL, lease_until = '-infinity'
			WHERE s.owner = $1 AND NOT EXISTS (SELECT 1 FROM render_instances i WHERE i.id = s.instance_id AND i.enabled)`, replica); err != nil {
			return fmt.Errorf("release disabled: %w", err)
		}
		if extra := len(held) - share; extra > 0 {
			// Give back the highest ids (deterministic), so a joining replica gets them at its
			// next tick.
			if _, err := tx.Exec(ctx, `UPDATE render_poll_state SET owner = NULL, lease_until = '-infinity'
				WHERE instance_id IN (SELECT instance_id FROM render_poll_state WHERE owner = $1
				                      ORDER BY instance_id DESC LIMIT $2)`, replica, extra); err != nil {
				return fmt.Errorf("release extra leases: %w", err)
			}
		} else if want := share - len(held); want > 0 {
			if _, err := tx.Exec(ctx, `WITH cand AS (
					SELECT s.instance_id FROM render_poll_state s
					JOIN render_instances i ON i.id = s.instance_id
					WHERE i.enabled AND s.lease_until < now()
					ORDER BY s.lease_until, s.instance_id
					LIMIT $3
					FOR UPDATE OF s SKIP LOCKED)
				UPDATE render_poll_state s SET owner = $1, lease_until = now() + make_interval(secs => $2)
				FROM cand WHERE s.instance_id = cand.instance_id`, replica, ttlArg, want); err != nil {
				return fmt.Errorf("acquire leases: %w", err)
			}
		}
		rows, err = tx.Query(ctx, `SELECT i.id, i.osp_tenant_id, i.base_url, i.client_id, i.client_secret_sealed,
				i.poll_interval_ms, i.region, i.updated_at, s.cursor, s.last_poll_at
			FROM render_poll_state s JOIN render_instances i ON i.id = s.instance_id
			WHERE s.owner = $1 AND i.enabled ORDER BY i.id`, replica)
		if err != nil {
			return fmt.Errorf("read leases: %w", err)
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (lease, error) {
			var (
				l    lease
				ms   int64
				last *time.Time
			)
			err := r.Scan(&l.ID, &l.OSPTenantID, &l.BaseURL, &l.ClientID, &l.Sealed, &ms, &l.Region, &l.UpdatedAt, &l.Cursor, &last)
			l.PollInterval = time.Duration(ms) * time.Millisecond
			if last != nil {
				l.LastPollAt = *last
			}
			return l, err
		})
		if err != nil {
			return fmt.Errorf("read leases: %w", err)
		}
		return nil
	})
	return out, err
}

// releaseAll gives up every lease of replica and its heartbeat, on a clean shutdown, so the
// other replicas take its instances at their next tick instead of after the lease TTL.
func (s store) releaseAll(ctx context.Context, replica string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE render_poll_state SET owner = NULL, lease_until = '-infinity' WHERE owner = $1`, replica); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM render_poller_replicas WHERE replica_id = $1`, replica)
		return err
	})
}

// pollState is the cursor and the last saved poll of one instance.
func (s store) pollState(ctx context.Context, instanceID string) (cursor string, last time.Time, err error) {
	var lp *time.Time
	err = s.pool.QueryRow(ctx, `SELECT cursor, last_poll_at FROM render_poll_state WHERE instance_id = $1`, instanceID).Scan(&cursor, &lp)
	if lp != nil {
		last = *lp
	}
	return cursor, last, err
}

// saveCursor stores the cursor of a poll whose events are durably produced, if this replica
// still holds a live lease on the instance and the stored cursor is still from, the one the
// poll read after: a cursor only moves forward, never back to where a stale poll started. ok
// false means the lease is gone or the cursor moved: another replica owns the instance (or
// did meanwhile) and the feed is re-read from the cursor stored (duplicates, never a loss).
func (s store) saveCursor(ctx context.Context, replica, instanceID, from, cursor string) (ok bool, err error) {
	tag, err := s.pool.Exec(ctx, `UPDATE render_poll_state SET cursor = $3, last_poll_at = now(), cursor_saved_at = now(),
			last_result = 'ok', last_error = '', failures = 0
		WHERE instance_id = $2 AND owner = $1 AND lease_until > now() AND cursor = $4`, replica, instanceID, cursor, from)
	if err != nil {
		return false, fmt.Errorf("save cursor: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// noteFailure records a failed poll for operators (strike admin render list), if still owner.
func (s store) noteFailure(ctx context.Context, replica, instanceID, result, errText string) error {
	_, err := s.pool.Exec(ctx, `UPDATE render_poll_state SET last_result = $3, last_error = $4, failures = failures + 1
		WHERE instance_id = $2 AND owner = $1`, replica, instanceID, result, truncate(errText, 500))
	if err != nil {
		return fmt.Errorf("note poll failure: %w", err)
	}
	return nil
}

// ecoRef is the ECO a Render job belongs to.
type ecoRef struct {
	ECOID       string
	NOCTenantID string
}

// ecosByJobNumber finds the ECOs of an OSP whose job numbers are among refs.
func (s store) ecosByJobNumber(ctx context.Context, ospTenantID string, refs []string) (map[string]ecoRef, error) {
	rows, err := s.pool.Query(ctx, `SELECT job_number, eco_id::text, noc_tenant_id FROM job_allocations
		WHERE osp_tenant_id = $1 AND job_number = ANY($2)`, ospTenantID, refs)
	if err != nil {
		return nil, fmt.Errorf("look up job numbers: %w", err)
	}
	defer rows.Close()
	out := map[string]ecoRef{}
	for rows.Next() {
		var jn string
		var e ecoRef
		if err := rows.Scan(&jn, &e.ECOID, &e.NOCTenantID); err != nil {
			return nil, fmt.Errorf("look up job numbers: %w", err)
		}
		out[jn] = e
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up job numbers: %w", err)
	}
	return out, nil
}

// dispatchRow is one queued Render job creation.
type dispatchRow struct {
	ECOID       string `json:"eco_id"`
	NOCTenantID string `json:"noc_tenant_id"`
	OSPTenantID string `json:"osp_tenant_id"`
	JobNumber   string `json:"job_number"`
	Region      string `json:"region"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Address     string `json:"address"`
	Attempts    int    `json:"-"`
}

// enqueueDispatches inserts rows; an ECO already queued (a redelivered eco.created) is left as
// it is, so its attempts and outcome survive.
func (s store) enqueueDispatches(ctx context.Context, rows []dispatchRow) error {
	if len(rows) == 0 {
		return nil
	}
	batch, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("encode dispatch batch: %w", err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO render_dispatches
			(eco_id, noc_tenant_id, osp_tenant_id, job_number, region, title, description, address)
		SELECT eco_id, noc_tenant_id, osp_tenant_id, job_number, region, title, description, address
		FROM jsonb_to_recordset($1::jsonb) AS r(eco_id uuid, noc_tenant_id text, osp_tenant_id text,
			job_number text, region text, title text, description text, address text)
		ON CONFLICT (eco_id) DO NOTHING`, batch)
	if err != nil {
		return fmt.Errorf("enqueue dispatches: %w", err)
	}
	return nil
}

// claimDispatches claims up to limit due pending rows for replica for ttl.
func (s store) claimDispatches(ctx context.Context, replica string, limit int, ttl time.Duration) ([]dispatchRow, error) {
	rows, err := s.pool.Query(ctx, `WITH due AS (
			SELECT eco_id FROM render_dispatches
			WHERE state = 'pending' AND next_attempt_at <= now() AND claimed_until < now()
			ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
		UPDATE render_dispatches d SET claimed_by = $1, claimed_until = now() + make_interval(secs => $3)
		FROM due WHERE d.eco_id = due.eco_id
		RETURNING d.eco_id::text, d.noc_tenant_id, d.osp_tenant_id, d.job_number, d.region, d.title,
			d.description, d.address, d.attempts`, replica, limit, ttl.Seconds())
	if err != nil {
		return nil, fmt.Errorf("claim dispatches: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (dispatchRow, error) {
		var d dispatchRow
		err := r.Scan(&d.ECOID, &d.NOCTenantID, &d.OSPTenantID, &d.JobNumber, &d.Region, &d.Title, &d.Description, &d.Address, &d.Attempts)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim dispatches: %w", err)
	}
	return out, nil
}

// releaseClaims frees the pending dispatches replica still holds (at shutdown).
func (s store) releaseClaims(ctx context.Context, replica string) error {
	_, err := s.pool.Exec(ctx, `UPDATE render_dispatches SET claimed_by = NULL, claimed_until = '-infinity'
		WHERE claimed_by = $1 AND state = 'pending'`, replica)
	if err != nil {
		return fmt.Errorf("release dispatch claims: %w", err)
	}
	return nil
}

// dispatchOutcome is what one attempt decided.
type dispatchOutcome struct {
	State       string // pending (retry), done, no_instance
	Result      string
	InstanceID  string
	RenderJobID string
	Error       string
	RetryIn     time.Duration
}

// finishDispatch records an attempt's outcome if replica still holds the claim.
func (s store) finishDispatch(ctx context.Context, replica, ecoID string, o dispatchOutcome) error {
	_, err := s.pool.Exec(ctx, `UPDATE render_dispatches SET state = $3, result = $4,
			instance_id = nullif($5, ''), render_job_id = nullif($6, ''), last_error = $7,
			attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $8),
			claimed_by = NULL, claimed_until = '-infinity', updated_at = now()
		WHERE eco_id = $2 AND claimed_by = $1`,
		replica, ecoID, o.State, o.Result, o.InstanceID, o.RenderJobID, truncate(o.Error, 500), o.RetryIn.Seconds())
	if err != nil {
		return fmt.Errorf("record dispatch outcome: %w", err)
	}
	return nil
}

// instanceForOSP returns the enabled instance that serves an OSP's ECOs in region: the
// region's own instance if there is one, else the OSP's default (” region). ok is false if
// the OSP has none.
func (s store) instanceForOSP(ctx context.Context, ospTenantID, region string) (instanceRow, bool, error) {
	var (
		r  instanceRow
		ms int64
	)
	err := s.pool.QueryRow(ctx, `SELECT id, osp_tenant_id, base_url, client_id, client_secret_sealed, poll_interval_ms, region, updated_at
		FROM render_instances WHERE osp_tenant_id = $1 AND enabled AND (region = $2 OR region = '')
		ORDER BY region = $2 DESC LIMIT 1`, ospTenantID, region).
		Scan(&r.ID, &r.OSPTenantID, &r.BaseURL, &r.ClientID, &r.Sealed, &ms, &r.Region, &r.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return instanceRow{}, false, nil
	}
	if err != nil {
		return instanceRow{}, false, fmt.Errorf("find render instance: %w", err)
	}
	r.PollInterval = time.Duration(ms) * time.Millisecond
	return r, true, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// pgError maps the constraint violations an admin can cause to this package's sentinels.
func pgError(what string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return fmt.Errorf("%s: %w (%s)", what, ErrExists, pgErr.ConstraintName)
		case "23503":
			return fmt.Errorf("%s: %w: unknown OSP tenant", what, ErrInvalid)
		case "23514":
			return fmt.Errorf("%s: %w: %s", what, ErrInvalid, pgErr.ConstraintName)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}
