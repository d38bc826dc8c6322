-- HTTP intake idempotency rows (intake_requests) are the NOC's own (issue 10): they FORCE
-- row-level security like the rosters (00016). The gateway records and re-reads a request id in
-- the NOC's tenant transaction as strike_api_noc, whose policy holds it to the NOC's rows;
-- strike_gateway loses its direct grant. The owner's role keeps every row (operator tools).

-- +goose Up
-- +goose StatementBegin
DO $$
DECLARE
    s text := quote_ident(current_schema());
    noc_pred text := $p$noc_tenant_id = current_setting('strike.tenant_id', true)$p$;
    p text;
BEGIN
    EXECUTE format('REVOKE ALL ON %s.intake_requests FROM strike_gateway', s);
    EXECUTE format('GRANT SELECT, INSERT ON %s.intake_requests TO strike_api_noc', s);
    EXECUTE format('ALTER TABLE %s.intake_requests ENABLE ROW LEVEL SECURITY', s);
    EXECUTE format('ALTER TABLE %s.intake_requests FORCE ROW LEVEL SECURITY', s);
    FOREACH p IN ARRAY ARRAY['noc_own', 'owner_all'] LOOP
        EXECUTE format('DROP POLICY IF EXISTS %I ON %s.intake_requests', p, s);
    END LOOP;
    EXECUTE format('CREATE POLICY noc_own ON %s.intake_requests FOR ALL TO strike_api_noc USING (%s) WITH CHECK (%s)', s, noc_pred, noc_pred);
    EXECUTE format('CREATE POLICY owner_all ON %s.intake_requests FOR ALL TO strike_migrate USING (true) WITH CHECK (true)', s);
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    s text := quote_ident(current_schema());
BEGIN
    EXECUTE format('DROP POLICY IF EXISTS noc_own ON %s.intake_requests', s);
    EXECUTE format('DROP POLICY IF EXISTS owner_all ON %s.intake_requests', s);
    EXECUTE format('ALTER TABLE %s.intake_requests NO FORCE ROW LEVEL SECURITY', s);
    EXECUTE format('ALTER TABLE %s.intake_requests DISABLE ROW LEVEL SECURITY', s);
    EXECUTE format('REVOKE ALL ON %s.intake_requests FROM strike_api_noc', s);
    EXECUTE format('GRANT SELECT, INSERT ON %s.intake_requests TO strike_gateway', s);
END
$$;
-- +goose StatementEnd
