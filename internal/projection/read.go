package projection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// APIRoles are the PostgreSQL roles the API reads projections as, one per tenant kind. They are
// subject to row-level security (migration 00004), so even a query that forgot its tenant
// filter returns only the active tenant's rows.
var APIRoles = map[string]string{KindNOC: "strike_api_noc", KindOSP: "strike_api_osp"}

// ErrNotFound is returned for an ECO the active tenant cannot see.
var ErrNotFound = errors.New("not found")

// TenantTx runs fn in a read-only transaction as the tenant kind's API role with the tenant set,
// the second layer of isolation under the readers' own tenant filters: a query without any tenant
// filter, run through it, sees only that tenant's rows.
func TenantTx(ctx context.Context, pool *pgxpool.Pool, kind, tenant string, fn func(pgx.Tx) error) error {
	return tenantTx(ctx, pool, pgx.ReadOnly, kind, tenant, fn)
}

// TenantWriteTx is TenantTx for the tenant's own configuration it may change (an OSP's rosters,
// migration 00016): read-write, and row-level security holds the writes to the tenant's rows.
func TenantWriteTx(ctx context.Context, pool *pgxpool.Pool, kind, tenant string, fn func(pgx.Tx) error) error {
	return tenantTx(ctx, pool, pgx.ReadWrite, kind, tenant, fn)
}

func tenantTx(ctx context.Context, pool *pgxpool.Pool, mode pgx.TxAccessMode, kind, tenant string, fn func(pgx.Tx) error) error {
	role, ok := APIRoles[kind]
	if !ok {
		return fmt.Errorf("tenant kind %q: want noc or osp", kind)
	}
	return pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{AccessMode: mode}, func(tx pgx.Tx) error {
		// set_config(..., true) is SET LOCAL: it ends with the transaction, so a pooled
		// connection never carries one request's tenant into the next.
		if _, err := tx.Exec(ctx, `SELECT set_config('role', $1, true), set_config('strike.tenant_kind', $2, true),
			set_config('strike.tenant_id', $3, true)`, role, kind, tenant); err != nil {
			return fmt.Errorf("enter tenant %s/%s: %w", kind, tenant, err)
		}
		return fn(tx)
	})
}

// ECO is the API's view of an ECO board row.
type ECO struct {
	ECOID           string     `json:"eco_id"`
	NOCTenantID     string     `json:"noc_tenant_id"`
	OSPTenantID     string     `json:"osp_tenant_id"`
	RequestID       *string    `json:"request_id,omitempty"`
	JobNumber       *string    `json:"job_number,omitempty"`
	Status          string     `json:"status"`
	Region          *string    `json:"region,omitempty"`
	Priority        *string    `json:"priority,omitempty"`
	SiteName        *string    `json:"site_name,omitempty"`
	SiteAddress     *string    `json:"site_address,omitempty"`
	Summary         *string    `json:"summary,omitempty"`
	NOCTicketRef    *string    `json:"noc_ticket_ref,omitempty"`
	RequestedBy     *string    `json:"requested_by,omitempty"`
	PeopleNeeded    *int       `json:"people_needed,omitempty"`
	ParentECOID     *string    `json:"parent_eco_id,omitempty"`
	RejectReason    *string    `json:"reject_reason,omitempty"`
	RejectDetail    *string    `json:"reject_detail,omitempty"`
	CallsMade       int        `json:"calls_made"`
	AcceptedCount   int        `json:"accepted_count"`
	AcceptedBy      *string    `json:"accepted_by,omitempty"`
	AcceptedByPhone *string    `json:"accepted_by_phone,omitempty"`
	AcceptedAt      *time.Time `json:"accepted_at,omitempty"`
	RetryAt         *time.Time `json:"retry_at,omitempty"`
	FailedOverTo    *string    `json:"failed_over_to,omitempty"`
	FailoverECOID   *string    `json:"failover_eco_id,omitempty"`
	CancelledBy     *string    `json:"cancelled_by,omitempty"`
	CancelReason    *string    `json:"cancel_reason,omitempty"`
	ExhaustedReason *string    `json:"exhausted_reason,omitempty"`
	RenderJobID     *string    `json:"render_job_id,omitempty"`
	FieldStatus     *string    `json:"field_status,omitempty"`
	FieldAssignee   *string    `json:"field_assignee,omitempty"`
	FieldUpdatedAt  *time.Time `json:"field_updated_at,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
}

const ecoCols = `eco_id::text, noc_tenant_id, osp_tenant_id, request_id, job_number, status, region, priority,
	site_name, site_address, summary, noc_ticket_ref, requested_by, people_needed, parent_eco_id::text,
	reject_reason, reject_detail, calls_made, accepted_count, accepted_by_name, accepted_by_phone, accepted_at,
	retry_at, failed_over_to, failover_eco_id::text, cancelled_by, cancel_reason, exhausted_reason,
	render_job_id, field_status, field_assignee, field_updated_at, created_at, updated_at`

func scanECO(row pgx.CollectableRow) (ECO, error) {
	var e ECO
	err := row.Scan(&e.ECOID, &e.NOCTenantID, &e.OSPTenantID, &e.RequestID, &e.JobNumber, &e.Status, &e.Region,
		&e.Priority, &e.SiteName, &e.SiteAddress, &e.Summary, &e.NOCTicketRef, &e.RequestedBy, &e.PeopleNeeded,
		&e.ParentECOID, &e.RejectReason, &e.RejectDetail, &e.CallsMade, &e.AcceptedCount, &e.AcceptedBy,
		&e.AcceptedByPhone, &e.AcceptedAt, &e.RetryAt, &e.FailedOverTo, &e.FailoverECOID, &e.CancelledBy,
		&e.CancelReason, &e.ExhaustedReason, &e.RenderJobID, &e.FieldStatus, &e.FieldAssignee, &e.FieldUpdatedAt,
		&e.CreatedAt, &e.UpdatedAt)
	return e, err
}

// Position is a place in an ECO list: the (created_at, eco_id) of the last item returned.
type Position struct {
	At time.Time
	ID string
}

// ListFilter selects and pages an ECO list.
type ListFilter struct {
	Status string
	Since  *time.Time
	Q      string
	After  *Position
	Limit  int
}

// tenantColumn is the column that ties a row to a tenant of kind.
func tenantColumn(kind string) string {
	if kind == KindOSP {
		return "osp_tenant_id"
	}
	return "noc_tenant_id"
}

// ListECOs returns one page of the tenant's ECOs, newest first, in a stable order
// (created_at, eco_id), and whether there is more.
func ListECOs(ctx context.Context, pool *pgxpool.Pool, kind, tenant string, f ListFilter) ([]ECO, bool, error) {
	where := []string{tenantColumn(kind) + " = $1"}
	args := []any{tenant}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Status != "" {
		where = append(where, "status = "+arg(f.Status))
	}
	if f.Since != nil {
		where = append(where, "created_at >= "+arg(*f.Since))
	}
	if f.Q != "" {
		where = append(where, "search LIKE "+arg("%"+escapeLike(strings.ToLower(f.Q))+"%"))
	}
	if f.After != nil {
		where = append(where, "(created_at, eco_id) < ("+arg(f.After.At)+", "+arg(f.After.ID)+"::uuid)")
	}
	sql := "SELECT " + ecoCols + " FROM eco_board WHERE " + strings.Join(where, " AND ") +
		" ORDER BY created_at DESC, eco_id DESC LIMIT " + arg(f.Limit+1)
	var out []ECO
	err := TenantTx(ctx, pool, kind, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanECO)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("list ECOs: %w", err)
	}
	more := len(out) > f.Limit
	if more {
		out = out[:f.Limit]
	}
	if out == nil {
		out = []ECO{}
	}
	return out, more, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// TimelineEvent is one event of an ECO's timeline.
type TimelineEvent struct {
	EventID    string          `json:"event_id"`
	Type       string          `json:"type"`
	OccurredAt time.Time       `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
}

// CallAttempt is one call the dialer placed.
type CallAttempt struct {
	CallID          string     `json:"call_id"`
	ContactPosition *int       `json:"contact_position,omitempty"`
	ContactName     *string    `json:"contact_name,omitempty"`
	ContactPhone    *string    `json:"contact_phone,omitempty"`
	Pass            *int       `json:"pass,omitempty"`
	Round           *int       `json:"round,omitempty"`
	CallSID         *string    `json:"call_sid,omitempty"`
	PlacedAt        *time.Time `json:"placed_at,omitempty"`
	EndedAt         *time.Time `json:"ended_at,omitempty"`
	Result          *string    `json:"result,omitempty"`
	Detail          *string    `json:"detail,omitempty"`
	DurationSeconds *int       `json:"duration_seconds,omitempty"`
}

// ECODetail is an ECO with its timeline and call attempts.
type ECODetail struct {
	ECO
	Timeline     []TimelineEvent `json:"timeline"`
	CallAttempts []CallAttempt   `json:"call_attempts"`
}

// GetECO returns one ECO of the tenant with its timeline and calls, or ErrNotFound.
func GetECO(ctx context.Context, pool *pgxpool.Pool, kind, tenant, ecoID string) (ECODetail, error) {
	var d ECODetail
	col := tenantColumn(kind)
	err := TenantTx(ctx, pool, kind, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "SELECT "+ecoCols+" FROM eco_board WHERE eco_id = $1 AND "+col+" = $2", ecoID, tenant)
		if err != nil {
			return err
		}
		ecos, err := pgx.CollectRows(rows, scanECO)
		if err != nil {
			return err
		}
		if len(ecos) == 0 {
			return ErrNotFound
		}
		d.ECO = ecos[0]
		rows, err = tx.Query(ctx, `SELECT event_id, type, occurred_at, payload FROM eco_timeline
			WHERE eco_id = $1 AND `+col+` = $2 ORDER BY occurred_at, event_id`, ecoID, tenant)
		if err != nil {
			return err
		}
		d.Timeline, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (TimelineEvent, error) {
			var ev TimelineEvent
			var raw []byte
			err := r.Scan(&ev.EventID, &ev.Type, &ev.OccurredAt, &raw)
			ev.Data = raw
			return ev, err
		})
		if err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT call_id, contact_position, contact_name, contact_phone, pass, round, call_sid,
			placed_at, ended_at, result, detail, duration_seconds FROM call_attempts
			WHERE eco_id = $1 AND `+col+` = $2 ORDER BY placed_at NULLS LAST, call_id`, ecoID, tenant)
		if err != nil {
			return err
		}
		d.CallAttempts, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (CallAttempt, error) {
			var c CallAttempt
			err := r.Scan(&c.CallID, &c.ContactPosition, &c.ContactName, &c.ContactPhone, &c.Pass, &c.Round, &c.CallSID,
				&c.PlacedAt, &c.EndedAt, &c.Result, &c.Detail, &c.DurationSeconds)
			return c, err
		})
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return d, ErrNotFound
	}
	if err != nil {
		return d, fmt.Errorf("get ECO: %w", err)
	}
	if d.Timeline == nil {
		d.Timeline = []TimelineEvent{}
	}
	if d.CallAttempts == nil {
		d.CallAttempts = []CallAttempt{}
	}
	return d, nil
}

// Entry is what a cancel or a control needs of an ECO's board row.
type Entry struct {
	NOC, OSP, Status, JobNumber string
}

// LookUp returns the board entry of the tenant's ECO (read in its tenant transaction), or
// ErrNotFound when the tenant has no such ECO.
func LookUp(ctx context.Context, pool *pgxpool.Pool, kind, tenant, ecoID string) (Entry, error) {
	var e Entry
	err := TenantTx(ctx, pool, kind, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT noc_tenant_id, osp_tenant_id, status, coalesce(job_number, '') FROM eco_board
			WHERE eco_id = $1 AND `+tenantColumn(kind)+` = $2`, ecoID, tenant).Scan(&e.NOC, &e.OSP, &e.Status, &e.JobNumber)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Entry{}, ErrNotFound
	}
	if err != nil {
		return Entry{}, fmt.Errorf("read ECO %s: %w", ecoID, err)
	}
	return e, nil
}

// Filled reports whether the ECO has as many acceptances as people needed (false for an ECO the
// board does not know yet). The Twilio webhooks ask it of any tenant's ECO, as strike_callbacks:
// that role reads these three columns of every board row and nothing else.
func Filled(ctx context.Context, pool *pgxpool.Pool, ecoID string) (bool, error) {
	var filled bool
	err := pool.QueryRow(ctx, `SELECT coalesce(bool_or(accepted_count >= coalesce(people_needed, 1)), false)
		FROM eco_board WHERE eco_id = $1`, ecoID).Scan(&filled)
	if err != nil {
		return false, fmt.Errorf("read fill of ECO %s: %w", ecoID, err)
	}
	return filled, nil
}

// OpenECO is a running callout of a NOC that called a number, as offered to a caller who rings
// back (a call-in).
type OpenECO struct {
	ECOID, JobNumber, Site, Summary string
}

// OpenECOsCalling returns noc's running callouts (created, ringing, retry scheduled) that placed
// a call to phone, newest first, at most limit. It reads in the NOC's tenant transaction, so
// row-level security keeps it to that NOC's rows.
func OpenECOsCalling(ctx context.Context, pool *pgxpool.Pool, noc, phone string, limit int) ([]OpenECO, error) {
	var out []OpenECO
	err := TenantTx(ctx, pool, KindNOC, noc, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT b.eco_id::text, coalesce(b.job_number, ''), coalesce(b.site_name, ''), coalesce(b.summary, '')
			FROM eco_board b
			WHERE b.noc_tenant_id = $1 AND b.status = ANY($4)
			  AND EXISTS (SELECT 1 FROM call_attempts a WHERE a.eco_id = b.eco_id AND a.contact_phone = $2)
			ORDER BY b.created_at DESC, b.eco_id DESC LIMIT $3`, noc, phone, limit,
			[]string{StatusCreated, StatusRinging, StatusRetryScheduled})
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (OpenECO, error) {
			var o OpenECO
			return o, row.Scan(&o.ECOID, &o.JobNumber, &o.Site, &o.Summary)
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open ECOs of %s that called a number: %w", noc, err)
	}
	return out, nil
}
