// Package tenancy stores the two-tenant model (DESIGN §1): NOC and OSP tenants, the links between
// them, OSP rosters and NOC callout policies. Every write validates its input first and says what
// is wrong; the database constraints are the second line.
package tenancy

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/osprey-strike/strike/internal/jobnumber"
)

var (
	idPattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	codePattern  = regexp.MustCompile(`^[A-Z0-9]{1,12}$`)
	e164Pattern  = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	twilioSIDPat = regexp.MustCompile(`^AC[0-9a-f]{32}$`)
)

// ErrInvalid is wrapped by every validation error; ErrNotFound by a write that names a missing row.
var (
	ErrInvalid  = errors.New("invalid")
	ErrNotFound = errors.New("not found")
)

// Link statuses.
const (
	LinkActive    = "active"
	LinkSuspended = "suspended"
	LinkRemoved   = "removed"
)

// NOC is a NOC tenant.
type NOC struct {
	ID, Name, Code      string
	TwilioSubaccountSID string // NOC-scoped, Strike-owned
	CallerID            string // E.164
}

// OSP is an OSP tenant.
type OSP struct {
	ID, Name, JobPrefix string
	JobTemplate         string // "" takes jobnumber.Default
}

// Link is a NOC–OSP relationship.
type Link struct {
	NOCTenantID, OSPTenantID string
	Status                   string
	IsDefault                bool
	// Engagement overrides of the NOC's policy for this OSP; nil keeps the policy's value.
	LoopCount, RetryAfterSeconds, MaxRetries, RingDurationSeconds *int
}

// Contact is one person on a roster, called in Position order.
type Contact struct {
	Position int
	Name     string
	Phone    string // E.164
	// Away are the windows in which the contact is not to be called (roster.go).
	Away []Away
}

// Policy is a NOC's callout policy.
type Policy struct {
	NOCTenantID         string
	LoopCount           int
	RetryAfterSeconds   int
	MaxRetries          int
	FailoverOSPIDs      []string
	RingDurationSeconds *int
}

// Store writes and reads tenancy rows.
type Store struct {
	// Pool is a pool, or a transaction the caller entered: the gateway runs an OSP's roster
	// routes in the OSP's tenant transaction so row-level security holds them to its rows.
	Pool DB
}

// DB is what Store runs its SQL on; *pgxpool.Pool and pgx.Tx both are one.
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// UpsertNOC creates or updates a NOC tenant.
func (s Store) UpsertNOC(ctx context.Context, n NOC) error {
	if err := validateNOC(n); err != nil {
		return err
	}
	_, err := s.Pool.Exec(ctx, `INSERT INTO noc_tenants (id, name, code, twilio_subaccount_sid, caller_id)
		VALUES ($1, $2, $3, nullif($4, ''), nullif($5, ''))
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, code = excluded.code,
			twilio_subaccount_sid = excluded.twilio_subaccount_sid, caller_id = excluded.caller_id`,
		n.ID, n.Name, n.Code, n.TwilioSubaccountSID, n.CallerID)
	return wrap("save NOC "+n.ID, err)
}

func validateNOC(n NOC) error {
	switch {
	case !idPattern.MatchString(n.ID):
		return fmt.Errorf("%w NOC id %q: lower-case letters, digits and dashes, at most 63", ErrInvalid, n.ID)
	case n.Name == "":
		return fmt.Errorf("%w NOC %s: name is required", ErrInvalid, n.ID)
	case !codePattern.MatchString(n.Code):
		return fmt.Errorf("%w NOC %s code %q: 1 to 12 upper-case letters or digits", ErrInvalid, n.ID, n.Code)
	case n.TwilioSubaccountSID != "" && !twilioSIDPat.MatchString(n.TwilioSubaccountSID):
		return fmt.Errorf("%w NOC %s Twilio subaccount SID %q: want AC followed by 32 hex digits", ErrInvalid, n.ID, n.TwilioSubaccountSID)
	case n.CallerID != "" && !e164Pattern.MatchString(n.CallerID):
		return fmt.Errorf("%w NOC %s caller id %q: want an E.164 number such as +15550100", ErrInvalid, n.ID, n.CallerID)
	}
	return nil
}

// UpsertOSP creates or updates an OSP tenant. An invalid job-number template is refused here,
// when it is saved, never when a request arrives.
func (s Store) UpsertOSP(ctx context.Context, o OSP) error {
	if o.JobTemplate == "" {
		o.JobTemplate = jobnumber.Default
	}
	switch {
	case !idPattern.MatchString(o.ID):
		return fmt.Errorf("%w OSP id %q: lower-case letters, digits and dashes, at most 63", ErrInvalid, o.ID)
	case o.Name == "":
		return fmt.Errorf("%w OSP %s: name is required", ErrInvalid, o.ID)
	case !codePattern.MatchString(o.JobPrefix):
		return fmt.Errorf("%w OSP %s job prefix %q: 1 to 12 upper-case letters or digits", ErrInvalid, o.ID, o.JobPrefix)
	}
	if _, err := jobnumber.Parse(o.JobTemplate); err != nil {
		return fmt.Errorf("%w OSP %s: %w", ErrInvalid, o.ID, err)
	}
	_, err := s.Pool.Exec(ctx, `INSERT INTO osp_tenants (id, name, job_prefix, job_template) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, job_prefix = excluded.job_prefix, job_template = excluded.job_template`,
		o.ID, o.Name, o.JobPrefix, o.JobTemplate)
	if err != nil {
		return wrap("save OSP "+o.ID, err)
	}
	_, err = s.Pool.Exec(ctx, `INSERT INTO job_counters (osp_tenant_id) VALUES ($1) ON CONFLICT DO NOTHING`, o.ID)
	return wrap("create job counter for OSP "+o.ID, err)
}

// LinkActive says whether noc may give osp work: its link exists and is active.
func (s Store) LinkActive(ctx context.Context, noc, osp string) (bool, error) {
	var status string
	err := s.Pool.QueryRow(ctx, `SELECT status FROM noc_osp_links WHERE noc_tenant_id = $1 AND osp_tenant_id = $2`, noc, osp).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read link %s/%s: %w", noc, osp, err)
	}
	return status == LinkActive, nil
}

// UpsertLink creates a link or changes its status and default flag.
func (s Store) UpsertLink(ctx context.Context, l Link) error {
	switch l.Status {
	case LinkActive, LinkSuspended, LinkRemoved:
	default:
		return fmt.Errorf("%w link status %q: want active, suspended or removed", ErrInvalid, l.Status)
	}
	_, err := s.Pool.Exec(ctx, `INSERT INTO noc_osp_links (noc_tenant_id, osp_tenant_id, status, is_default,
			loop_count, retry_after_seconds, max_retries, ring_duration_seconds)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (noc_tenant_id, osp_tenant_id) DO UPDATE SET status = excluded.status,
			is_default = excluded.is_default, loop_count = excluded.loop_count,
			retry_after_seconds = excluded.retry_after_seconds, max_retries = excluded.max_retries,
			ring_duration_seconds = excluded.ring_duration_seconds, updated_at = now()`,
		l.NOCTenantID, l.OSPTenantID, l.Status, l.IsDefault,
		l.LoopCount, l.RetryAfterSeconds, l.MaxRetries, l.RingDurationSeconds)
	return wrap(fmt.Sprintf("save link %s -> %s", l.NOCTenantID, l.OSPTenantID), err)
}

// SetRoster replaces the roster of an OSP's region with contacts, in one transaction, as a
// fixed (non-rotating) roster. PutRoster takes rotation and availability too.
func (s Store) SetRoster(ctx context.Context, ospID, region, name string, contacts []Contact) error {
	return s.PutRoster(ctx, Roster{OSPTenantID: ospID, Region: region, Name: name, Rotation: RotationFixed, Contacts: contacts})
}

// UpsertPolicy saves a NOC's callout policy.
func (s Store) UpsertPolicy(ctx context.Context, p Policy) error {
	if p.FailoverOSPIDs == nil {
		p.FailoverOSPIDs = []string{}
	}
	_, err := s.Pool.Exec(ctx, `INSERT INTO noc_callout_policies
		(noc_tenant_id, loop_count, retry_after_seconds, max_retries, failover_osp_ids, ring_duration_seconds)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (noc_tenant_id) DO UPDATE SET loop_count = excluded.loop_count,
			retry_after_seconds = excluded.retry_after_seconds, max_retries = excluded.max_retries,
			failover_osp_ids = excluded.failover_osp_ids, ring_duration_seconds = excluded.ring_duration_seconds,
			updated_at = now()`,
		p.NOCTenantID, p.LoopCount, p.RetryAfterSeconds, p.MaxRetries, p.FailoverOSPIDs, p.RingDurationSeconds)
	return wrap("save policy for NOC "+p.NOCTenantID, err)
}

// wrap maps PostgreSQL errors to this package's sentinels once, so callers never import pgx.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23503": // foreign_key_violation
			return fmt.Errorf("%s: %w: %s", what, ErrNotFound, pgErr.Detail)
		case "23514", "23505", "22P02": // check, unique, invalid text
			return fmt.Errorf("%s: %w: %s", what, ErrInvalid, pgErr.Message)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}
