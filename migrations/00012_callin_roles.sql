-- Call-in acceptance (issue 13): the Twilio webhooks (strike_callbacks) recognise the NOC whose
-- Strike number was dialled (noc_tenants.caller_id) and read that NOC's open ECOs and call
-- attempts as the NOC's API role, so row-level security holds the read to that NOC's rows, as
-- for the gateway's API (strike_callbacks stays NOINHERIT: outside such a transaction it holds
-- only its own grants).

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE format('GRANT SELECT (caller_id) ON %s.noc_tenants TO strike_callbacks', quote_ident(current_schema()));
    IF NOT pg_has_role('strike_callbacks', 'strike_api_noc', 'MEMBER') THEN
        BEGIN
            GRANT strike_api_noc TO strike_callbacks;
        EXCEPTION WHEN unique_violation THEN
            NULL; -- granted concurrently by another schema's migration
        END;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- The role membership is cluster-wide and other schemas may rely on it: it stays.
-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE format('REVOKE SELECT (caller_id) ON %s.noc_tenants FROM strike_callbacks', quote_ident(current_schema()));
END
$$;
-- +goose StatementEnd
