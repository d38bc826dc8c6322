-- allocate_jobs (00011) joined its batch to itself on (noc_tenant_id, request_id), and the
-- planner, which cannot estimate a two-column join of function output, chose nested loops: a
-- batch of 2,000 took ~3 s instead of ~75 ms (BenchmarkThroughput fell from ~12,800 to ~3,400
-- requests/s). Each request now carries the ordinal of its id's first occurrence in the batch,
-- and every self-join is on that one integer. The decisions are unchanged.

-- +goose Up
-- +goose StatementBegin
DROP FUNCTION allocate_jobs(jsonb);
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION allocate_jobs(reqs jsonb)
RETURNS TABLE (
    request_id            text,
    eco_id                uuid,
    outcome               text,     -- 'created' | 'rejected'
    reason                text,     -- machine-readable rejection reason, NULL when created
    detail                text,
    number                bigint,
    job_number            text,
    allocated_at          timestamptz,
    redelivered           boolean,  -- true when the request already had its number
    loop_count            integer,  -- the NOC's policy, NULL when it has none
    retry_after_seconds   integer,
    max_retries           integer,
    failover_osp_ids      text[],
    ring_duration_seconds integer,
    original              jsonb     -- the stored request of an existing allocation, NULL for a new one
) LANGUAGE plpgsql
-- The batch statement is large; planning it afresh for each call costs more than running it on a
-- small batch. Its shape never depends on the data, so one generic plan per connection serves.
SET plan_cache_mode = force_generic_plan
AS $fn$
BEGIN
    -- Every OSP in the batch gets a counter row, then all of them are locked in one fixed order.
    -- Two processors holding overlapping batches (a zombie and the partition's new owner) then
    -- serialise here instead of deadlocking. The statement below takes a fresh snapshot after
    -- the lock is granted, so the second one sees the first one's allocations.
    INSERT INTO job_counters (osp_tenant_id)
    SELECT o.id FROM osp_tenants o
    WHERE o.id IN (SELECT DISTINCT x->>'osp_tenant_id' FROM jsonb_array_elements(reqs) x)
    ON CONFLICT DO NOTHING;
    PERFORM 1 FROM job_counters c
    WHERE c.osp_tenant_id IN (SELECT DISTINCT x->>'osp_tenant_id' FROM jsonb_array_elements(reqs) x)
    ORDER BY c.osp_tenant_id
    FOR UPDATE;

    -- One set-based statement decides the whole batch; the per-request rules are the CASE below,
    -- checked in this order: request id already used by this NOC for another request, unknown
    -- NOC, unknown OSP, link not active, no roster for the region, failover OSP without an
    -- active link. A request id is the NOC's: another NOC's use of it is never looked at.
    RETURN QUERY
    -- The first occurrence of a NOC's request id in this batch decides for later ones: first_ord
    -- points at it, so every join below is on one integer (joins on the two-column key made the
    -- planner, which cannot estimate them on function output, choose nested loops: 40× slower
    -- on a batch of 2,000).
    WITH input AS (
        SELECT x.ord, x.r->>'request_id' AS rid, (x.r->>'eco_id')::uuid AS eco,
               x.r->>'noc_tenant_id' AS noc_id, x.r->>'osp_tenant_id' AS osp_id, x.r->>'region' AS region,
               coalesce(x.r->'failover_osp_ids', '[]'::jsonb) AS failover,
               x.r->'request' AS request,
               min(x.ord) OVER (PARTITION BY x.r->>'noc_tenant_id', x.r->>'request_id') AS first_ord
        FROM jsonb_array_elements(reqs) WITH ORDINALITY AS x(r, ord)
    ),
    checked AS (
        SELECT i.*, a.request_id IS NOT NULL AS had, a.eco_id AS a_eco, a.number AS a_number,
               a.job_number AS a_job, a.allocated_at AS a_at, a.request AS a_request,
               f.request AS first_request,
               -- Another body under the same id: requested_at (when the requester asked) aside, a
               -- redelivery is the same document. Allocations stored before their request was
               -- (request NULL) compare by OSP only.
               (a.request_id IS NOT NULL AND (a.osp_tenant_id <> i.osp_id
                   OR (a.request IS NOT NULL AND (a.request - 'requested_at') IS DISTINCT FROM (i.request - 'requested_at'))))
                 OR (i.first_ord <> i.ord AND (f.osp_id <> i.osp_id
                   OR (f.request - 'requested_at') IS DISTINCT FROM (i.request - 'requested_at'))) AS conflict,
               i.first_ord <> i.ord AS repeat,
               n.id IS NOT NULL AS noc_ok, n.code AS noc_code,
               o.id IS NOT NULL AS osp_ok, o.job_prefix, o.job_template,
               l.status AS link_status,
               EXISTS (SELECT 1 FROM roster_contacts rc WHERE rc.osp_tenant_id = i.osp_id AND rc.region = i.region) AS roster_ok,
               (SELECT fo FROM jsonb_array_elements_text(i.failover) fo
                WHERE fo = i.osp_id OR NOT EXISTS (
                    SELECT 1 FROM noc_osp_links fl
                    WHERE fl.noc_tenant_id = i.noc_id AND fl.osp_tenant_id = fo AND fl.status = 'active')
                LIMIT 1) AS bad_failover
        FROM input i
        JOIN input f ON f.ord = i.first_ord
        LEFT JOIN job_allocations a ON a.noc_tenant_id = i.noc_id AND a.request_id = i.rid
        LEFT JOIN noc_tenants n ON n.id = i.noc_id
        LEFT JOIN osp_tenants o ON o.id = i.osp_id
        LEFT JOIN noc_osp_links l ON l.noc_tenant_id = i.noc_id AND l.osp_tenant_id = i.osp_id
    ),
    own AS (
        SELECT c.*,
            CASE
                WHEN c.conflict THEN 'request_id_conflict'
                WHEN c.had THEN NULL
                WHEN NOT c.noc_ok THEN 'unknown_noc'
                WHEN NOT c.osp_ok THEN 'unknown_osp'
                WHEN c.link_status IS DISTINCT FROM 'active' THEN 'link_not_active'
                WHEN NOT c.roster_ok THEN 'no_roster_for_region'
                WHEN c.bad_failover IS NOT NULL THEN 'failover_link_not_active'
            END AS own_why
        FROM checked c
    ),
    -- A repeat of a request id inside the batch gets its first occurrence's decision.
    decided AS (
        SELECT o.*, CASE WHEN o.repeat AND NOT o.conflict THEN first.own_why ELSE o.own_why END AS why
        FROM own o JOIN own first ON first.ord = o.first_ord
    ),
    -- New numbers, per OSP, in batch order, after the locked counter.
    fresh AS (
        SELECT d.ord, d.rid, d.eco, d.noc_id, d.osp_id, d.request,
               k.last_number + row_number() OVER (PARTITION BY d.osp_id ORDER BY d.ord) AS num,
               render_job_number(d.job_template, d.job_prefix, d.noc_code,
                   k.last_number + row_number() OVER (PARTITION BY d.osp_id ORDER BY d.ord),
                   extract(year FROM now() AT TIME ZONE 'UTC')::int) AS job
        FROM decided d JOIN job_counters k ON k.osp_tenant_id = d.osp_id
        WHERE d.why IS NULL AND NOT d.had AND NOT d.repeat
    ),
    inserted AS (
        INSERT INTO job_allocations (request_id, eco_id, noc_tenant_id, osp_tenant_id, number, job_number, allocated_at, request)
        SELECT fr.rid, fr.eco, fr.noc_id, fr.osp_id, fr.num, fr.job, now(), fr.request FROM fresh fr
        RETURNING job_allocations.request_id
    ),
    bumped AS (
        UPDATE job_counters k SET last_number = k.last_number + g.n
        FROM (SELECT fr.osp_id, count(*) AS n FROM fresh fr GROUP BY fr.osp_id) g
        WHERE k.osp_tenant_id = g.osp_id
        RETURNING k.osp_tenant_id
    )
    SELECT d.rid,
           -- A conflict never names the ECO the id already has (the processor gives the refusal
           -- an id of its own), so it cannot touch that ECO.
           CASE WHEN d.why = 'request_id_conflict' THEN d.eco ELSE coalesce(d.a_eco, fr.eco, fr1.eco, d.eco) END,
           CASE WHEN d.why IS NULL THEN 'created' ELSE 'rejected' END,
           d.why,
           CASE d.why
               WHEN 'request_id_conflict' THEN format('request_id %s was already used by NOC %s for a different request', d.rid, d.noc_id)
               WHEN 'unknown_noc' THEN format('NOC tenant %L does not exist', d.noc_id)
               WHEN 'unknown_osp' THEN format('OSP tenant %L does not exist', d.osp_id)
               WHEN 'link_not_active' THEN format('link %s -> %s is %s', d.noc_id, d.osp_id, coalesce(d.link_status, 'missing'))
               WHEN 'no_roster_for_region' THEN format('OSP %s has no roster contacts for region %L', d.osp_id, d.region)
               WHEN 'failover_link_not_active' THEN format('failover OSP %L is the primary OSP or has no active link to %s', d.bad_failover, d.noc_id)
           END,
           CASE WHEN d.why IS NULL THEN coalesce(d.a_number, fr.num, fr1.num) END,
           CASE WHEN d.why IS NULL THEN coalesce(d.a_job, fr.job, fr1.job) END,
           CASE WHEN d.why IS NULL THEN coalesce(d.a_at, now()) END,
           d.had OR (d.repeat AND d.why IS NULL),
           p.loop_count, p.retry_after_seconds, p.max_retries, p.failover_osp_ids, p.ring_duration_seconds,
           CASE WHEN d.why IS NULL AND d.had THEN d.a_request
                WHEN d.why IS NULL AND d.repeat THEN d.first_request END
    FROM decided d
    LEFT JOIN fresh fr ON fr.ord = d.ord
    -- A repeat inside the batch takes the number its first occurrence just got.
    LEFT JOIN fresh fr1 ON fr1.ord = d.first_ord AND d.repeat
    LEFT JOIN noc_callout_policies p ON p.noc_tenant_id = d.noc_id
    ORDER BY d.ord;
END
$fn$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DROP FUNCTION allocate_jobs(jsonb);
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION allocate_jobs(reqs jsonb)
RETURNS TABLE (
    request_id            text,
    eco_id                uuid,
    outcome               text,     -- 'created' | 'rejected'
    reason                text,     -- machine-readable rejection reason, NULL when created
    detail                text,
    number                bigint,
    job_number            text,
    allocated_at          timestamptz,
    redelivered           boolean,  -- true when the request already had its number
    loop_count            integer,  -- the NOC's policy, NULL when it has none
    retry_after_seconds   integer,
    max_retries           integer,
    failover_osp_ids      text[],
    ring_duration_seconds integer,
    original              jsonb     -- the stored request of an existing allocation, NULL for a new one
) LANGUAGE plpgsql
-- The batch statement is large; planning it afresh for each call costs more than running it on a
-- small batch. Its shape never depends on the data, so one generic plan per connection serves.
SET plan_cache_mode = force_generic_plan
AS $fn$
BEGIN
    -- Every OSP in the batch gets a counter row, then all of them are locked in one fixed order.
    -- Two processors holding overlapping batches (a zombie and the partition's new owner) then
    -- serialise here instead of deadlocking. The statement below takes a fresh snapshot after
    -- the lock is granted, so the second one sees the first one's allocations.
    INSERT INTO job_counters (osp_tenant_id)
    SELECT o.id FROM osp_tenants o
    WHERE o.id IN (SELECT DISTINCT x->>'osp_tenant_id' FROM jsonb_array_elements(reqs) x)
    ON CONFLICT DO NOTHING;
    PERFORM 1 FROM job_counters c
    WHERE c.osp_tenant_id IN (SELECT DISTINCT x->>'osp_tenant_id' FROM jsonb_array_elements(reqs) x)
    ORDER BY c.osp_tenant_id
    FOR UPDATE;

    -- One set-based statement decides the whole batch; the per-request rules are the CASE below,
    -- checked in this order: request id already used by this NOC for another request, unknown
    -- NOC, unknown OSP, link not active, no roster for the region, failover OSP without an
    -- active link. A request id is the NOC's: another NOC's use of it is never looked at.
    RETURN QUERY
    WITH input AS (
        SELECT x.ord, x.r->>'request_id' AS rid, (x.r->>'eco_id')::uuid AS eco,
               x.r->>'noc_tenant_id' AS noc_id, x.r->>'osp_tenant_id' AS osp_id, x.r->>'region' AS region,
               coalesce(x.r->'failover_osp_ids', '[]'::jsonb) AS failover,
               x.r->'request' AS request
        FROM jsonb_array_elements(reqs) WITH ORDINALITY AS x(r, ord)
    ),
    -- The first occurrence of a NOC's request id in this batch decides for later ones.
    firsts AS (
        SELECT DISTINCT ON (i.noc_id, i.rid) i.rid, i.ord, i.noc_id, i.osp_id, i.request
        FROM input i ORDER BY i.noc_id, i.rid, i.ord
    ),
    checked AS (
        SELECT i.*, a.request_id IS NOT NULL AS had, a.eco_id AS a_eco, a.number AS a_number,
               a.job_number AS a_job, a.allocated_at AS a_at, a.request AS a_request,
               f.request AS first_request,
               -- Another body under the same id: requested_at (when the requester asked) aside, a
               -- redelivery is the same document. Allocations stored before their request was
               -- (request NULL) compare by OSP only.
               (a.request_id IS NOT NULL AND (a.osp_tenant_id <> i.osp_id
                   OR (a.request IS NOT NULL AND (a.request - 'requested_at') IS DISTINCT FROM (i.request - 'requested_at'))))
                 OR (f.ord <> i.ord AND (f.osp_id <> i.osp_id
                   OR (f.request - 'requested_at') IS DISTINCT FROM (i.request - 'requested_at'))) AS conflict,
               f.ord <> i.ord AS repeat,
               n.id IS NOT NULL AS noc_ok, n.code AS noc_code,
               o.id IS NOT NULL AS osp_ok, o.job_prefix, o.job_template,
               l.status AS link_status,
               EXISTS (SELECT 1 FROM roster_contacts rc WHERE rc.osp_tenant_id = i.osp_id AND rc.region = i.region) AS roster_ok,
               (SELECT fo FROM jsonb_array_elements_text(i.failover) fo
                WHERE fo = i.osp_id OR NOT EXISTS (
                    SELECT 1 FROM noc_osp_links fl
                    WHERE fl.noc_tenant_id = i.noc_id AND fl.osp_tenant_id = fo AND fl.status = 'active')
                LIMIT 1) AS bad_failover
        FROM input i
        JOIN firsts f ON f.noc_id = i.noc_id AND f.rid = i.rid
        LEFT JOIN job_allocations a ON a.noc_tenant_id = i.noc_id AND a.request_id = i.rid
        LEFT JOIN noc_tenants n ON n.id = i.noc_id
        LEFT JOIN osp_tenants o ON o.id = i.osp_id
        LEFT JOIN noc_osp_links l ON l.noc_tenant_id = i.noc_id AND l.osp_tenant_id = i.osp_id
    ),
    own AS (
        SELECT c.*,
            CASE
                WHEN c.conflict THEN 'request_id_conflict'
                WHEN c.had THEN NULL
                WHEN NOT c.noc_ok THEN 'unknown_noc'
                WHEN NOT c.osp_ok THEN 'unknown_osp'
                WHEN c.link_status IS DISTINCT FROM 'active' THEN 'link_not_active'
                WHEN NOT c.roster_ok THEN 'no_roster_for_region'
                WHEN c.bad_failover IS NOT NULL THEN 'failover_link_not_active'
            END AS own_why
        FROM checked c
    ),
    -- A repeat of a request id inside the batch gets its first occurrence's decision.
    decided AS (
        SELECT o.*, CASE WHEN o.repeat AND NOT o.conflict THEN first.own_why ELSE o.own_why END AS why
        FROM own o JOIN firsts f ON f.noc_id = o.noc_id AND f.rid = o.rid JOIN own first ON first.ord = f.ord
    ),
    -- New numbers, per OSP, in batch order, after the locked counter.
    fresh AS (
        SELECT d.ord, d.rid, d.eco, d.noc_id, d.osp_id, d.request,
               k.last_number + row_number() OVER (PARTITION BY d.osp_id ORDER BY d.ord) AS num,
               render_job_number(d.job_template, d.job_prefix, d.noc_code,
                   k.last_number + row_number() OVER (PARTITION BY d.osp_id ORDER BY d.ord),
                   extract(year FROM now() AT TIME ZONE 'UTC')::int) AS job
        FROM decided d JOIN job_counters k ON k.osp_tenant_id = d.osp_id
        WHERE d.why IS NULL AND NOT d.had AND NOT d.repeat
    ),
    inserted AS (
        INSERT INTO job_allocations (request_id, eco_id, noc_tenant_id, osp_tenant_id, number, job_number, allocated_at, request)
        SELECT fr.rid, fr.eco, fr.noc_id, fr.osp_id, fr.num, fr.job, now(), fr.request FROM fresh fr
        RETURNING job_allocations.request_id
    ),
    bumped AS (
        UPDATE job_counters k SET last_number = k.last_number + g.n
        FROM (SELECT fr.osp_id, count(*) AS n FROM fresh fr GROUP BY fr.osp_id) g
        WHERE k.osp_tenant_id = g.osp_id
        RETURNING k.osp_tenant_id
    )
    SELECT d.rid,
           -- A conflict never names the ECO the id already has (the processor gives the refusal
           -- an id of its own), so it cannot touch that ECO.
           CASE WHEN d.why = 'request_id_conflict' THEN d.eco ELSE coalesce(d.a_eco, fr.eco, fr1.eco, d.eco) END,
           CASE WHEN d.why IS NULL THEN 'created' ELSE 'rejected' END,
           d.why,
           CASE d.why
               WHEN 'request_id_conflict' THEN format('request_id %s was already used by NOC %s for a different request', d.rid, d.noc_id)
               WHEN 'unknown_noc' THEN format('NOC tenant %L does not exist', d.noc_id)
               WHEN 'unknown_osp' THEN format('OSP tenant %L does not exist', d.osp_id)
               WHEN 'link_not_active' THEN format('link %s -> %s is %s', d.noc_id, d.osp_id, coalesce(d.link_status, 'missing'))
               WHEN 'no_roster_for_region' THEN format('OSP %s has no roster contacts for region %L', d.osp_id, d.region)
               WHEN 'failover_link_not_active' THEN format('failover OSP %L is the primary OSP or has no active link to %s', d.bad_failover, d.noc_id)
           END,
           CASE WHEN d.why IS NULL THEN coalesce(d.a_number, fr.num, fr1.num) END,
           CASE WHEN d.why IS NULL THEN coalesce(d.a_job, fr.job, fr1.job) END,
           CASE WHEN d.why IS NULL THEN coalesce(d.a_at, now()) END,
           d.had OR (d.repeat AND d.why IS NULL),
           p.loop_count, p.retry_after_seconds, p.max_retries, p.failover_osp_ids, p.ring_duration_seconds,
           CASE WHEN d.why IS NULL AND d.had THEN d.a_request
                WHEN d.why IS NULL AND d.repeat THEN d.first_request END
    FROM decided d
    LEFT JOIN fresh fr ON fr.ord = d.ord
    -- A repeat inside the batch takes the number its first occurrence just got.
    LEFT JOIN firsts f ON f.noc_id = d.noc_id AND f.rid = d.rid
    LEFT JOIN fresh fr1 ON fr1.ord = f.ord AND d.repeat
    LEFT JOIN noc_callout_policies p ON p.noc_tenant_id = d.noc_id
    ORDER BY d.ord;
END
$fn$;
-- +goose StatementEnd
