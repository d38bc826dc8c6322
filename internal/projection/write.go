package projection

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/osprey-strike/strike/schemas"
)

// Every write is a merge that is idempotent and commutative, so a duplicate changes nothing and
// events arriving in any order converge on the same row:
//   - facts every event about the ECO agrees on (job number, region, site, ...) are coalesced;
//   - people_needed is the latest event's that sets it (eco.created, an applied
//     set_people_needed control), by (event time, event id);
//   - the status is the maximum of (class, event time, rank, event id);
//   - counters are maxima of what the events carry, never increments;
//   - the responder is the earliest acceptance;
//   - field status is the highest Render version;
//   - created_at is eco.created's, else eco.rejected's, else the earliest event's.

// boardCols are eco_board's written columns, in argument order.
var boardCols = []string{
	"eco_id", "noc_tenant_id", "osp_tenant_id", "request_id", "job_number", "number", "region", "priority",
	"site_name", "site_address", "summary", "noc_ticket_ref", "requested_by", "people_needed", "parent_eco_id",
	"people_needed_at", "people_needed_event",
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
	newerNeed := "excluded.people_needed IS NOT NULL AND (b.people_needed IS NULL OR (excluded.people_needed_at, excluded.people_needed_event) > (b.people_needed_at, b.people_needed_event))"
	betterCreated := "excluded.created_prio > b.created_prio OR (excluded.created_prio = b.created_prio AND excluded.created_at < b.created_at)"

	var set []string
	set = append(set, coalesce("request_id", "job_number", "number", "region", "priority", "site_name", "site_address",
		"summary", "noc_ticket_ref", "requested_by", "parent_eco_id", "engagement", "reject_reason",
		"reject_detail", "failed_over_to", "failover_eco_id", "cancelled_by", "cancel_reason", "exhausted_reason",
		"render_job_id")...)
	set = append(set, when(newerStatus, "status", "status_class", "status_at", "status_rank", "status_event")...)
	set = append(set, when(earlierAccept, "accepted_by_name", "accepted_by_phone", "accepted_at")...)
	set = append(set, when(newerField, "field_status", "field_assignee", "field_version", "field_updated_at")...)
	set = append(set, when(newerNeed, "people_needed", "people_needed_at", "people_needed_event")...)
	set = append(set, when(betterCreated, "created_at")...)
	set = append(set,
		"osp_tenant_id = excluded.osp_tenant_id", // equal, or an eco.created taking over (below)
		"created_prio = greatest(b.created_prio, excluded.created_prio)",
		"calls_made = greatest(b.calls_made, excluded.calls_made)",
		"accepted_count = greatest(b.accepted_count, excluded.accepted_count)",
		"retry_at = greatest(b.retry_at, excluded.retry_at)",
		"updated_at = greatest(b.updated_at, excluded.updated_at)",
	)
	// An event whose tenants differ from the row's changes nothing (0 rows affected, which the
	// writer counts as ignored): an ECO's tenants are fixed by its eco.created, else by its first
	// event. So an eco.created of the row's NOC takes over a row it has not seen yet at another
	// OSP: the NOC's rejected request retried with the same id to another OSP (rejections are not
	// stored, so the retry is created). The OSP never saw the rejection (its policy hides it). In
	// the other order the late rejection is ignored; the row is the ECO's either way.
	return "INSERT INTO eco_board AS b (" + strings.Join(boardCols, ", ") + ") VALUES (" + strings.Join(ph, ", ") +
		") ON CONFLICT (eco_id) DO UPDATE SET " + strings.Join(set, ", ") +
		" WHERE b.noc_tenant_id = excluded.noc_tenant_id AND (b.osp_tenant_id = excluded.osp_tenant_id" +
		" OR (excluded.created_prio = 2 AND b.created_prio < 2))"
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

// Stmt is one projection write: the sink queues an event's statements, in order, in the
// transaction that stores its offsets.
type Stmt struct {
	SQL  string
	Args []any
}

// IsBoard reports whether s writes the ECO's board row: a board write that affects no row was
// refused for naming other tenants than the row's, and none of the event's writes took effect.
func (s Stmt) IsBoard() bool { return s.SQL == sqlBoard }

// IsProbe reports whether s is OtherTenantsProbe: a row found means the event's tenants are not
// the ECO's, and none of its writes took effect.
func (s Stmt) IsProbe() bool { return s.SQL == sqlOtherTenants }

// OtherTenantsProbe is run before the timeline write of an event without a board write, so the
// writer learns whether the event was ignored for naming other tenants than the ECO's.
func OtherTenantsProbe(ecoID, noc, osp string) Stmt {
	return Stmt{sqlOtherTenants, []any{ecoID, noc, osp}}
}

// IsTimeline reports whether s is a timeline row; its Args[2] and Args[3] are the tenants.
func (s Stmt) IsTimeline() bool { return s.SQL == sqlTimeline }

// Timeline is the timeline row every projected event has.
func Timeline(eventID, ecoID, noc, osp, typ string, at time.Time, raw []byte) Stmt {
	return Stmt{sqlTimeline, []any{eventID, ecoID, noc, osp, typ, at, json.RawMessage(raw)}}
}

// Board is one event's contribution to an ECO's board row; empty strings and nil pointers are
// "this event does not say".
type Board struct {
	ECOID, NOC, OSP                                  string
	RequestID, JobNumber                             string
	Number                                           *int64
	Region, Priority, SiteName, SiteAddress, Summary string
	Ticket, RequestedBy                              string
	PeopleNeeded                                     *int
	ParentECO                                        string
	Engagement                                       []byte
	RejectReason, RejectDetail                       string

	st      string
	stClass int
	stAt    time.Time
	stRank  int
	stEvent string

	CallsMade, AcceptedCount     int
	AcceptedName, AcceptedPhone  string
	AcceptedAt, RetryAt          *time.Time
	FailedOverTo, FailoverECO    string
	CancelledBy, CancelReason    string
	ExhaustedReason, RenderJobID string
	FieldStatus, FieldAssignee   string
	FieldVersion                 *int64
	FieldUpdatedAt               *time.Time
	createdAt, updatedAt         time.Time
	// CreatedPrio ranks the event that dates the ECO: 2 eco.created, 1 eco.rejected, 0 others.
	CreatedPrio int
}

// NewBoard starts a contribution with a placeholder status that loses to every real one.
func NewBoard(ecoID, noc, osp, eventID string, at time.Time) *Board {
	return &Board{ECOID: ecoID, NOC: noc, OSP: osp, st: StatusPending, stClass: ClassPlaceholder,
		stAt: time.Time{}, stEvent: eventID, createdAt: at, updatedAt: at}
}

// SetStatus proposes status s with its class and rank (see Status*, Class*) at time at.
func (b *Board) SetStatus(s string, class, rank int, at time.Time) {
	b.st, b.stClass, b.stRank, b.stAt = s, class, rank, at
}

// Stmt is the board row's merge.
func (b *Board) Stmt() Stmt {
	var eng any
	if b.Engagement != nil {
		eng = string(b.Engagement)
	}
	// The figure is ordered by the event that says it: its time and id.
	var needAt, needEvent any
	if b.PeopleNeeded != nil {
		needAt, needEvent = b.updatedAt, b.stEvent
	}
	return Stmt{sqlBoard, []any{
		b.ECOID, b.NOC, b.OSP, nz(b.RequestID), nz(b.JobNumber), b.Number, nz(b.Region), nz(b.Priority),
		nz(b.SiteName), nz(b.SiteAddress), nz(b.Summary), nz(b.Ticket), nz(b.RequestedBy), b.PeopleNeeded, nz(b.ParentECO),
		needAt, needEvent, eng, nz(b.RejectReason), nz(b.RejectDetail),
		b.st, b.stClass, b.stAt, b.stRank, b.stEvent,
		b.CallsMade, b.AcceptedCount, nz(b.AcceptedName), nz(b.AcceptedPhone), b.AcceptedAt, b.RetryAt,
		nz(b.FailedOverTo), nz(b.FailoverECO), nz(b.CancelledBy), nz(b.CancelReason), nz(b.ExhaustedReason),
		nz(b.RenderJobID), nz(b.FieldStatus), nz(b.FieldAssignee), b.FieldVersion, b.FieldUpdatedAt,
		b.createdAt, b.CreatedPrio, b.updatedAt,
	}}
}

// Attempt is one event's contribution to a call_attempts row.
type Attempt struct {
	ECOID, CallID, NOC, OSP string
	Contact                 schemas.Contact
	Pass, Round, Duration   *int
	CallSID                 string
	PlacedAt, EndedAt       *time.Time
	Result, Detail          string
}

// Stmt is the call attempt row's merge.
func (a Attempt) Stmt() Stmt {
	var pos any
	if a.Contact.Position > 0 {
		pos = a.Contact.Position
	}
	return Stmt{sqlAttempt, []any{a.CallID, a.ECOID, a.NOC, a.OSP, pos, nz(a.Contact.Name), nz(a.Contact.Phone),
		a.Pass, a.Round, nz(a.CallSID), a.PlacedAt, a.EndedAt, nz(a.Result), nz(a.Detail), a.Duration}}
}

// nz is NULL for an empty string.
func nz(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// TP names a partition.
type TP struct {
	Topic     string
	Partition int32
}

// OffsetStmt stores group's next offset of a partition, in the transaction of the rows it
// produced.
func OffsetStmt(group string, tp TP, next int64) Stmt {
	return Stmt{sqlOffsets, []any{group, tp.Topic, tp.Partition, next}}
}

// Querier is a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// ReadOffsets returns the stored next offsets of group; forUpdate locks them for the
// transaction, so two replicas that both think they own a partition serialize.
func ReadOffsets(ctx context.Context, q Querier, group string, forUpdate bool) (map[TP]int64, error) {
	sql := `SELECT topic, partition, next_offset FROM sink_offsets WHERE consumer_group = $1`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	rows, err := q.Query(ctx, sql, group)
	if err != nil {
		return nil, fmt.Errorf("read offsets: %w", err)
	}
	out := map[TP]int64{}
	var tp TP
	var off int64
	_, err = pgx.ForEachRow(rows, []any{&tp.Topic, &tp.Partition, &off}, func() error {
		out[tp] = off
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read offsets: %w", err)
	}
	return out, nil
}

// StoredOffsets returns group's next offsets as stored in sink_offsets, by topic and partition:
// the sink's position, which Kafka's committed offsets do not hold (for lag metrics).
func StoredOffsets(ctx context.Context, pool *pgxpool.Pool, group string) (map[string]map[int32]int64, error) {
	stored, err := ReadOffsets(ctx, pool, group, false)
	if err != nil {
		return nil, err
	}
	out := map[string]map[int32]int64{}
	for tp, off := range stored {
		if out[tp.Topic] == nil {
			out[tp.Topic] = map[int32]int64{}
		}
		out[tp.Topic][tp.Partition] = off
	}
	return out, nil
}

// ResetOffsets forgets every stored sink position (`strike dev` beside a new, empty broker,
// whose offsets start over). The projections stay.
func ResetOffsets(ctx context.Context, pool *pgxpool.Pool) error {
	if _, err := pool.Exec(ctx, `DELETE FROM sink_offsets`); err != nil {
		return fmt.Errorf("reset the sink's stored offsets: %w", err)
	}
	return nil
}
