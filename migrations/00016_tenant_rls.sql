-- Row-level security on the tenants' own configuration (issue 10): the OSPs' rosters (contacts,
-- away windows, rotation) and the NOCs' callout policies. Like the projections (00010), the
-- tables FORCE row-level security and each role that reads them has a policy saying which rows:
--   strike_api_osp    its OSP's rosters, read and write (the gateway's OSP tenant transaction);
--   strike_api_noc    its NOC's policy, read (the create form);
--   strike_api_admin  every tenant's rosters and policies: the system-admin routes, entered by
--                     the gateway with SET LOCAL ROLE like the two above (strike_gateway holds
--                     none of these rights outside such a transaction: NOINHERIT);
--   strike_dialer     every roster and rotation pointer: it rings down any OSP's roster;
--   strike_eco_processor  every roster's contacts and policy: allocate_jobs checks them;
--   strike_migrate    the owner's role (`strike dev` seeding, operator tools).
-- strike_gateway itself loses its direct grants on these tables. ON DELETE CASCADE from a
-- roster to its contacts, away windows and pointer runs as the owner and is not held back.
-- Idempotent as 00010: the role is cluster-wide, grants and policies name current_schema().

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'strike_api_admin') THEN
        BEGIN
            CREATE ROLE strike_api_admin NOLOGIN NOINHERIT NOBYPASSRLS;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- another schema's migration created it concurrently
        END;
    END IF;
    IF NOT pg_has_role('strike_gateway', 'strike_api_admin', 'MEMBER') THEN
        BEGIN
            GRANT strike_api_admin TO strike_gateway;
        EXCEPTION WHEN unique_violation THEN
            NULL; -- granted concurrently
        END;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
DECLARE
    s text := quote_ident(current_schema());
    osp_pred text := $p$osp_tenant_id = current_setting('strike.tenant_id', true)$p$;
    noc_pred text := $p$noc_tenant_id = current_setting('strike.tenant_id', true)$p$;
    t text;
    p text;
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %s TO strike_api_admin, strike_api_osp, strike_api_noc', s);
    EXECUTE format('REVOKE ALL ON %1$s.rosters, %1$s.roster_contacts, %1$s.roster_unavailability, %1$s.roster_rotation, '
        '%1$s.noc_callout_policies FROM strike_gateway', s);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %1$s.rosters, %1$s.roster_contacts, %1$s.roster_unavailability '
        'TO strike_api_osp, strike_api_admin', s);
    EXECUTE format('GRANT SELECT ON %1$s.roster_rotation TO strike_api_osp, strike_api_admin', s);
    EXECUTE format('GRANT SELECT ON %1$s.noc_callout_policies TO strike_api_noc', s);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %1$s.noc_callout_policies TO strike_api_admin', s);
    -- The admins' tenant list joins every NOC to its policy.
    EXECUTE format('GRANT SELECT ON %1$s.noc_tenants TO strike_api_admin', s);

    FOREACH t IN ARRAY ARRAY['rosters', 'roster_contacts', 'roster_unavailability', 'roster_rotation',
                             'roster_rotation_starts', 'noc_callout_policies'] LOOP
        EXECUTE format('ALTER TABLE %s.%I ENABLE ROW LEVEL SECURITY', s, t);
        EXECUTE format('ALTER TABLE %s.%I FORCE ROW LEVEL SECURITY', s, t);
        FOREACH p IN ARRAY ARRAY['osp_own', 'noc_read', 'admin_all', 'dialer_all', 'eco_processor_read', 'owner_all'] LOOP
            EXECUTE format('DROP POLICY IF EXISTS %I ON %s.%I', p, s, t);
        END LOOP;
        EXECUTE format('CREATE POLICY owner_all ON %s.%I FOR ALL TO strike_migrate USING (true) WITH CHECK (true)', s, t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['rosters', 'roster_contacts', 'roster_unavailability', 'roster_rotation'] LOOP
        EXECUTE format('CREATE POLICY osp_own ON %s.%I FOR ALL TO strike_api_osp USING (%s) WITH CHECK (%s)', s, t, osp_pred, osp_pred);
        EXECUTE format('CREATE POLICY admin_all ON %s.%I FOR ALL TO strike_api_admin USING (true) WITH CHECK (true)', s, t);
    END LOOP;
    -- The dialer's grants (00009, 00010) say what it may do; the policy says on every tenant's rows.
    FOREACH t IN ARRAY ARRAY['rosters', 'roster_contacts', 'roster_unavailability', 'roster_rotation', 'roster_rotation_starts'] LOOP
        EXECUTE format('CREATE POLICY dialer_all ON %s.%I FOR ALL TO strike_dialer USING (true) WITH CHECK (true)', s, t);
    END LOOP;
    EXECUTE format('CREATE POLICY eco_processor_read ON %s.roster_contacts FOR SELECT TO strike_eco_processor USING (true)', s);
    EXECUTE format('CREATE POLICY eco_processor_read ON %s.noc_callout_policies FOR SELECT TO strike_eco_processor USING (true)', s);
    EXECUTE format('CREATE POLICY noc_read ON %s.noc_callout_policies FOR SELECT TO strike_api_noc USING (%s)', s, noc_pred);
    EXECUTE format('CREATE POLICY admin_all ON %s.noc_callout_policies FOR ALL TO strike_api_admin USING (true) WITH CHECK (true)', s);
END
$$;
-- +goose StatementEnd

-- +goose Down
-- The role is cluster-wide and other schemas may use it: it stays.
-- +goose StatementBegin
DO $$
DECLARE
    s text := quote_ident(current_schema());
    t text;
    p text;
BEGIN
    FOREACH t IN ARRAY ARRAY['rosters', 'roster_contacts', 'roster_unavailability', 'roster_rotation',
                             'roster_rotation_starts', 'noc_callout_policies'] LOOP
        FOREACH p IN ARRAY ARRAY['osp_own', 'noc_read', 'admin_all', 'dialer_all', 'eco_processor_read', 'owner_all'] LOOP
            EXECUTE format('DROP POLICY IF EXISTS %I ON %s.%I', p, s, t);
        END LOOP;
        EXECUTE format('ALTER TABLE %s.%I NO FORCE ROW LEVEL SECURITY', s, t);
        EXECUTE format('ALTER TABLE %s.%I DISABLE ROW LEVEL SECURITY', s, t);
    END LOOP;
    EXECUTE format('REVOKE ALL ON %1$s.rosters, %1$s.roster_contacts, %1$s.roster_unavailability, %1$s.roster_rotation, '
        '%1$s.noc_callout_policies, %1$s.noc_tenants FROM strike_api_admin', s);
    EXECUTE format('REVOKE ALL ON %1$s.rosters, %1$s.roster_contacts, %1$s.roster_unavailability, %1$s.roster_rotation '
        'FROM strike_api_osp', s);
    EXECUTE format('REVOKE ALL ON %1$s.noc_callout_policies FROM strike_api_noc', s);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE ON %1$s.rosters, %1$s.noc_callout_policies TO strike_gateway', s);
    EXECUTE format('GRANT SELECT, INSERT, DELETE ON %1$s.roster_contacts TO strike_gateway', s);
    EXECUTE format('GRANT DELETE ON %1$s.rosters TO strike_gateway', s);
    EXECUTE format('GRANT SELECT, INSERT ON %1$s.roster_unavailability TO strike_gateway', s);
    EXECUTE format('GRANT SELECT ON %1$s.roster_rotation TO strike_gateway', s);
END
$$;
-- +goose StatementEnd
