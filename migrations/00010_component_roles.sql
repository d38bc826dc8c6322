-- One PostgreSQL role per component, holding only the grants that component needs (DESIGN §5).
-- The roles are NOLOGIN: an operator makes one login role per component and grants it the
-- component's role (docs/runbooks/database-roles.md); `strike dev` does that itself. The table
-- owner is whoever runs `strike migrate`, a member of strike_migrate; no component is an owner
-- and none has BYPASSRLS, and the projection tables FORCE row-level security, so even their
-- owner reads them only through a policy.
--
-- Roles are cluster-wide and tests migrate many schemas in one cluster: roles are created
-- idempotently, grants and policies name current_schema(). A migration that adds a table grants
-- each component what it needs of it here, in the same style.

-- +goose Up
-- +goose StatementBegin
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['strike_migrate', 'strike_gateway', 'strike_callbacks', 'strike_eco_processor',
                             'strike_dialer', 'strike_sink', 'strike_render_poller'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                -- NOINHERIT: a member of these roles holds only the role's own grants, never those of
                -- roles it may SET ROLE to (the gateway's strike_api_noc/strike_api_osp below).
                EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT NOBYPASSRLS', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- another migration in the same cluster created it concurrently
            END;
        END IF;
    END LOOP;
    -- The gateway enters strike_api_noc or strike_api_osp for each tenant transaction (SET LOCAL
    -- ROLE) and holds neither role's rights outside one (strike_gateway is NOINHERIT).
    FOREACH r IN ARRAY ARRAY['strike_api_noc', 'strike_api_osp'] LOOP
        IF NOT pg_has_role('strike_gateway', r, 'MEMBER') THEN
            BEGIN
                EXECUTE format('GRANT %I TO strike_gateway', r);
            EXCEPTION WHEN unique_violation THEN
                NULL; -- granted concurrently
            END;
        END IF;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
DECLARE
    s text := quote_ident(current_schema());
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %s TO strike_gateway, strike_callbacks, strike_eco_processor, '
        'strike_dialer, strike_sink, strike_render_poller', s);

    -- gateway: identity and tokens, HTTP intake idempotency, and the system-admin routes that
    -- write tenants, links, rosters and policies. Projections only through strike_api_noc/osp.
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %1$s.noc_tenants, %1$s.osp_tenants, %1$s.noc_osp_links, '
        '%1$s.rosters, %1$s.noc_callout_policies, %1$s.users, %1$s.api_tokens TO strike_gateway', s);
    EXECUTE format('GRANT SELECT, INSERT, DELETE ON %1$s.roster_contacts TO strike_gateway', s);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %1$s.memberships TO strike_gateway', s);
    EXECUTE format('GRANT INSERT ON %1$s.job_counters TO strike_gateway', s); -- a new OSP's counter row
    EXECUTE format('GRANT SELECT, INSERT ON %1$s.intake_requests TO strike_gateway', s);
    -- roster routes (00009): away windows are replaced with the roster (contacts cascade them).
    EXECUTE format('GRANT SELECT, INSERT ON %1$s.roster_unavailability TO strike_gateway', s);
    EXECUTE format('GRANT SELECT ON %1$s.roster_rotation TO strike_gateway', s);

    -- callbacks (Twilio webhooks): which subaccounts are NOCs', and whether an ECO is filled.
    EXECUTE format('GRANT SELECT (id, twilio_subaccount_sid) ON %1$s.noc_tenants TO strike_callbacks', s);
    EXECUTE format('GRANT SELECT (eco_id, accepted_count, people_needed) ON %1$s.eco_board TO strike_callbacks', s);

    -- eco-processor: allocate_jobs (runs with the caller's rights) reads tenants, links, rosters
    -- and policies and writes counters and allocations.
    EXECUTE format('GRANT SELECT ON %1$s.noc_tenants, %1$s.osp_tenants, %1$s.noc_osp_links, %1$s.roster_contacts, '
        '%1$s.noc_callout_policies TO strike_eco_processor', s);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %1$s.job_counters, %1$s.job_allocations TO strike_eco_processor', s);

    -- dialer: rosters, the NOC's Twilio context, link status at failover.
    EXECUTE format('GRANT SELECT ON %1$s.rosters, %1$s.roster_contacts, %1$s.noc_osp_links TO strike_dialer', s);
    EXECUTE format('GRANT SELECT (id, twilio_subaccount_sid, caller_id) ON %1$s.noc_tenants TO strike_dialer', s);
    -- away windows, and the rotation pointer it moves once per ECO (00009).
    EXECUTE format('GRANT SELECT ON %1$s.roster_unavailability TO strike_dialer', s);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %1$s.roster_rotation, %1$s.roster_rotation_starts TO strike_dialer', s);

    -- sink: the projections and its offsets (the projection tables' policies are below).
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %1$s.sink_offsets TO strike_sink', s);

    -- render-poller: its instances (read; admins write them as the owner), leases, replicas and
    -- the dispatch queue; allocations to find an ECO's job.
    EXECUTE format('GRANT SELECT ON %1$s.render_instances, %1$s.job_allocations TO strike_render_poller', s);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %1$s.render_poll_state, %1$s.render_dispatches TO strike_render_poller', s);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %1$s.render_poller_replicas TO strike_render_poller', s);
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- strike_secure_projections now also forces row-level security (so the owner is held to the
-- policies too) and gives the sink, the callbacks and the owner (strike_migrate: `strike sink
-- rebuild`, operator tools) their policies and grants. It stays idempotent, so the migration
-- re-applies it to the live tables and `strike sink rebuild` applies it to fresh ones.
CREATE OR REPLACE FUNCTION strike_secure_projections(target_schema text) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    noc_pred text := $p$noc_tenant_id = current_setting('strike.tenant_id', true)$p$;
    osp_pred text := $p$osp_tenant_id = current_setting('strike.tenant_id', true)$p$;
    t text;
    p text;
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO strike_api_noc, strike_api_osp, strike_sink, strike_callbacks', target_schema);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I.sink_offsets TO strike_sink', target_schema);
    FOREACH t IN ARRAY ARRAY['eco_board', 'eco_timeline', 'call_attempts'] LOOP
        EXECUTE format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY', target_schema, t);
        EXECUTE format('ALTER TABLE %I.%I FORCE ROW LEVEL SECURITY', target_schema, t);
        EXECUTE format('GRANT SELECT ON %I.%I TO strike_api_noc, strike_api_osp', target_schema, t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I.%I TO strike_sink', target_schema, t);
        FOREACH p IN ARRAY ARRAY['noc_read', 'osp_read', 'sink_write', 'owner_all'] LOOP
            EXECUTE format('DROP POLICY IF EXISTS %I ON %I.%I', p, target_schema, t);
        END LOOP;
        EXECUTE format('CREATE POLICY noc_read ON %I.%I FOR SELECT TO strike_api_noc USING (%s)', target_schema, t, noc_pred);
        -- The sink and the owner work on every tenant's rows: they are not tenant-scoped.
        EXECUTE format('CREATE POLICY sink_write ON %I.%I FOR ALL TO strike_sink USING (true) WITH CHECK (true)', target_schema, t);
        EXECUTE format('CREATE POLICY owner_all ON %I.%I FOR ALL TO strike_migrate USING (true) WITH CHECK (true)', target_schema, t);
    END LOOP;
    -- Rejected requests are the NOC's business only: the OSP never took that work on.
    EXECUTE format('CREATE POLICY osp_read ON %I.eco_board FOR SELECT TO strike_api_osp USING (%s AND status <> %L)',
        target_schema, osp_pred, 'rejected');
    EXECUTE format('CREATE POLICY osp_read ON %I.eco_timeline FOR SELECT TO strike_api_osp USING (%s AND type <> %L)',
        target_schema, osp_pred, 'strike.eco.rejected.v1');
    EXECUTE format('CREATE POLICY osp_read ON %I.call_attempts FOR SELECT TO strike_api_osp USING (%s)',
        target_schema, osp_pred);
    -- The webhooks' fill check reads three columns of any ECO's board row (column grant).
    EXECUTE format('DROP POLICY IF EXISTS callbacks_fill ON %I.eco_board', target_schema);
    EXECUTE format('CREATE POLICY callbacks_fill ON %I.eco_board FOR SELECT TO strike_callbacks USING (true)', target_schema);
    EXECUTE format('GRANT SELECT (eco_id, accepted_count, people_needed) ON %I.eco_board TO strike_callbacks', target_schema);
END
$fn$;
-- +goose StatementEnd

SELECT strike_secure_projections(current_schema());

-- +goose Down
-- Roles are cluster-wide and other schemas may use them: they stay. Grants go with the schema.
SELECT 1;
