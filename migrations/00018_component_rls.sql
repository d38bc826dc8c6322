-- The last tables with tenants' rows that no API role reads force row-level security too (issue
-- 10): job allocations and the OSPs' Render instances, their poll state and dispatch queue. Each
-- component that works on every tenant's rows has a policy saying so; the grants of 00010 still
-- say what it may do with them:
--   strike_eco_processor  job_allocations (allocate_jobs numbers and reads them);
--   strike_render_poller  job_allocations and render_instances (read), render_poll_state and
--                         render_dispatches (its leases and queue);
--   strike_migrate        the owner's role: `strike admin render`, `strike status`.
-- The gateway has no grant on any of them. Tables the gateway must read before it knows the
-- tenant (memberships, noc_osp_links, job_counters) stay without (internal/pg/roles_test.go).
-- Idempotent, current_schema() as in 00010.

-- +goose Up
-- +goose StatementBegin
DO $$
DECLARE
    s text := quote_ident(current_schema());
    t text;
    p text;
BEGIN
    FOREACH t IN ARRAY ARRAY['job_allocations', 'render_instances', 'render_poll_state', 'render_dispatches'] LOOP
        EXECUTE format('ALTER TABLE %s.%I ENABLE ROW LEVEL SECURITY', s, t);
        EXECUTE format('ALTER TABLE %s.%I FORCE ROW LEVEL SECURITY', s, t);
        FOREACH p IN ARRAY ARRAY['owner_all', 'eco_processor_all', 'render_poller_all', 'render_poller_read'] LOOP
            EXECUTE format('DROP POLICY IF EXISTS %I ON %s.%I', p, s, t);
        END LOOP;
        EXECUTE format('CREATE POLICY owner_all ON %s.%I FOR ALL TO strike_migrate USING (true) WITH CHECK (true)', s, t);
    END LOOP;
    EXECUTE format('CREATE POLICY eco_processor_all ON %s.job_allocations FOR ALL TO strike_eco_processor USING (true) WITH CHECK (true)', s);
    EXECUTE format('CREATE POLICY render_poller_read ON %s.job_allocations FOR SELECT TO strike_render_poller USING (true)', s);
    EXECUTE format('CREATE POLICY render_poller_read ON %s.render_instances FOR SELECT TO strike_render_poller USING (true)', s);
    FOREACH t IN ARRAY ARRAY['render_poll_state', 'render_dispatches'] LOOP
        EXECUTE format('CREATE POLICY render_poller_all ON %s.%I FOR ALL TO strike_render_poller USING (true) WITH CHECK (true)', s, t);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    s text := quote_ident(current_schema());
    t text;
    p text;
BEGIN
    FOREACH t IN ARRAY ARRAY['job_allocations', 'render_instances', 'render_poll_state', 'render_dispatches'] LOOP
        FOREACH p IN ARRAY ARRAY['owner_all', 'eco_processor_all', 'render_poller_all', 'render_poller_read'] LOOP
            EXECUTE format('DROP POLICY IF EXISTS %I ON %s.%I', p, s, t);
        END LOOP;
        EXECUTE format('ALTER TABLE %s.%I NO FORCE ROW LEVEL SECURITY', s, t);
        EXECUTE format('ALTER TABLE %s.%I DISABLE ROW LEVEL SECURITY', s, t);
    END LOOP;
END
$$;
-- +goose StatementEnd
