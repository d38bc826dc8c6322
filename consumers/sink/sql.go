package sink

import (
	"strconv"
	"strings"
	"time"

	"github.com/osprey-strike/strike/schemas"
)

// Every write is a merge that is idempotent and commutative, so a duplicate changes nothing and
// events arriving in any order converge on the same row:
//   - facts every event about the ECO agrees on (job number, region, site, ...) are coalesced;
//   - the status is the maximum of (class, event time, rank, event id);
//   - counters are maxima of what the events carry, never increments;
//   - the responder is the earliest acceptance;
//   - field status is the highest Render version;
//   - created_at is eco.created's, else eco.rejected's, else the earliest event's.

// boardCols are eco_board's written columns, in argument order.
var boardCols = []string{
	"eco_id", "noc_tenant_id", "osp_tenant_id", "request_id", "job_number", "number", "region", "priority",
	"site_name", "site_address", "summary", "noc_ticket_ref", "requested_by", "people_needed", "parent_eco_id",
	"engagement", "reject_reason", "reject_detail",
	"status", "status_class", "status_at", "status_rank", "status_event",
	"calls_made", "accepted_count", "accepted_by_name", "accepted_by_phone", "accepted_at", "retry_at",
	"failed_over_to", "failover_eco_id", "cancelled_by", "cancel_reason", "exhausted_reason",
	"render_job_id", "field_status", "field_assignee", "field_version", "field_updated_at",
	"created_at", "created_prio", "updated_at",
}

var sqlBoard = buildBoardSQL()

func buildBoardSQL() string {
	var ph []string
	for i := range boardCols {
		ph = append(ph, "$"+strconv.Itoa(i+1))
	}
	coalesce := func(cols ...string) []string {
		out := make([]string, len(cols))
		for i, c := range cols {
			out[i] = c + " = coalesce(excluded." + c + ", b." + c + ")"
		}
		return out
	}
	when := func(cond string, cols ...string) []string {
		out := make([]string, len(cols))
		for i, c := range cols {
			out[i] = c + " = CASE WHEN " + cond + " THEN excluded." + c + " ELSE b." + c + " END"
		}
		return out
	}
	newerStatus := "(excluded.status_class, excluded.status_at, excluded.status_rank, excluded.status_event) > (b.status_class, b.status_at, b.status_rank, b.status_event)"
	earlierAccept := "excluded.accepted_at IS NOT NULL AND (b.accepted_at IS NULL OR (excluded.accepted_at, excluded.accepted_by_phone) < (b.accepted_at, b.accepted_by_phone))"
	newerField := "excluded.field_version IS NOT NULL AND (b.field_version IS NULL OR (excluded.field_version, excluded.field_updated_at, excluded.field_status) > (b.field_version, b.field_updated_at, b.field_status))"
	betterCreated := "excluded.created_prio > b.created_prio OR (excluded.created_prio = b.created_prio AND excluded.created_at < b.created_at)"

	var set []string
	set = append(set, coalesce("request_id", "job_number", "number", "region", "priority", "site_name", "site_address",
		"summary", "noc_ticket_ref", "requested_by", "people_needed", "parent_eco_id", "engagement", "reject_reason",
		"reject_detail", "failed_over_to", "failover_eco_id", "cancelled_by", "cancel_reason", "exhausted_reason",
		"render_job_id")...)
	set = append(set, when(newerStatus, "status", "status_class", "status_at", "status_rank", "status_event")...)
	set = append(set, when(earlierAccept, "accepted_by_name", "accepted_by_phone", "accepted_at")...)
	set = append(set, when(newerField, "field_status", "field_assignee", "field_version", "field_updated_at")...)
	set = append(set, when(betterCreated, "created_at")...)
	set = append(set,
		"created_prio = greatest(b.created_prio, excluded.created_prio)",
		"calls_made = greatest(b.calls_made, excluded.calls_made)",
		"accepted_count = greatest(b.accepted_count, excluded.accepted_count)",
		"retry_at = greatest(b.retry_at, excluded.retry_at)",
		"updated_at = greatest(b.updated_at, excluded.updated_at)",
	)
	// An event whose tenants differ from the row's changes nothing (0 rows affected, which the
	// writer counts as ignored): an ECO's tenants are fixed by its first event.
	return "INSERT INTO eco_board AS b (" + strings.Join(boardCols, ", ") + ") VALUES (" + strings.Join(ph, ", ") +
		") ON CONFLICT (eco_id) DO UPDATE SET " + strings.Join(set, ", ") +
		" WHERE b.noc_tenant_id = excluded.noc_tenant_id AND b.osp_tenant_id = excluded.osp_tenant_id"
}

// sameTenants holds unless the ECO's board row has other tenants than the event ($2 eco, $3 NOC,
// $4 OSP): the timeline and call attempts of an event the board ignored are not written either.
// (An event with a board write has its row by then; a timeline-only event may come first.)
const sameTenants = `NOT EXISTS (SELECT 1 FROM eco_board WHERE eco_id = $2::uuid AND (noc_tenant_id <> $3::text OR osp_tenant_id <> $4::text))`

// sqlOtherTenants selects the ECO's board row if it has other tenants than the event: run before
// the timeline write of an event that has no board write, so the writer can count it as ignored.
const sqlOtherTenants = `SELECT 1 FROM eco_board WHERE eco_id = $1::uuid AND (noc_tenant_id <> $2::text OR osp_tenant_id <> $3::text)`

const sqlTimeline = `INSERT INTO eco_timeline (event_id, eco_id, noc_tenant_id, osp_tenant_id, type, occurred_at, payload)
SELECT $1::text, $2::uuid, $3::text, $4::text, $5::text, $6::timestamptz, $7::jsonb WHERE ` + sameTenants + `
ON CONFLICT (event_id) DO NOTHING`

// sqlAttempt's arguments start with the call id so that $2..$4 are the ECO and its tenants, as
// sameTenants expects.
const sqlAttempt = `INSERT INTO call_attempts AS a (call_id, eco_id, noc_tenant_id, osp_tenant_id, contact_position,
	contact_name, contact_phone, pass, round, call_sid, placed_at, ended_at, result, detail, duration_seconds)
SELECT $1::text, $2::uuid, $3::text, $4::text, $5::integer, $6::text, $7::text, $8::integer, $9::integer, $10::text,
	$11::timestamptz, $12::timestamptz, $13::text, $14::text, $15::integer
WHERE ` + sameTenants + `
ON CONFLICT (eco_id, call_id) DO UPDATE SET
	contact_position = coalesce(excluded.contact_position, a.contact_position),
	contact_name = coalesce(excluded.contact_name, a.contact_name),
	contact_phone = coalesce(excluded.contact_phone, a.contact_phone),
	pass = coalesce(excluded.pass, a.pass),
	round = coalesce(excluded.round, a.round),
	call_sid = coalesce(excluded.call_sid, a.call_sid),
	placed_at = coalesce(excluded.placed_at, a.placed_at),
	ended_at = coalesce(excluded.ended_at, a.ended_at),
	result = coalesce(excluded.result, a.result),
	detail = coalesce(excluded.detail, a.detail),
	duration_seconds = coalesce(excluded.duration_seconds, a.duration_seconds)
WHERE a.noc_tenant_id = excluded.noc_tenant_id AND a.osp_tenant_id = excluded.osp_tenant_id`

const sqlOffsets = `INSERT INTO sink_offsets (consumer_group, topic, partition, next_offset, updated_at)
VALUES ($1, $2, $3, $4, now())
ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET next_offset = excluded.next_offset, updated_at = now()`

// board is one event's contribution to an ECO's board row; empty strings and nil pointers are
// "this event does not say".
type board struct {
	ecoID, noc, osp                                  string
	requestID, jobNumber                             string
	number                                           *int64
	region, priority, siteName, siteAddress, summary string
	ticket, requestedBy                              string
	peopleNeeded                                     *int
	parentECO                                        string
	engagement                                       []byte
	rejectReason, rejectDetail                       string

	st      string
	stClass int
	stAt    time.Time
	stRank  int
	stEvent string

	callsMade, acceptedCount     int
	acceptedName, acceptedPhone  string
	acceptedAt, retryAt          *time.Time
	failedOverTo, failoverECO    string
	cancelledBy, cancelReason    string
	exhaustedReason, renderJobID string
	fieldStatus, fieldAssignee   string
	fieldVersion                 *int64
	fieldUpdatedAt               *time.Time
	createdAt, updatedAt         time.Time
	createdPrio                  int
}

// newBoard starts a contribution with a placeholder status that loses to every real one.
func newBoard(ecoID, noc, osp, eventID string, at time.Time) *board {
	return &board{ecoID: ecoID, noc: noc, osp: osp, st: StatusPending, stClass: classPlaceholder,
		stAt: time.Time{}, stEvent: eventID, createdAt: at, updatedAt: at}
}

func (b *board) status(s string, class, rank int, at time.Time) {
	b.st, b.stClass, b.stRank, b.stAt = s, class, rank, at
}

func (b *board) stmt() stmt {
	var eng any
	if b.engagement != nil {
		eng = string(b.engagement)
	}
	return stmt{sqlBoard, []any{
		b.ecoID, b.noc, b.osp, nz(b.requestID), nz(b.jobNumber), b.number, nz(b.region), nz(b.priority),
		nz(b.siteName), nz(b.siteAddress), nz(b.summary), nz(b.ticket), nz(b.requestedBy), b.peopleNeeded, nz(b.parentECO),
		eng, nz(b.rejectReason), nz(b.rejectDetail),
		b.st, b.stClass, b.stAt, b.stRank, b.stEvent,
		b.callsMade, b.acceptedCount, nz(b.acceptedName), nz(b.acceptedPhone), b.acceptedAt, b.retryAt,
		nz(b.failedOverTo), nz(b.failoverECO), nz(b.cancelledBy), nz(b.cancelReason), nz(b.exhaustedReason),
		nz(b.renderJobID), nz(b.fieldStatus), nz(b.fieldAssignee), b.fieldVersion, b.fieldUpdatedAt,
		b.createdAt, b.createdPrio, b.updatedAt,
	}}
}

// attempt is one event's contribution to a call_attempts row.
type attempt struct {
	ecoID, callID, noc, osp string
	contact                 schemas.Contact
	pass, round, duration   *int
	callSID                 string
	placedAt, endedAt       *time.Time
	result, detail          string
}

func (a attempt) stmt() stmt {
	var pos any
	if a.contact.Position > 0 {
		pos = a.contact.Position
	}
	return stmt{sqlAttempt, []any{a.callID, a.ecoID, a.noc, a.osp, pos, nz(a.contact.Name), nz(a.contact.Phone),
		a.pass, a.round, nz(a.callSID), a.placedAt, a.endedAt, nz(a.result), nz(a.detail), a.duration}}
}

// nz is NULL for an empty string.
func nz(s string) any {
	if s == "" {
		return nil
	}
	return s
}
