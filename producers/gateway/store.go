package gateway

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/osprey-strike/strike/internal/projection"
	"github.com/osprey-strike/strike/internal/tenancy"
)

// The API reads the sink's projections through internal/projection, which owns their SQL and
// their row-level security; these names keep the API's vocabulary.

// The API's views of the board, the timeline and call attempts.
type (
	ECO           = projection.ECO
	TimelineEvent = projection.TimelineEvent
	CallAttempt   = projection.CallAttempt
	ListFilter    = projection.ListFilter
)

// TenantTx runs fn in a read-only transaction as the kind's API role with the tenant set
// (projection.TenantTx).
func TenantTx(ctx context.Context, pool *pgxpool.Pool, kind, tenant string, fn func(pgx.Tx) error) error {
	return projection.TenantTx(ctx, pool, kind, tenant, fn)
}

// roleAdmin is the role the system-admin routes enter to write any tenant's rosters and
// policies (migration 00016); like the API roles, strike_gateway holds its rights only inside.
const roleAdmin = "strike_api_admin"

// adminTx runs fn in a transaction as roleAdmin. The caller has checked the user is a system
// admin.
func adminTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('role', $1, true)`, roleAdmin); err != nil {
			return fmt.Errorf("enter %s: %w", roleAdmin, err)
		}
		return fn(tx)
	})
}

// ospRosters runs fn on the tenancy store inside the OSP's tenant transaction (read-write if
// write), so row-level security holds it to the OSP's rosters whatever its SQL says.
func (a *API) ospRosters(ctx context.Context, osp string, write bool, fn func(tenancy.Store) error) error {
	enter := projection.TenantTx
	if write {
		enter = projection.TenantWriteTx
	}
	return enter(ctx, a.deps.Pool, KindOSP, osp, func(tx pgx.Tx) error { return fn(tenancy.Store{Pool: tx}) })
}

// adminStore runs fn on the tenancy store as roleAdmin.
func (a *API) adminStore(ctx context.Context, fn func(tenancy.Store) error) error {
	return adminTx(ctx, a.deps.Pool, func(tx pgx.Tx) error { return fn(tenancy.Store{Pool: tx}) })
}

// ECODetail is an ECO with its timeline and call attempts, and why each person of its roster
// was or was not called.
type ECODetail struct {
	projection.ECODetail
	// People is why each person was or was not called (people.go).
	People *PeopleView `json:"people,omitempty"`
}

// getECO returns one ECO of the tenant with its timeline, calls and people, or projection.ErrNotFound.
func getECO(ctx context.Context, pool *pgxpool.Pool, kind, tenant, ecoID string) (ECODetail, error) {
	d, err := projection.GetECO(ctx, pool, kind, tenant, ecoID)
	if err != nil {
		return ECODetail{}, err
	}
	return ECODetail{ECODetail: d, People: peopleOf(d.Timeline, d.CallAttempts)}, nil
}
