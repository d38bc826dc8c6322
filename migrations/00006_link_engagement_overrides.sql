-- Per-link engagement overrides: a NOC may ask for a different loop count, retry-after, retries or
-- ring duration with one OSP than its policy says (say, more passes with a small contractor).
-- NULL keeps the NOC's policy. Strike's guardrails still bound the result (internal/engagement).

-- +goose Up
ALTER TABLE noc_osp_links
    ADD COLUMN loop_count            integer CHECK (loop_count BETWEEN 1 AND 10),
    ADD COLUMN retry_after_seconds   integer CHECK (retry_after_seconds BETWEEN 0 AND 86400),
    ADD COLUMN max_retries           integer CHECK (max_retries BETWEEN 0 AND 10),
    ADD COLUMN ring_duration_seconds integer CHECK (ring_duration_seconds BETWEEN 5 AND 120);

-- +goose Down
ALTER TABLE noc_osp_links
    DROP COLUMN loop_count,
    DROP COLUMN retry_after_seconds,
    DROP COLUMN max_retries,
    DROP COLUMN ring_duration_seconds;
