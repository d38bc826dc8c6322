-- An OSP admin removes a region's roster (DELETE /v1/osps/{osp}/rosters/{region}); its contacts,
-- their away windows and its rotation pointer go with it (ON DELETE CASCADE, run as the tables'
-- owner). Running ring-downs keep the roster they started with.

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE format('GRANT DELETE ON %1$s.rosters TO strike_gateway', quote_ident(current_schema()));
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE format('REVOKE DELETE ON %1$s.rosters FROM strike_gateway', quote_ident(current_schema()));
END
$$;
-- +goose StatementEnd
