-- people_needed is no longer a static fact (issue 13): an applied set_people_needed control
-- changes it. Like the status, it is ordered by the event that set it (event time, then event
-- id), so a redelivered older event never moves it back. Rows already projected were set by
-- their eco.created only (controls did not touch the column before), dated by its created_at.

-- +goose Up
ALTER TABLE eco_board ADD COLUMN people_needed_at timestamptz, ADD COLUMN people_needed_event text;
UPDATE eco_board SET people_needed_at = created_at, people_needed_event = '' WHERE people_needed IS NOT NULL;

-- +goose Down
ALTER TABLE eco_board DROP COLUMN people_needed_at, DROP COLUMN people_needed_event;
