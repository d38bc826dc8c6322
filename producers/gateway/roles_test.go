package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/producers/gateway"
)

// TestEveryRouteWorksAsTheGatewaysDatabaseRole runs one successful request per route with the
// API connected as strike_gateway (newWorld's pool), the least-privileged role production uses:
// a route whose SQL needs a grant or policy the role lacks answers 500 here. A route added to
// gateway.Routes without a row below fails the test.
func TestEveryRouteWorksAsTheGatewaysDatabaseRole(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var me string
	if err := w.db.Pool.QueryRow(context.Background(), `SELECT id::text FROM users WHERE email = $1`, single).Scan(&me); err != nil {
		t.Fatal(err)
	}
	_, spare, err := gateway.Accounts{Pool: w.db.Pool}.IssueToken(context.Background(), single, "spare", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, adminSpare, err := gateway.Accounts{Pool: w.db.Pool}.IssueToken(context.Background(), single, "admin spare", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	nw, acme := devdata.NOCNorthwind, devdata.OSPAcme
	active := w.ecos["nw-acme-2"].ECOID
	rows := []struct {
		route, user, path string
		body              any
		want              int
	}{
		{"GET /v1/me", single, "/v1/me", nil, 200},
		{"GET /v1/nocs/{noc}/ecos", single, "/v1/nocs/" + nw + "/ecos?q=exchange&status=ringing", nil, 200},
		{"POST /v1/nocs/{noc}/ecos", single, "/v1/nocs/" + nw + "/ecos", validCreate(acme), 202},
		{"GET /v1/nocs/{noc}/ecos/{eco}", single, "/v1/nocs/" + nw + "/ecos/" + active, nil, 200},
		{"POST /v1/nocs/{noc}/ecos/{eco}/cancel", single, "/v1/nocs/" + nw + "/ecos/" + active + "/cancel", map[string]string{"reason": "roles"}, 202},
		{"POST /v1/nocs/{noc}/ecos/{eco}/controls", single, "/v1/nocs/" + nw + "/ecos/" + active + "/controls",
			map[string]any{"action": "set_people_needed", "people_needed": 2}, 202},
		{"POST /v1/osps/{osp}/ecos/{eco}/controls", sysadmin, "/v1/osps/" + acme + "/ecos/" + active + "/controls",
			map[string]any{"action": "add_number", "phone": "+15550109999", "name": "Sam"}, 202},
		{"GET /v1/osps/{osp}/ecos", agent, "/v1/osps/" + acme + "/ecos", nil, 200},
		{"GET /v1/osps/{osp}/ecos/{eco}", agent, "/v1/osps/" + acme + "/ecos/" + active, nil, 200},
		{"PUT /v1/osps/{osp}/rosters/{region}", sysadmin, "/v1/osps/" + acme + "/rosters/coast", gateway.RosterBody{Name: "Coast",
			Rotation: "after_last_called", Contacts: []gateway.ContactBody{{Position: 1, Name: "Ada", Phone: "+15550101001",
				Unavailable: []gateway.AwayBody{{From: "2030-01-01T00:00:00Z", Until: "2030-01-02T00:00:00Z", Reason: "leave",
					Substitute: &gateway.PersonBody{Name: "Bo", Phone: "+15550101009"}}}}}}, 200},
		{"GET /v1/osps/{osp}/rosters", agent, "/v1/osps/" + acme + "/rosters", nil, 200},
		{"GET /v1/osps/{osp}/rosters/{region}", agent, "/v1/osps/" + acme + "/rosters/coast", nil, 200},
		{"DELETE /v1/osps/{osp}/rosters/{region}", sysadmin, "/v1/osps/" + acme + "/rosters/coast", nil, 204},
		{"GET /v1/admin/tenants", sysadmin, "/v1/admin/tenants", nil, 200},
		{"PUT /v1/admin/nocs/{noc}", sysadmin, "/v1/admin/nocs/noc-zeta", gateway.NOCBody{Name: "Zeta", Code: "ZETA"}, 204},
		{"PUT /v1/admin/osps/{osp}", sysadmin, "/v1/admin/osps/osp-zeta", gateway.OSPBody{Name: "Zeta", JobPrefix: "ZETA"}, 204},
		{"PUT /v1/admin/links/{noc}/{osp}", sysadmin, "/v1/admin/links/" + nw + "/osp-zeta", gateway.LinkBody{Status: "active"}, 204},
		{"PUT /v1/admin/osps/{osp}/rosters/{region}", sysadmin, "/v1/admin/osps/osp-zeta/rosters/metro-north",
			map[string]any{"name": "Metro", "contacts": []map[string]any{{"position": 1, "name": "Zed", "phone": "+15550001111"}}}, 204},
		{"PUT /v1/admin/nocs/{noc}/policy", sysadmin, "/v1/admin/nocs/" + nw + "/policy",
			gateway.PolicyBody{LoopCount: 2, RetryAfterSeconds: 600, MaxRetries: 1, FailoverOSPIDs: []string{}}, 204},
		{"GET /v1/me/tokens", single, "/v1/me/tokens", nil, 200},
		{"POST /v1/me/tokens", single, "/v1/me/tokens", map[string]any{"name": "laptop"}, 201},
		{"DELETE /v1/me/tokens/{token}", single, "/v1/me/tokens/" + spare.ID, nil, 204},
		{"GET /v1/admin/users/{user}/tokens", sysadmin, "/v1/admin/users/" + me + "/tokens", nil, 200},
		{"POST /v1/admin/users/{user}/tokens", sysadmin, "/v1/admin/users/" + me + "/tokens", map[string]any{"name": "ci"}, 201},
		{"DELETE /v1/admin/users/{user}/tokens/{token}", sysadmin, "/v1/admin/users/" + me + "/tokens/" + adminSpare.ID, nil, 204},
	}
	covered := map[string]bool{}
	for _, row := range rows {
		covered[row.route] = true
		method, _, _ := strings.Cut(row.route, " ")
		r := w.do(t, row.user, method, row.path, row.body)
		if r.status != row.want {
			t.Errorf("%s as %s: %d %s, want %d", row.route, row.user, r.status, r.body, row.want)
		}
	}
	for _, route := range gateway.Routes {
		if !covered[route] {
			t.Errorf("route %s has no row: every route runs as the gateway's role here", route)
		}
	}
}

// TestTheGatewaysRoleSeesNoTenantRowsOutsideATenantTransaction: strike_gateway is neither the
// projections' owner nor a holder of the API roles' rights (NOINHERIT), so a query that skips
// TenantTx gets nothing; inside TenantTx it sees the active tenant's rows only.
func TestTheGatewaysRoleSeesNoTenantRowsOutsideATenantTransaction(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	var role string
	var super, bypass bool
	if err := w.gw.QueryRow(ctx, `SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&role, &super, &bypass); err != nil {
		t.Fatal(err)
	}
	if role != "strike_gateway" || super || bypass {
		t.Fatalf("the API runs as %s (superuser %v, bypassrls %v), want strike_gateway without either", role, super, bypass)
	}
	for _, table := range []string{"eco_board", "eco_timeline", "call_attempts"} {
		var owner string
		var forced bool
		if err := w.db.Pool.QueryRow(ctx, `SELECT pg_get_userbyid(relowner), relforcerowsecurity FROM pg_class
			WHERE oid = $1::regclass`, table).Scan(&owner, &forced); err != nil {
			t.Fatal(err)
		}
		if owner == role || !forced {
			t.Errorf("%s: owner %s, force row level security %v; want another owner and forced", table, owner, forced)
		}
		var n int
		err := w.gw.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" { // insufficient_privilege
			t.Errorf("%s outside a tenant transaction as the gateway: %d rows, err %v; want permission denied", table, n, err)
		}
		// Inside one, the tenant's rows only (TestRowLevelSecurityLimitsAQueryWithoutATenantFilter
		// checks the values).
		err = gateway.TenantTx(ctx, w.gw, "noc", devdata.NOCNorthwind, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE noc_tenant_id <> $1", devdata.NOCNorthwind).Scan(&n)
		})
		if err != nil || n != 0 {
			t.Errorf("%s in northwind's tenant transaction: %d other tenants' rows, err %v", table, n, err)
		}
	}
	// The OSPs' rosters and the NOCs' policies are tenant rows too (FORCE ROW LEVEL SECURITY):
	// the gateway reaches them only through an OSP's or NOC's tenant transaction, or as the
	// system admins' role for the admin routes.
	acme, bolt := devdata.OSPAcme, devdata.OSPBolt
	for _, osp := range []string{acme, bolt} {
		if _, err := w.db.Pool.Exec(ctx, `INSERT INTO roster_unavailability (osp_tenant_id, region, position, starts_at, ends_at, reason)
			VALUES ($1, $2, 1, '2030-01-01', '2030-01-02', 'leave')`, osp, devdata.RegionMetro); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.Pool.Exec(ctx, `INSERT INTO roster_rotation (osp_tenant_id, region) VALUES ($1, $2)`, osp, devdata.RegionMetro); err != nil {
			t.Fatal(err)
		}
	}
	for _, noc := range []string{devdata.NOCNorthwind, devdata.NOCHarbor} {
		if _, err := w.db.Pool.Exec(ctx, `INSERT INTO intake_requests (request_id, kind, noc_tenant_id, osp_tenant_id, eco_id, body_sha256, user_id)
			SELECT 'roles-check', 'create', $1, $2, gen_random_uuid(), '\x00', id FROM users LIMIT 1`, noc, acme); err != nil {
			t.Fatal(err)
		}
	}
	tenantTables := []struct{ table, kind, column, tenant, other string }{
		{"intake_requests", "noc", "noc_tenant_id", devdata.NOCNorthwind, devdata.NOCHarbor},
		{"rosters", "osp", "osp_tenant_id", acme, bolt},
		{"roster_contacts", "osp", "osp_tenant_id", acme, bolt},
		{"roster_unavailability", "osp", "osp_tenant_id", acme, bolt},
		{"roster_rotation", "osp", "osp_tenant_id", acme, bolt},
		{"noc_callout_policies", "noc", "noc_tenant_id", devdata.NOCNorthwind, devdata.NOCHarbor},
	}
	for _, tt := range tenantTables {
		var owner string
		var forced bool
		if err := w.db.Pool.QueryRow(ctx, `SELECT pg_get_userbyid(relowner), relforcerowsecurity FROM pg_class
			WHERE oid = $1::regclass`, tt.table).Scan(&owner, &forced); err != nil {
			t.Fatal(err)
		}
		if owner == role || !forced {
			t.Errorf("%s: owner %s, force row level security %v; want another owner and forced", tt.table, owner, forced)
		}
		count := `SELECT count(*) FILTER (WHERE ` + tt.column + ` = $1), count(*) FILTER (WHERE ` + tt.column + ` <> $1) FROM ` + tt.table
		var own, others int
		if err := w.db.Pool.QueryRow(ctx, count, tt.tenant).Scan(&own, &others); err != nil || own == 0 || others == 0 {
			t.Fatalf("%s as the owner: %d rows of %s, %d of others, err %v; the check needs both", tt.table, own, tt.tenant, others, err)
		}
		// Outside a tenant transaction: permission denied, or no row at all.
		err := w.gw.QueryRow(ctx, count, tt.tenant).Scan(&own, &others)
		var pgErr *pgconn.PgError
		if !(errors.As(err, &pgErr) && pgErr.Code == "42501") && (err != nil || own+others != 0) {
			t.Errorf("%s outside a tenant transaction as the gateway: %d rows of %s, %d of others, err %v; want none",
				tt.table, own, tt.tenant, others, err)
		}
		err = gateway.TenantTx(ctx, w.gw, tt.kind, tt.tenant, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, count, tt.tenant).Scan(&own, &others)
		})
		if err != nil || own == 0 || others != 0 {
			t.Errorf("%s in %s's tenant transaction: %d own rows, %d of others, err %v; want its own only", tt.table, tt.tenant, own, others, err)
		}
	}
	// The role cannot step out of its own rights, nor write the projections in a tenant transaction.
	if _, err := w.gw.Exec(ctx, `SET ROLE postgres`); err == nil {
		t.Error("strike_gateway could SET ROLE postgres")
	}
	err := gateway.TenantTx(ctx, w.gw, "noc", devdata.NOCNorthwind, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `SET LOCAL ROLE strike_sink`)
		return err
	})
	if err == nil {
		t.Error("strike_gateway could SET ROLE strike_sink")
	}
	if r := w.do(t, single, "GET", "/v1/nocs/"+devdata.NOCNorthwind+"/ecos", nil); r.status != http.StatusOK {
		t.Fatalf("list after the checks: %d %s", r.status, r.body)
	}
}
