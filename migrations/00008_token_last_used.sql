-- API tokens record when they were last used (at most once a minute per token, so a busy token
-- does not write on every request), for `GET /v1/me/tokens` and `strike admin token list`.
-- Tokens issued from now on expire (default 90 days, gateway.DefaultTokenTTL); tokens issued
-- before this migration keep expires_at NULL and are listed as never expiring until revoked.

-- +goose Up
ALTER TABLE api_tokens ADD COLUMN last_used_at timestamptz;

-- +goose Down
ALTER TABLE api_tokens DROP COLUMN last_used_at;
