package ecoprocessor

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/osprey-strike/strike/internal/engagement"
)

// AllocationRequest is one well-formed request to decide, in partition order.
type AllocationRequest struct {
	RequestID      string   `json:"request_id"`
	ECOID          string   `json:"eco_id"`
	NOCTenantID    string   `json:"noc_tenant_id"`
	OSPTenantID    string   `json:"osp_tenant_id"`
	Region         string   `json:"region"`
	FailoverOSPIDs []string `json:"failover_osp_ids,omitempty"`
	// Request is the request as accepted, stored with a new allocation so a redelivery is
	// answered from it (the existing allocation always wins over later validation).
	Request json.RawMessage `json:"request,omitempty"`
}

// Allocation is the decision for one request.
type Allocation struct {
	RequestID   string
	ECOID       string
	Created     bool   // false: rejected for Reason
	Reason      string // a schemas.Reason* constant when rejected
	Detail      string
	Number      int64
	JobNumber   string
	AllocatedAt time.Time
	Redelivered bool                      // the request already had this number
	Policy      *engagement.Policy        // the NOC's stored policy; nil when it has none
	Link        *engagement.LinkOverrides // the link's overrides; nil when it has none
	// Original is the request stored with an existing allocation (Redelivered), or the first
	// occurrence's for a repeat in the batch; nil for a new allocation and for allocations
	// made before requests were stored.
	Original json.RawMessage
	// NOCTenantID and OSPTenantID are set by FindAllocations.
	NOCTenantID, OSPTenantID string
}

// Store decides a batch of requests against PostgreSQL.
type Store interface {
	// Allocate decides reqs in order in one transaction and returns one Allocation per request,
	// in the same order. A request that already had a number gets it again.
	Allocate(ctx context.Context, reqs []AllocationRequest) ([]Allocation, error)
	// FindAllocations returns the allocations that exist for keys, with their stored original,
	// the NOC's policy and the link's overrides.
	FindAllocations(ctx context.Context, keys []RequestKey) (map[RequestKey]Allocation, error)
	// FindECOs returns the ECOs among ecoIDs that exist, by eco id.
	FindECOs(ctx context.Context, ecoIDs []string) (map[string]ECO, error)
}

// RequestKey names a request: request ids are namespaced per NOC.
type RequestKey struct {
	NOCTenantID, RequestID string
}

// ECO is an allocated ECO as a cancel needs it.
type ECO struct {
	ECOID, NOCTenantID, OSPTenantID, JobNumber string
}

// PGStore is the PostgreSQL Store: one round trip per batch through allocate_jobs
// (migrations/00002_allocate_jobs.sql).
type PGStore struct {
	Pool *pgxpool.Pool
}

// Allocate implements Store.
func (s PGStore) Allocate(ctx context.Context, reqs []AllocationRequest) ([]Allocation, error) {
	batch, err := json.Marshal(reqs)
	if err != nil {
		return nil, fmt.Errorf("encode allocation batch: %w", err)
	}
	// allocate_jobs returns one row per request in input order; the same statement reads the
	// link's engagement overrides (migrations/00006), so the batch stays one round trip.
	rows, err := s.Pool.Query(ctx, `SELECT a.request_id, a.eco_id::text, a.outcome, coalesce(a.reason, ''),
		coalesce(a.detail, ''), coalesce(a.number, 0), coalesce(a.job_number, ''), a.allocated_at, a.redelivered,
		a.loop_count, a.retry_after_seconds, a.max_retries, a.failover_osp_ids, a.ring_duration_seconds,
		l.loop_count, l.retry_after_seconds, l.max_retries, l.ring_duration_seconds, a.original
		FROM allocate_jobs($1::jsonb) WITH ORDINALITY AS a
		JOIN jsonb_array_elements($1::jsonb) WITH ORDINALITY AS r(req, ord) ON r.ord = a.ordinality
		LEFT JOIN noc_osp_links l ON l.noc_tenant_id = r.req->>'noc_tenant_id' AND l.osp_tenant_id = r.req->>'osp_tenant_id'
		ORDER BY a.ordinality`, batch)
	if err != nil {
		return nil, fmt.Errorf("allocate job numbers: %w", err)
	}
	out := make([]Allocation, 0, len(reqs))
	for rows.Next() {
		var (
			a        Allocation
			outcome  string
			at       *time.Time
			loop     *int
			retry    *int
			maxRetry *int
			failover []string
			ring     *int
			link     engagement.LinkOverrides
		)
		if err := rows.Scan(&a.RequestID, &a.ECOID, &outcome, &a.Reason, &a.Detail, &a.Number, &a.JobNumber,
			&at, &a.Redelivered, &loop, &retry, &maxRetry, &failover, &ring,
			&link.LoopCount, &link.RetryAfterSeconds, &link.MaxRetries, &link.RingDurationSeconds, &a.Original); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read allocation: %w", err)
		}
		a.Created = outcome == "created"
		if at != nil {
			a.AllocatedAt = *at
		}
		a.Policy, a.Link = policyAndLink(loop, retry, maxRetry, failover, ring, link)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("allocate job numbers: %w", err)
	}
	if len(out) != len(reqs) {
		return nil, fmt.Errorf("allocate job numbers: %d decisions for %d requests", len(out), len(reqs))
	}
	return out, nil
}

var _ Store = PGStore{}

func policyAndLink(loop, retry, maxRetry *int, failover []string, ring *int, link engagement.LinkOverrides) (*engagement.Policy, *engagement.LinkOverrides) {
	var p *engagement.Policy
	if loop != nil {
		p = &engagement.Policy{LoopCount: *loop, RetryAfterSeconds: *retry, MaxRetries: *maxRetry,
			FailoverOSPIDs: failover, RingDurationSeconds: ring}
	}
	if link == (engagement.LinkOverrides{}) {
		return p, nil
	}
	return p, &link
}

// FindAllocations implements Store.
func (s PGStore) FindAllocations(ctx context.Context, keys []RequestKey) (map[RequestKey]Allocation, error) {
	nocs, rids := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		nocs[i], rids[i] = k.NOCTenantID, k.RequestID
	}
	rows, err := s.Pool.Query(ctx, `SELECT a.request_id, a.eco_id::text, a.noc_tenant_id, a.osp_tenant_id, a.number,
		a.job_number, a.allocated_at, a.request,
		p.loop_count, p.retry_after_seconds, p.max_retries, p.failover_osp_ids, p.ring_duration_seconds,
		l.loop_count, l.retry_after_seconds, l.max_retries, l.ring_duration_seconds
		FROM job_allocations a
		LEFT JOIN noc_callout_policies p ON p.noc_tenant_id = a.noc_tenant_id
		LEFT JOIN noc_osp_links l ON l.noc_tenant_id = a.noc_tenant_id AND l.osp_tenant_id = a.osp_tenant_id
		JOIN unnest($1::text[], $2::text[]) AS k(noc, rid) ON a.noc_tenant_id = k.noc AND a.request_id = k.rid`, nocs, rids)
	if err != nil {
		return nil, fmt.Errorf("find allocations: %w", err)
	}
	defer rows.Close()
	out := make(map[RequestKey]Allocation, len(keys))
	for rows.Next() {
		var (
			a        Allocation
			loop     *int
			retry    *int
			maxRetry *int
			failover []string
			ring     *int
			link     engagement.LinkOverrides
		)
		if err := rows.Scan(&a.RequestID, &a.ECOID, &a.NOCTenantID, &a.OSPTenantID, &a.Number, &a.JobNumber,
			&a.AllocatedAt, &a.Original, &loop, &retry, &maxRetry, &failover, &ring,
			&link.LoopCount, &link.RetryAfterSeconds, &link.MaxRetries, &link.RingDurationSeconds); err != nil {
			return nil, fmt.Errorf("find allocations: %w", err)
		}
		a.Created, a.Redelivered = true, true
		a.Policy, a.Link = policyAndLink(loop, retry, maxRetry, failover, ring, link)
		out[RequestKey{NOCTenantID: a.NOCTenantID, RequestID: a.RequestID}] = a
	}
	return out, rows.Err()
}

// FindECOs implements Store.
func (s PGStore) FindECOs(ctx context.Context, ecoIDs []string) (map[string]ECO, error) {
	rows, err := s.Pool.Query(ctx, `SELECT eco_id::text, noc_tenant_id, osp_tenant_id, job_number
		FROM job_allocations WHERE eco_id = ANY($1::uuid[])`, ecoIDs)
	if err != nil {
		return nil, fmt.Errorf("find ECOs: %w", err)
	}
	defer rows.Close()
	out := make(map[string]ECO, len(ecoIDs))
	for rows.Next() {
		var e ECO
		if err := rows.Scan(&e.ECOID, &e.NOCTenantID, &e.OSPTenantID, &e.JobNumber); err != nil {
			return nil, fmt.Errorf("find ECOs: %w", err)
		}
		out[e.ECOID] = e
	}
	return out, rows.Err()
}
