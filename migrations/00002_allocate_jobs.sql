-- allocate_jobs decides a whole batch of ECO requests in one round trip: for each request, in
-- array order (= partition order), either the number it already had, a business rejection, or
-- the OSP's next job number. See consumers/ecoprocessor for the Kafka side.

-- +goose Up
-- +goose StatementBegin

-- render_job_number mirrors internal/jobnumber.Render; a test runs the same golden table through
-- both. {num:N} pads to width N and never truncates a wider number.
CREATE FUNCTION render_job_number(template text, prefix text, noc text, num bigint, year integer)
RETURNS text LANGUAGE plpgsql IMMUTABLE STRICT AS $fn$
DECLARE
    out   text := '';
    rest  text := template;
    m     text[];
BEGIN
    LOOP
        m := regexp_match(rest, '^([^{]*)\{(prefix|noc|year|num)(?::([0-9]+))?\}(.*)$');
        IF m IS NULL THEN
            RETURN out || rest;
        END IF;
        out := out || m[1] || CASE m[2]
            WHEN 'prefix' THEN prefix
            WHEN 'noc' THEN noc
            WHEN 'year' THEN year::text
            ELSE lpad(num::text, greatest(coalesce(m[3]::int, 0), length(num::text)), '0')
        END;
        rest := m[4];
    END LOOP;
END
$fn$;

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
    ring_duration_seconds integer
) LANGUAGE plpgsql AS $fn$
DECLARE
    r         jsonb;
    alloc     job_allocations%ROWTYPE;
    noc       noc_tenants%ROWTYPE;
    osp       osp_tenants%ROWTYPE;
    pol       noc_callout_policies%ROWTYPE;
    lstatus   text;
    bad       text;
    n         bigint;
BEGIN
    -- Every OSP in the batch gets a counter row, then all of them are locked in one fixed order.
    -- Two processors holding overlapping batches (a zombie and the partition's new owner) then
    -- serialise here instead of deadlocking, and the second sees the first's allocations below.
    INSERT INTO job_counters (osp_tenant_id)
    SELECT o.id FROM osp_tenants o
    WHERE o.id IN (SELECT DISTINCT x->>'osp_tenant_id' FROM jsonb_array_elements(reqs) x)
    ON CONFLICT DO NOTHING;
    PERFORM 1 FROM job_counters c
    WHERE c.osp_tenant_id IN (SELECT DISTINCT x->>'osp_tenant_id' FROM jsonb_array_elements(reqs) x)
    ORDER BY c.osp_tenant_id
    FOR UPDATE;

    FOR r IN SELECT value FROM jsonb_array_elements(reqs) LOOP
        request_id := r->>'request_id';
        eco_id := (r->>'eco_id')::uuid;
        outcome := 'rejected'; reason := NULL; detail := NULL; number := NULL; job_number := NULL;
        allocated_at := NULL; redelivered := false;
        loop_count := NULL; retry_after_seconds := NULL; max_retries := NULL;
        failover_osp_ids := NULL; ring_duration_seconds := NULL;

        SELECT * INTO pol FROM noc_callout_policies p WHERE p.noc_tenant_id = r->>'noc_tenant_id';
        IF FOUND THEN
            loop_count := pol.loop_count; retry_after_seconds := pol.retry_after_seconds;
            max_retries := pol.max_retries; failover_osp_ids := pol.failover_osp_ids;
            ring_duration_seconds := pol.ring_duration_seconds;
        END IF;

        -- A redelivered request keeps its number whatever has changed since (a suspended link,
        -- a new template): the first decision was durable, so it stands.
        SELECT * INTO alloc FROM job_allocations a WHERE a.request_id = r->>'request_id';
        IF FOUND THEN
            IF alloc.noc_tenant_id <> r->>'noc_tenant_id' OR alloc.osp_tenant_id <> r->>'osp_tenant_id' THEN
                reason := 'request_id_conflict';
                detail := 'request_id was already used for a different NOC/OSP pair';
            ELSE
                outcome := 'created'; eco_id := alloc.eco_id; number := alloc.number;
                job_number := alloc.job_number; allocated_at := alloc.allocated_at; redelivered := true;
            END IF;
            RETURN NEXT;
            CONTINUE;
        END IF;

        SELECT * INTO noc FROM noc_tenants t WHERE t.id = r->>'noc_tenant_id';
        IF NOT FOUND THEN
            reason := 'unknown_noc'; detail := format('NOC tenant %L does not exist', r->>'noc_tenant_id');
            RETURN NEXT; CONTINUE;
        END IF;
        SELECT * INTO osp FROM osp_tenants t WHERE t.id = r->>'osp_tenant_id';
        IF NOT FOUND THEN
            reason := 'unknown_osp'; detail := format('OSP tenant %L does not exist', r->>'osp_tenant_id');
            RETURN NEXT; CONTINUE;
        END IF;
        SELECT l.status INTO lstatus FROM noc_osp_links l
        WHERE l.noc_tenant_id = noc.id AND l.osp_tenant_id = osp.id;
        IF lstatus IS DISTINCT FROM 'active' THEN
            reason := 'link_not_active';
            detail := format('link %s -> %s is %s', noc.id, osp.id, coalesce(lstatus, 'missing'));
            RETURN NEXT; CONTINUE;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM roster_contacts c
                       WHERE c.osp_tenant_id = osp.id AND c.region = r->>'region') THEN
            reason := 'no_roster_for_region';
            detail := format('OSP %s has no roster contacts for region %L', osp.id, r->>'region');
            RETURN NEXT; CONTINUE;
        END IF;
        SELECT f INTO bad FROM jsonb_array_elements_text(coalesce(r->'failover_osp_ids', '[]'::jsonb)) f
        WHERE f = osp.id OR NOT EXISTS (
            SELECT 1 FROM noc_osp_links l
            WHERE l.noc_tenant_id = noc.id AND l.osp_tenant_id = f AND l.status = 'active')
        LIMIT 1;
        IF bad IS NOT NULL THEN
            reason := 'failover_link_not_active';
            detail := format('failover OSP %L is the primary OSP or has no active link to %s', bad, noc.id);
            bad := NULL;
            RETURN NEXT; CONTINUE;
        END IF;

        UPDATE job_counters c SET last_number = c.last_number + 1
        WHERE c.osp_tenant_id = osp.id RETURNING c.last_number INTO n;
        outcome := 'created'; number := n; allocated_at := now();
        job_number := render_job_number(osp.job_template, osp.job_prefix, noc.code, n,
                                        extract(year FROM allocated_at AT TIME ZONE 'UTC')::int);
        INSERT INTO job_allocations AS a (request_id, eco_id, noc_tenant_id, osp_tenant_id, number, job_number, allocated_at)
        VALUES (request_id, eco_id, noc.id, osp.id, n, job_number, allocated_at);
        RETURN NEXT;
    END LOOP;
END
$fn$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION allocate_jobs(jsonb);
DROP FUNCTION render_job_number(text, text, text, bigint, integer);
