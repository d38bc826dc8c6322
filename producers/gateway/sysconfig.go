package gateway

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/osprey-strike/strike/internal/engagement"
	"github.com/osprey-strike/strike/internal/jobnumber"
)

// readSystemConfig reads every NOC (with its policy), OSP (with a preview of its next job
// number) and link.
func readSystemConfig(ctx context.Context, pool *pgxpool.Pool, year int) (SystemConfig, error) {
	var c SystemConfig
	// Every NOC's policy: as the system admins' role (row-level security, migration 00016).
	err := adminTx(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT n.id, n.name, n.code, coalesce(n.twilio_subaccount_sid, ''), coalesce(n.caller_id, ''),
				p.loop_count, p.retry_after_seconds, p.max_retries, p.failover_osp_ids, p.ring_duration_seconds
			FROM noc_tenants n LEFT JOIN noc_callout_policies p ON p.noc_tenant_id = n.id ORDER BY n.id`)
		if err != nil {
			return err
		}
		c.NOCs, err = pgx.CollectRows(rows, scanSystemNOC)
		return err
	})
	if err != nil {
		return c, fmt.Errorf("read NOCs: %w", err)
	}
	rows, err := pool.Query(ctx, `SELECT o.id, o.name, o.job_prefix, o.job_template, coalesce(j.last_number, 0),
			coalesce((SELECT n.code FROM noc_osp_links l JOIN noc_tenants n ON n.id = l.noc_tenant_id
				WHERE l.osp_tenant_id = o.id ORDER BY l.noc_tenant_id LIMIT 1), 'NOC')
		FROM osp_tenants o LEFT JOIN job_counters j ON j.osp_tenant_id = o.id ORDER BY o.id`)
	if err != nil {
		return c, fmt.Errorf("read OSPs: %w", err)
	}
	c.OSPs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (SystemOSP, error) {
		var o SystemOSP
		var nocCode string
		if err := r.Scan(&o.ID, &o.Name, &o.JobPrefix, &o.JobTemplate, &o.LastNumber, &nocCode); err != nil {
			return o, err
		}
		if t, err := jobnumber.Parse(o.JobTemplate); err == nil {
			o.NextJobNumber = t.Render(jobnumber.Fields{Prefix: o.JobPrefix, NOC: nocCode, Num: o.LastNumber + 1, Year: year})
		}
		return o, nil
	})
	if err != nil {
		return c, fmt.Errorf("read OSPs: %w", err)
	}
	rows, err = pool.Query(ctx, `SELECT noc_tenant_id, osp_tenant_id, status, is_default FROM noc_osp_links ORDER BY 1, 2`)
	if err != nil {
		return c, fmt.Errorf("read links: %w", err)
	}
	c.Links, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (SystemLink, error) {
		var l SystemLink
		err := r.Scan(&l.NOC, &l.OSP, &l.Status, &l.IsDefault)
		return l, err
	})
	if err != nil {
		return c, fmt.Errorf("read links: %w", err)
	}
	return c, nil
}

// scanSystemNOC reads one row of readSystemConfig's NOC query.
func scanSystemNOC(r pgx.CollectableRow) (SystemNOC, error) {
	var n SystemNOC
	var loop, retry, maxRetries *int
	var failover []string
	var ring *int
	if err := r.Scan(&n.ID, &n.Name, &n.Code, &n.TwilioSubaccountSID, &n.CallerID, &loop, &retry, &maxRetries, &failover, &ring); err != nil {
		return n, err
	}
	if loop != nil {
		n.Policy = &engagement.Policy{LoopCount: *loop, RetryAfterSeconds: *retry, MaxRetries: *maxRetries,
			FailoverOSPIDs: failover, RingDurationSeconds: ring}
	}
	return n, nil
}
