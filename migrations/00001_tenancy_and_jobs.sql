-- Tenancy, rosters, callout policies and per-OSP job numbering: the tables the ECO spine needs.
-- Tenant ids are short slugs (what NOC tools put in keys and URLs); codes and prefixes are what
-- job-number templates print.

-- +goose Up
CREATE TABLE noc_tenants (
    id                     text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name                   text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- Printed by {noc} in job-number templates.
    code                   text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9]{1,12}$'),
    -- NOC-scoped, Strike-owned Twilio context: calls for this NOC's ECOs go out under this
    -- subaccount with this caller id. No NOC credentials are stored anywhere.
    twilio_subaccount_sid  text CHECK (twilio_subaccount_sid ~ '^AC[0-9a-f]{32}$'),
    caller_id              text CHECK (caller_id ~ '^\+[1-9][0-9]{6,14}$'),
    created_at             timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE osp_tenants (
    id            text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    job_prefix    text NOT NULL CHECK (job_prefix ~ '^[A-Z0-9]{1,12}$'),
    -- Validated in Go (internal/jobnumber) with a readable error when saved; this CHECK is the
    -- backstop for anything that writes SQL directly. It mirrors jobnumber.Validate.
    job_template  text NOT NULL DEFAULT '{prefix}-{noc}-{num:5}-{year}'
                  CHECK (job_template ~ '^([^{}]|\{(prefix|noc|year|num(:[1-9][0-9]?)?)\})*$'
                         AND job_template ~ '\{num(:[1-9][0-9]?)?\}'
                         AND length(job_template) <= 100),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- The link decides whether NEW work may be created between a NOC and an OSP. It never decides
-- whether old work is visible: ECOs carry both tenant ids themselves.
CREATE TABLE noc_osp_links (
    noc_tenant_id  text NOT NULL REFERENCES noc_tenants (id),
    osp_tenant_id  text NOT NULL REFERENCES osp_tenants (id),
    status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'removed')),
    is_default     boolean NOT NULL DEFAULT false,
    metadata       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (noc_tenant_id, osp_tenant_id)
);
CREATE UNIQUE INDEX noc_osp_links_one_default ON noc_osp_links (noc_tenant_id) WHERE is_default;
CREATE INDEX noc_osp_links_osp ON noc_osp_links (osp_tenant_id);

-- Per-OSP job numbering. A counter row, not a SEQUENCE: sequences leave gaps on rollback and
-- numbers here must be contiguous. last_number is the last number handed out.
CREATE TABLE job_counters (
    osp_tenant_id  text PRIMARY KEY REFERENCES osp_tenants (id),
    last_number    bigint NOT NULL DEFAULT 0 CHECK (last_number >= 0)
);

-- One row per request that was given a number. Unique on request_id so a redelivered request
-- gets the number it already had; unique on (OSP, number) so no number is ever given twice.
CREATE TABLE job_allocations (
    request_id     text PRIMARY KEY,
    eco_id         uuid NOT NULL UNIQUE,
    noc_tenant_id  text NOT NULL REFERENCES noc_tenants (id),
    osp_tenant_id  text NOT NULL REFERENCES osp_tenants (id),
    number         bigint NOT NULL CHECK (number > 0),
    job_number     text NOT NULL,
    allocated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (osp_tenant_id, number)
);

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL UNIQUE CHECK (email ~ '^[^@\s]+@[^@\s]+$'),
    display_name  text NOT NULL DEFAULT '',
    -- A system admin is an explicit role, checked as such; NULL means an ordinary user.
    system_role   text CHECK (system_role IN ('admin')),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- user × tenant kind × tenant × role. Exactly one of the two tenant columns is set, so each
-- membership has a real foreign key.
CREATE TABLE memberships (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_kind    text NOT NULL CHECK (tenant_kind IN ('noc', 'osp')),
    noc_tenant_id  text REFERENCES noc_tenants (id),
    osp_tenant_id  text REFERENCES osp_tenants (id),
    role           text NOT NULL CHECK (role IN ('admin', 'operator', 'agent', 'viewer')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((tenant_kind = 'noc' AND noc_tenant_id IS NOT NULL AND osp_tenant_id IS NULL)
        OR (tenant_kind = 'osp' AND osp_tenant_id IS NOT NULL AND noc_tenant_id IS NULL))
);
CREATE UNIQUE INDEX memberships_unique ON memberships (user_id, tenant_kind, coalesce(noc_tenant_id, osp_tenant_id));

-- OSP-owned on-call rosters, one per region, contacts called in position order.
CREATE TABLE rosters (
    osp_tenant_id  text NOT NULL REFERENCES osp_tenants (id),
    region         text NOT NULL CHECK (region ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name           text NOT NULL DEFAULT '',
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (osp_tenant_id, region)
);

CREATE TABLE roster_contacts (
    osp_tenant_id  text NOT NULL,
    region         text NOT NULL,
    position       integer NOT NULL CHECK (position >= 1),
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    phone          text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    -- Position of the contact this one stands in for, if a substitute.
    substitute_for integer,
    PRIMARY KEY (osp_tenant_id, region, position),
    FOREIGN KEY (osp_tenant_id, region) REFERENCES rosters (osp_tenant_id, region) ON DELETE CASCADE
);

-- NOC engagement intent. Strike's guardrails (loop-count and ring-duration bounds) live in
-- configuration and bound both these values and per-request overrides.
CREATE TABLE noc_callout_policies (
    noc_tenant_id          text PRIMARY KEY REFERENCES noc_tenants (id),
    loop_count             integer NOT NULL DEFAULT 2 CHECK (loop_count BETWEEN 1 AND 10),
    retry_after_seconds    integer NOT NULL DEFAULT 1200 CHECK (retry_after_seconds BETWEEN 0 AND 86400),
    max_retries            integer NOT NULL DEFAULT 1 CHECK (max_retries BETWEEN 0 AND 10),
    -- Tried in order after the primary OSP is exhausted; only OSPs with an active link count.
    failover_osp_ids       text[] NOT NULL DEFAULT '{}',
    ring_duration_seconds  integer CHECK (ring_duration_seconds BETWEEN 5 AND 120),
    updated_at             timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE noc_callout_policies;
DROP TABLE roster_contacts;
DROP TABLE rosters;
DROP TABLE memberships;
DROP TABLE users;
DROP TABLE job_allocations;
DROP TABLE job_counters;
DROP TABLE noc_osp_links;
DROP TABLE osp_tenants;
DROP TABLE noc_tenants;
