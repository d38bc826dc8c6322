package gateway

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/osprey-strike/strike/internal/engagement"
	"github.com/osprey-strike/strike/internal/projection"
	"github.com/osprey-strike/strike/internal/tenancy"
)

// The browser UI (producers/gateway/web) acts for a signed-in user through these methods. Each
// makes the same access decision as the /v1 route it mirrors (Authorize) and then runs the same
// code, so the two faces cannot drift apart.

// ListFor is GET /v1/{kind}s/{tenant}/ecos for id: one page of ECOs and the next page's cursor.
func (a *API) ListFor(ctx context.Context, id *Identity, kind, tenant string, q ListQuery) ([]ECO, string, *Problem) {
	if _, p := Authorize(id, kind, tenant, ActRead); p != nil {
		return nil, "", p
	}
	resp, p := a.list(ctx, kind, tenant, q)
	return resp.Items, resp.NextCursor, p
}

// GetFor is GET /v1/{kind}s/{tenant}/ecos/{eco} for id.
func (a *API) GetFor(ctx context.Context, id *Identity, kind, tenant, eco string) (ECODetail, *Problem) {
	if _, p := Authorize(id, kind, tenant, ActRead); p != nil {
		return ECODetail{}, p
	}
	return a.get(ctx, kind, tenant, eco)
}

// CreateFor is POST /v1/nocs/{noc}/ecos for id.
func (a *API) CreateFor(ctx context.Context, id *Identity, noc string, body CreateECOBody) (IntakeResponse, *Problem) {
	role, p := Authorize(id, KindNOC, noc, ActWrite)
	if p != nil {
		return IntakeResponse{}, p
	}
	return a.create(ctx, &reqCtx{id: id, kind: KindNOC, tenant: noc, role: role}, body)
}

// CancelFor is POST /v1/nocs/{noc}/ecos/{eco}/cancel for id.
func (a *API) CancelFor(ctx context.Context, id *Identity, noc, eco string, body CancelECOBody) (IntakeResponse, *Problem) {
	role, p := Authorize(id, KindNOC, noc, ActWrite)
	if p != nil {
		return IntakeResponse{}, p
	}
	return a.cancel(ctx, &reqCtx{id: id, kind: KindNOC, tenant: noc, role: role}, eco, body)
}

// LinkedOSP is an OSP a NOC has a link to, as the create form offers it.
type LinkedOSP struct {
	ID, Name, Status string
	IsDefault        bool
}

// CreateForm is what the create-ECO form shows: the OSPs the NOC may give new work (active
// links), the NOC's callout policy, and Strike's guardrails that bound any override.
type CreateForm struct {
	OSPs       []LinkedOSP
	Policy     *engagement.Policy // nil: the NOC has no policy; Strike's defaults apply
	Guardrails engagement.Guardrails
}

// CreateFormFor reads the create form's choices for id in noc; it needs the right to create.
func (a *API) CreateFormFor(ctx context.Context, id *Identity, noc string) (CreateForm, *Problem) {
	if _, p := Authorize(id, KindNOC, noc, ActWrite); p != nil {
		return CreateForm{}, p
	}
	f := CreateForm{Guardrails: engagement.Defaults()}
	rows, err := a.deps.Pool.Query(ctx, `SELECT o.id, o.name, l.status, l.is_default FROM noc_osp_links l
		JOIN osp_tenants o ON o.id = l.osp_tenant_id WHERE l.noc_tenant_id = $1 AND l.status = 'active'
		ORDER BY l.is_default DESC, o.id`, noc)
	if err == nil {
		f.OSPs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (LinkedOSP, error) {
			var o LinkedOSP
			err := r.Scan(&o.ID, &o.Name, &o.Status, &o.IsDefault)
			return o, err
		})
	}
	if err == nil {
		var p engagement.Policy
		// The NOC's policy is its own row (row-level security, migration 00016).
		err = TenantTx(ctx, a.deps.Pool, KindNOC, noc, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT loop_count, retry_after_seconds, max_retries, failover_osp_ids,
				ring_duration_seconds FROM noc_callout_policies WHERE noc_tenant_id = $1`, noc).
				Scan(&p.LoopCount, &p.RetryAfterSeconds, &p.MaxRetries, &p.FailoverOSPIDs, &p.RingDurationSeconds)
		})
		switch err {
		case nil:
			f.Policy = &p
		case pgx.ErrNoRows:
			err = nil
		}
	}
	if err != nil {
		a.log.Error().Err(fmt.Errorf("create form: %w", err)).Msg("read create form")
		return CreateForm{}, errInternal
	}
	return f, nil
}

// SystemNOC is a NOC as system configuration shows it, with its Strike-owned, NOC-scoped Twilio
// context.
type SystemNOC struct {
	ID, Name, Code                string
	TwilioSubaccountSID, CallerID string
	Policy                        *engagement.Policy
}

// SystemOSP is an OSP with its job template and the number its next ECO would get.
type SystemOSP struct {
	ID, Name, JobPrefix, JobTemplate string
	LastNumber                       int64
	NextJobNumber                    string // rendered for the OSP's first linked NOC, this year
}

// SystemLink is a NOC–OSP link.
type SystemLink struct {
	NOC, OSP, Status string
	IsDefault        bool
}

// SystemConfig is the system admins' view of every tenant, link and policy.
type SystemConfig struct {
	NOCs  []SystemNOC
	OSPs  []SystemOSP
	Links []SystemLink
}

// SystemConfigFor reads the system configuration; only system admins may.
func (a *API) SystemConfigFor(ctx context.Context, id *Identity) (SystemConfig, *Problem) {
	if p := adminOnly(id); p != nil {
		return SystemConfig{}, p
	}
	c, err := readSystemConfig(ctx, a.deps.Pool, a.cfg.Now().UTC().Year())
	if err != nil {
		a.log.Error().Err(err).Msg("read system configuration")
		return SystemConfig{}, errInternal
	}
	return c, nil
}

// Statuses lists the statuses an ECO can show, for the board's filter.
var Statuses = projection.Statuses

// Cancellable reports whether an ECO with status may still be cancelled (cancel refuses the
// others with not-cancellable).
func Cancellable(status string) bool {
	return status != projection.StatusRejected && status != projection.StatusCancelled
}

// RostersFor is GET /v1/osps/{osp}/rosters for id.
func (a *API) RostersFor(ctx context.Context, id *Identity, osp string) ([]RosterSummaryView, *Problem) {
	if _, p := Authorize(id, KindOSP, osp, ActRead); p != nil {
		return nil, p
	}
	return a.rosters(ctx, osp)
}

// RosterFor is GET /v1/osps/{osp}/rosters/{region} for id.
func (a *API) RosterFor(ctx context.Context, id *Identity, osp, region string) (RosterView, *Problem) {
	if _, p := Authorize(id, KindOSP, osp, ActRead); p != nil {
		return RosterView{}, p
	}
	return a.roster(ctx, osp, region)
}

// PutRosterFor is PUT /v1/osps/{osp}/rosters/{region} for id: OSP admins only.
func (a *API) PutRosterFor(ctx context.Context, id *Identity, osp, region string, b RosterBody) *Problem {
	role, p := Authorize(id, KindOSP, osp, ActManageRoster)
	if p != nil {
		return p
	}
	return a.putRosterBody(ctx, &reqCtx{id: id, kind: KindOSP, tenant: osp, role: role}, region, b)
}

// SaveOSPFor is PUT /v1/admin/osps/{osp} for id: system admins only; tenancy validates the job
// template and says what is wrong.
func (a *API) SaveOSPFor(ctx context.Context, id *Identity, osp string, b OSPBody) *Problem {
	if p := adminOnly(id); p != nil {
		return p
	}
	return a.tenancyProblem(a.tenancy.UpsertOSP(ctx, tenancy.OSP{ID: osp, Name: b.Name, JobPrefix: b.JobPrefix, JobTemplate: b.JobTemplate}))
}

// SaveLinkFor is PUT /v1/admin/links/{noc}/{osp} for id: system admins only.
func (a *API) SaveLinkFor(ctx context.Context, id *Identity, noc, osp string, b LinkBody) *Problem {
	if p := adminOnly(id); p != nil {
		return p
	}
	return a.tenancyProblem(a.tenancy.UpsertLink(ctx, tenancy.Link{NOCTenantID: noc, OSPTenantID: osp, Status: b.Status, IsDefault: b.IsDefault}))
}

func adminOnly(id *Identity) *Problem {
	switch {
	case id == nil:
		return errUnauthenticated
	case !id.SystemAdmin:
		return errNotSystemAdmin
	}
	return nil
}

// SaveNOCFor is PUT /v1/admin/nocs/{noc} for id: system admins only. The Twilio subaccount and
// caller id are Strike-owned, NOC-scoped telephony context, set here and nowhere else.
func (a *API) SaveNOCFor(ctx context.Context, id *Identity, noc string, b NOCBody) *Problem {
	if p := adminOnly(id); p != nil {
		return p
	}
	return a.tenancyProblem(a.tenancy.UpsertNOC(ctx, tenancy.NOC{ID: noc, Name: b.Name, Code: b.Code,
		TwilioSubaccountSID: b.TwilioSubaccountSID, CallerID: b.CallerID}))
}

// SavePolicyFor is PUT /v1/admin/nocs/{noc}/policy for id: system admins only.
func (a *API) SavePolicyFor(ctx context.Context, id *Identity, noc string, b PolicyBody) *Problem {
	if p := adminOnly(id); p != nil {
		return p
	}
	policy := tenancy.Policy{NOCTenantID: noc, LoopCount: b.LoopCount, RetryAfterSeconds: b.RetryAfterSeconds,
		MaxRetries: b.MaxRetries, FailoverOSPIDs: b.FailoverOSPIDs, RingDurationSeconds: b.RingDurationSeconds}
	return a.tenancyProblem(a.adminStore(ctx, func(s tenancy.Store) error { return s.UpsertPolicy(ctx, policy) }))
}

// ControlFor is POST /v1/{kind}s/{tenant}/ecos/{eco}/controls for id.
func (a *API) ControlFor(ctx context.Context, id *Identity, kind, tenant, eco string, b ControlBody) (ControlResponse, *Problem) {
	role, p := Authorize(id, kind, tenant, ActControl)
	if p != nil {
		return ControlResponse{}, p
	}
	return a.control(ctx, &reqCtx{id: id, kind: kind, tenant: tenant, role: role}, eco, b)
}

// CanControl reports whether role may steer a running callout (controls.go).
func CanControl(role string) bool {
	return role == RoleAdmin || role == RoleOperator || role == "system-admin"
}

// Finished reports whether an ECO with status has no running callout left to steer.
func Finished(status string) bool { return slices.Contains(finishedStatuses, status) }
