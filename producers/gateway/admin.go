package gateway

import (
	"errors"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/osprey-strike/strike/internal/tenancy"
)

// Admin bodies. Ids come from the URL; tenancy.Store validates everything and says what is wrong.
type (
	NOCBody struct {
		Name                string `json:"name"`
		Code                string `json:"code"`
		TwilioSubaccountSID string `json:"twilio_subaccount_sid,omitempty"`
		CallerID            string `json:"caller_id,omitempty"`
	}
	OSPBody struct {
		Name        string `json:"name"`
		JobPrefix   string `json:"job_prefix"`
		JobTemplate string `json:"job_template,omitempty"`
	}
	LinkBody struct {
		Status    string `json:"status"`
		IsDefault bool   `json:"is_default"`
	}
	PolicyBody struct {
		LoopCount           int      `json:"loop_count"`
		RetryAfterSeconds   int      `json:"retry_after_seconds"`
		MaxRetries          int      `json:"max_retries"`
		FailoverOSPIDs      []string `json:"failover_osp_ids"`
		RingDurationSeconds *int     `json:"ring_duration_seconds,omitempty"`
	}
)

// tenancyProblem maps tenancy's sentinels once.
func (a *API) tenancyProblem(err error) *Problem {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case errors.Is(err, tenancy.ErrInvalid):
		return problem(http.StatusUnprocessableEntity, ProbValidation, "Invalid input", msg)
	case errors.Is(err, tenancy.ErrNotFound):
		return problem(http.StatusUnprocessableEntity, ProbNotFound, "Refers to something that does not exist", msg)
	}
	a.log.Error().Err(err).Msg("admin write")
	return errInternal
}

func (a *API) done(w http.ResponseWriter, p *Problem) *Problem {
	if p != nil {
		return p
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) adminPutNOC(w http.ResponseWriter, r *http.Request, _ *reqCtx) *Problem {
	var b NOCBody
	if p := decodeBody(r, &b, false); p != nil {
		return p
	}
	return a.done(w, a.tenancyProblem(a.tenancy.UpsertNOC(r.Context(), tenancy.NOC{ID: r.PathValue("noc"), Name: b.Name,
		Code: b.Code, TwilioSubaccountSID: b.TwilioSubaccountSID, CallerID: b.CallerID})))
}

func (a *API) adminPutOSP(w http.ResponseWriter, r *http.Request, _ *reqCtx) *Problem {
	var b OSPBody
	if p := decodeBody(r, &b, false); p != nil {
		return p
	}
	return a.done(w, a.tenancyProblem(a.tenancy.UpsertOSP(r.Context(), tenancy.OSP{ID: r.PathValue("osp"), Name: b.Name,
		JobPrefix: b.JobPrefix, JobTemplate: b.JobTemplate})))
}

func (a *API) adminPutLink(w http.ResponseWriter, r *http.Request, _ *reqCtx) *Problem {
	var b LinkBody
	if p := decodeBody(r, &b, false); p != nil {
		return p
	}
	return a.done(w, a.tenancyProblem(a.tenancy.UpsertLink(r.Context(), tenancy.Link{NOCTenantID: r.PathValue("noc"),
		OSPTenantID: r.PathValue("osp"), Status: b.Status, IsDefault: b.IsDefault})))
}

func (a *API) adminPutRoster(w http.ResponseWriter, r *http.Request, _ *reqCtx) *Problem {
	var b RosterBody
	if p := decodeBody(r, &b, false); p != nil {
		return p
	}
	ros, p := b.roster(r.PathValue("osp"), r.PathValue("region"))
	if p != nil {
		return p
	}
	return a.done(w, a.tenancyProblem(a.adminStore(r.Context(), func(s tenancy.Store) error { return s.PutRoster(r.Context(), ros) })))
}

func (a *API) adminPutPolicy(w http.ResponseWriter, r *http.Request, _ *reqCtx) *Problem {
	var b PolicyBody
	if p := decodeBody(r, &b, false); p != nil {
		return p
	}
	policy := tenancy.Policy{NOCTenantID: r.PathValue("noc"), LoopCount: b.LoopCount, RetryAfterSeconds: b.RetryAfterSeconds,
		MaxRetries: b.MaxRetries, FailoverOSPIDs: b.FailoverOSPIDs, RingDurationSeconds: b.RingDurationSeconds}
	return a.done(w, a.tenancyProblem(a.adminStore(r.Context(), func(s tenancy.Store) error { return s.UpsertPolicy(r.Context(), policy) })))
}

type tenantsResponse struct {
	NOCs  []map[string]any `json:"nocs"`
	OSPs  []map[string]any `json:"osps"`
	Links []map[string]any `json:"links"`
}

func (a *API) adminTenants(w http.ResponseWriter, r *http.Request, _ *reqCtx) *Problem {
	ctx := r.Context()
	var resp tenantsResponse
	for _, q := range []struct {
		dst  *[]map[string]any
		sql  string
		cols []string
	}{
		{&resp.NOCs, `SELECT id, name, code FROM noc_tenants ORDER BY id`, []string{"id", "name", "code"}},
		{&resp.OSPs, `SELECT id, name, job_prefix FROM osp_tenants ORDER BY id`, []string{"id", "name", "job_prefix"}},
		{&resp.Links, `SELECT noc_tenant_id, osp_tenant_id, status FROM noc_osp_links ORDER BY 1, 2`, []string{"noc_tenant_id", "osp_tenant_id", "status"}},
	} {
		rows, err := a.deps.Pool.Query(ctx, q.sql)
		if err != nil {
			a.log.Error().Err(err).Msg("admin tenants")
			return errInternal
		}
		out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (map[string]any, error) {
			var v1, v2, v3 string
			err := row.Scan(&v1, &v2, &v3)
			return map[string]any{q.cols[0]: v1, q.cols[1]: v2, q.cols[2]: v3}, err
		})
		if err != nil {
			a.log.Error().Err(err).Msg("admin tenants")
			return errInternal
		}
		*q.dst = append([]map[string]any{}, out...)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
