package main

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/internal/projection"
)

// strike dev runs each component as a login role of its own, granted only that component's
// role: not a superuser, no BYPASSRLS, and held to the grants (the gateway reads no projection
// outside a tenant transaction; the sink writes them).
func TestDevRunsEachComponentAsItsOwnLoginRole(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	if _, err := devLoginRoles(ctx, db.Pool, db.URL); err != nil {
		t.Fatal(err)
	}
	// A second start (a restart) resets the passwords and keeps working.
	urls, err := devLoginRoles(ctx, db.Pool, db.URL)
	if err != nil {
		t.Fatalf("second start: %v", err)
	}
	seen := map[string]bool{}
	for _, c := range pg.Components {
		u, ok := urls[c.Name]
		if !ok {
			t.Fatalf("no URL for %s", c.Name)
		}
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatalf("%s: connect as its login role: %v", c.Name, err)
		}
		var user string
		var super, bypass, member bool
		err = conn.QueryRow(ctx, `SELECT current_user, rolsuper, rolbypassrls, pg_has_role(current_user, $1, 'MEMBER')
			FROM pg_roles WHERE rolname = current_user`, c.Role).Scan(&user, &super, &bypass, &member)
		if err != nil {
			t.Fatal(err)
		}
		if super || bypass || !member || seen[user] {
			t.Errorf("%s runs as %s: superuser %v, bypassrls %v, member of %s %v, shared %v", c.Name, user, super, bypass, c.Role, member, seen[user])
		}
		seen[user] = true
		_, err = conn.Exec(ctx, `SELECT count(*) FROM eco_board`) // search_path kept: the test's schema
		switch c.Role {
		case pg.RoleSink:
			if err != nil {
				t.Errorf("the sink cannot read eco_board: %v", err)
			}
		case pg.RoleGateway, pg.RoleECOProcessor, pg.RoleDialer, pg.RoleRenderPoller:
			if err == nil {
				t.Errorf("%s reads eco_board outside a tenant transaction", c.Name)
			}
		}
		conn.Close(ctx)
	}
	// The gateway's login enters the API roles through strike_gateway's membership, as a
	// production login does (SET ROLE checks the login's own memberships).
	gw, err := pgxpool.New(ctx, urls["gateway"])
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	for _, kind := range []string{projection.KindNOC, projection.KindOSP} {
		err := projection.TenantTx(ctx, gw, kind, "tenant-x", func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `SELECT count(*) FROM eco_board`)
			return err
		})
		if err != nil {
			t.Errorf("the gateway's login in a %s tenant transaction: %v", kind, err)
		}
	}
	// The system-admin routes' role (migration 00016), entered the same way.
	err = pgx.BeginFunc(ctx, gw, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL ROLE strike_api_admin`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `SELECT count(*) FROM rosters`)
		return err
	})
	if err != nil {
		t.Errorf("the gateway's login as strike_api_admin: %v", err)
	}
}
