package pg_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/internal/pgtest"
)

// notForced are the tables with tenant ids that do not force row-level security, and why: the
// gateway reads them as strike_gateway before it knows which tenant a request acts for.
var notForced = map[string]string{
	"memberships":   "the gateway resolves a user's tenants from it before any tenant transaction",
	"noc_osp_links": "the gateway checks a NOC's link to an OSP at intake and for system admins",
	"job_counters":  "the gateway adds a new OSP's counter and previews every OSP's next job number for system admins",
}

// TestEveryTenantTableForcesRowLevelSecurity (issue 10): a table holding a tenant's rows forces
// row-level security, so no component (and not the owner) reads it except through a policy
// naming its role, and the owner's role has one for the operator tools.
func TestEveryTenantTableForcesRowLevelSecurity(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	rows, err := db.Pool.Query(ctx, `SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
			EXISTS (SELECT 1 FROM pg_policies p WHERE p.schemaname = current_schema() AND p.tablename = c.relname
				AND $1 = ANY (p.roles) AND p.cmd = 'ALL')
		FROM pg_class c
		WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
			AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname IN ('noc_tenant_id', 'osp_tenant_id'))
		ORDER BY 1`, pg.RoleMigrate)
	if err != nil {
		t.Fatal(err)
	}
	type table struct {
		name                 string
		enabled, forced, own bool
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (table, error) {
		var tb table
		err := r.Scan(&tb.name, &tb.enabled, &tb.forced, &tb.own)
		return tb, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) < 10 {
		t.Fatalf("found %d tables with tenant ids, want the schema's: %v", len(tables), tables)
	}
	for _, tb := range tables {
		if why, ok := notForced[tb.name]; ok {
			if tb.forced {
				t.Errorf("%s forces row-level security now: remove it from notForced (%s)", tb.name, why)
			}
			continue
		}
		if !tb.enabled || !tb.forced || !tb.own {
			t.Errorf("%s: row level security %v, forced %v, a policy for %s %v; want all three", tb.name, tb.enabled, tb.forced, pg.RoleMigrate, tb.own)
		}
	}
}
