-- OSP-owned people data for issue 13: when a roster contact is away (leave, already on a job)
-- and who stands in for them, and whether a roster rotates its starting point.
--
-- A substitute is named on the window itself (name and E.164 number), not as a roster row:
-- roster_contacts.substitute_for (00001) is not used.

-- +goose Up
-- fixed: every ECO starts at position 1. after_last_accepted / after_last_called: the next ECO
-- starts after the person who last accepted / was last called (roster_rotation below).
ALTER TABLE rosters ADD COLUMN rotation text NOT NULL DEFAULT 'fixed'
    CHECK (rotation IN ('fixed', 'after_last_accepted', 'after_last_called'));

-- A contact is away from starts_at (inclusive) to ends_at (exclusive). Replaced whole with the
-- roster (the contacts' rows cascade). Windows of one contact do not overlap (checked in Go).
CREATE TABLE roster_unavailability (
    osp_tenant_id     text NOT NULL,
    region            text NOT NULL,
    position          integer NOT NULL,
    starts_at         timestamptz NOT NULL,
    ends_at           timestamptz NOT NULL,
    reason            text NOT NULL CHECK (reason IN ('leave', 'on_job', 'other')),
    note              text NOT NULL DEFAULT '' CHECK (length(note) <= 200),
    substitute_name   text CHECK (length(substitute_name) BETWEEN 1 AND 200),
    substitute_phone  text CHECK (substitute_phone ~ '^\+[1-9][0-9]{6,14}$'),
    CHECK (ends_at > starts_at),
    CHECK ((substitute_name IS NULL) = (substitute_phone IS NULL)),
    PRIMARY KEY (osp_tenant_id, region, position, starts_at),
    FOREIGN KEY (osp_tenant_id, region, position)
        REFERENCES roster_contacts (osp_tenant_id, region, position) ON DELETE CASCADE
);

-- The rotation pointer of a roster: the position the next ECO starts after. It survives roster
-- edits (rosters rows are updated, never deleted by a roster write).
CREATE TABLE roster_rotation (
    osp_tenant_id  text NOT NULL,
    region         text NOT NULL,
    last_position  integer NOT NULL DEFAULT 0 CHECK (last_position >= 0),
    -- When the pointer last moved: a move older than this (another ECO's, applied late) is
    -- ignored, so the pointer never goes back.
    moved_at       timestamptz NOT NULL DEFAULT '-infinity',
    PRIMARY KEY (osp_tenant_id, region),
    FOREIGN KEY (osp_tenant_id, region) REFERENCES rosters (osp_tenant_id, region) ON DELETE CASCADE
);

-- The starting position given to each ECO of a rotating roster, unique per ECO: a ring-down
-- started again (a transaction redone, a replica taking over) gets the start it already had,
-- and the pointer moves once per ECO.
CREATE TABLE roster_rotation_starts (
    eco_id          uuid PRIMARY KEY,
    osp_tenant_id   text NOT NULL,
    region          text NOT NULL,
    start_position  integer NOT NULL CHECK (start_position >= 1),
    decided_at      timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE roster_rotation_starts;
DROP TABLE roster_rotation;
DROP TABLE roster_unavailability;
ALTER TABLE rosters DROP COLUMN rotation;
