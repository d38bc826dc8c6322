package sink_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/sink"
	"github.com/osprey-strike/strike/consumers/sink/sinktest"
	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/internal/projection"
)

// ownTheProjections makes role (created if missing, cluster-wide) the owner of the test's schema
// and projection tables, as the login that runs `strike migrate` is in production; member says
// whether it is a member of strike_migrate.
func ownTheProjections(t *testing.T, b *bundle, role string, member bool) {
	t.Helper()
	ctx := context.Background()
	stmts := []string{
		`DO $$ BEGIN
			IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '` + role + `') THEN
				CREATE ROLE ` + role + ` NOLOGIN NOSUPERUSER NOBYPASSRLS;
			END IF;
			EXECUTE format('GRANT CREATE ON DATABASE %I TO ` + role + `', current_database());
		EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; -- another test made it
		END $$`,
		`ALTER SCHEMA ` + pgx.Identifier{b.db.Name}.Sanitize() + ` OWNER TO ` + role,
	}
	if member {
		stmts = append(stmts, `DO $$ BEGIN GRANT `+pg.RoleMigrate+` TO `+role+`;
			EXCEPTION WHEN unique_violation THEN NULL; END $$`)
	}
	for _, table := range projection.Tables {
		stmts = append(stmts, `ALTER TABLE `+table+` OWNER TO `+role)
	}
	for _, s := range stmts {
		if _, err := b.db.Pool.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// The projections force row-level security, so their owner is held to the policies too: `strike
// sink rebuild`, run by the owner (a member of strike_migrate, not a superuser), fills and swaps
// the tables through the owner_all policy, and an owner outside strike_migrate sees no row.
func TestRebuildAsTheNonSuperuserOwnerUnderForcedRowLevelSecurity(t *testing.T) {
	t.Parallel()
	b := setup(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	var recs []*kgo.Record
	for i := range 5 {
		recs = append(recs, sinktest.NewECO("noc-a", "osp-a", i+1, now.Add(time.Duration(i)*time.Minute)).Lifecycle()...)
	}
	b.produce(t, recs...)
	live := b.start(t, 0, nil)
	b.awaitCaughtUp(t)
	live.Stop(t)
	want := sinktest.Snapshot(t, b.db.Pool)

	ownTheProjections(t, b, "strike_test_owner", true)
	owner := b.db.PoolAs(t, "strike_test_owner")
	stats, err := sink.Rebuild(context.Background(), sink.Deps{Pool: owner, Validator: b.v, Log: zerolog.Nop()},
		sink.RebuildConfig{Brokers: b.kafka.Brokers, Security: b.security})
	if err != nil {
		t.Fatalf("rebuild as the owner: %v", err)
	}
	if stats.Applied != len(recs) {
		t.Errorf("rebuild applied %d events, want %d", stats.Applied, len(recs))
	}
	if got := sinktest.Snapshot(t, b.db.Pool); got != want {
		t.Errorf("the owner's rebuild differs from the live projections")
	}
	var forced bool
	var ownerName string
	var rows int
	if err := owner.QueryRow(context.Background(), `SELECT c.relforcerowsecurity, pg_get_userbyid(c.relowner),
		(SELECT count(*) FROM eco_board) FROM pg_class c WHERE c.oid = 'eco_board'::regclass`).Scan(&forced, &ownerName, &rows); err != nil {
		t.Fatal(err)
	}
	if !forced || ownerName != "strike_test_owner" || rows != 5 {
		t.Errorf("rebuilt eco_board: forced %v, owner %s, %d rows visible to it; want forced, strike_test_owner, 5", forced, ownerName, rows)
	}

	// An owner that is not a member of strike_migrate reads nothing: FORCE holds it to policies.
	ownTheProjections(t, b, "strike_test_bare_owner", false)
	if err := b.db.PoolAs(t, "strike_test_bare_owner").QueryRow(context.Background(), `SELECT count(*) FROM eco_board`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Errorf("an owner outside strike_migrate sees %d board rows, want 0", rows)
	}
}
