-- Browser sign-in (issue 12): a password per user and server-side sessions.
--
-- password_hash is an argon2id PHC string (producers/gateway/web); NULL means the user cannot
-- sign in with a password (API tokens still work). password_dev marks a password derived from
-- strike dev's public seed: a gateway outside `strike dev` refuses it, like stk_dev_ tokens.
-- A session row stores only the SHA-256 of the cookie's random value, and the CSRF token every
-- form of that session must carry. The gateway's role (00010) reads and writes sessions, and
-- reads job counters for the system configuration page's next-number preview.

-- +goose Up
ALTER TABLE users ADD COLUMN password_hash text, ADD COLUMN password_dev boolean NOT NULL DEFAULT false;

CREATE TABLE web_sessions (
    id_sha256     bytea PRIMARY KEY CHECK (length(id_sha256) = 32),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);

-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %1$s.web_sessions TO strike_gateway', quote_ident(current_schema()));
    EXECUTE format('GRANT SELECT ON %1$s.job_counters TO strike_gateway', quote_ident(current_schema()));
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
BEGIN
    EXECUTE format('REVOKE SELECT ON %1$s.job_counters FROM strike_gateway', quote_ident(current_schema()));
END
$$;
-- +goose StatementEnd
DROP TABLE web_sessions;
ALTER TABLE users DROP COLUMN password_dev, DROP COLUMN password_hash;
