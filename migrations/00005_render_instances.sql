-- Render instances (one or more per OSP), the poller's per-instance state (cursor and lease), the
-- poller replicas' heartbeats (for sharing instances evenly), and the dispatch queue that creates
-- each ECO's Render job exactly once in effect. See producers/renderpoller and
-- docs/operations.md ("The render-poller").

-- +goose Up
CREATE TABLE render_instances (
    -- A slug chosen by the admin, e.g. "acme-main"; unique across OSPs so one lease names one
    -- instance. It is bound into the secret's AAD, so it never changes.
    id                    text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    osp_tenant_id         text NOT NULL REFERENCES osp_tenants (id),
    base_url              text NOT NULL CHECK (base_url ~ '^https?://'),
    client_id             text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 256),
    -- "v1:<kid>:<nonce>:<ciphertext>" from internal/secrets, AAD = RenderSecretAAD(osp, id).
    -- Never the plaintext: a CHECK keeps a careless INSERT from storing one.
    client_secret_sealed  text NOT NULL CHECK (client_secret_sealed ~ '^v1:[A-Za-z0-9._-]{1,64}:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+$'),
    poll_interval_ms      integer NOT NULL DEFAULT 15000 CHECK (poll_interval_ms BETWEEN 100 AND 3600000),
    -- '' is the OSP's default instance; a region-specific instance wins for ECOs in its region.
    region                text NOT NULL DEFAULT '' CHECK (region = '' OR region ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    enabled               boolean NOT NULL DEFAULT true,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX render_instances_osp_region ON render_instances (osp_tenant_id, region);

-- One row per instance, created with it. The cursor is written only after the events of the
-- poll that produced it are durably in Kafka. owner/lease_until say which poller replica polls
-- the instance; a replica renews its leases every few seconds and another replica takes an
-- instance once its lease has lapsed.
CREATE TABLE render_poll_state (
    instance_id     text PRIMARY KEY REFERENCES render_instances (id) ON DELETE CASCADE,
    cursor          text NOT NULL DEFAULT '',
    owner           text,
    lease_until     timestamptz NOT NULL DEFAULT '-infinity',
    last_poll_at    timestamptz,
    last_result     text NOT NULL DEFAULT '',
    last_error      text NOT NULL DEFAULT '',
    failures        integer NOT NULL DEFAULT 0,
    cursor_saved_at timestamptz
);
CREATE INDEX render_poll_state_lease ON render_poll_state (lease_until);

-- Live poller replicas: each upserts its row with every lease tick. The count of live rows sets
-- each replica's fair share of instances.
CREATE TABLE render_poller_replicas (
    replica_id  text PRIMARY KEY,
    seen_until  timestamptz NOT NULL
);

-- The dispatch queue: one row per eco.created, inserted before the Kafka offset is committed,
-- so the Kafka consumer never waits on Render. Dispatch workers claim due rows (SKIP LOCKED),
-- call CreateJob (idempotent on the job number) and record the outcome.
CREATE TABLE render_dispatches (
    eco_id           uuid PRIMARY KEY,
    noc_tenant_id    text NOT NULL,
    osp_tenant_id    text NOT NULL,
    job_number       text NOT NULL,
    region           text NOT NULL DEFAULT '',
    title            text NOT NULL DEFAULT '',
    description      text NOT NULL DEFAULT '',
    address          text NOT NULL DEFAULT '',
    state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'no_instance')),
    instance_id      text,
    render_job_id    text,
    result           text NOT NULL DEFAULT '',
    attempts         integer NOT NULL DEFAULT 0,
    last_error       text NOT NULL DEFAULT '',
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    claimed_by       text,
    claimed_until    timestamptz NOT NULL DEFAULT '-infinity',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX render_dispatches_due ON render_dispatches (next_attempt_at) WHERE state = 'pending';

-- +goose Down
DROP TABLE render_dispatches;
DROP TABLE render_poller_replicas;
DROP TABLE render_poll_state;
DROP TABLE render_instances;
