// Package projection owns the SQL of the projection tables: eco_board, eco_timeline and
// call_attempts (the ECO board, its timeline and its call attempts), and sink_offsets, the
// positions the sink stored with them. The sink (consumers/sink) writes them through this
// package; the gateway, the HTTP intake and the Twilio webhooks read them through it. No other
// package names these tables (internal/layering checks), so their columns, merge rules and
// row-level security live in one place.
//
// Readers that serve a tenant go through TenantTx, which reads as strike_api_noc or
// strike_api_osp with the tenant set: row-level security (migrations 00004 and 00010) then
// returns only that tenant's rows even to a query that forgot its filter.
package projection

// Tables are the projection tables and the sink's offsets, rebuilt and swapped together (a
// rebuild's tables and positions always agree).
var Tables = []string{"eco_board", "eco_timeline", "call_attempts", "sink_offsets"}

// Status values on the ECO board. The board's status is the maximum of its candidates under the
// order (class, event time, rank, event id), which is what makes the projection converge
// whatever order events arrive in: a late call.placed never moves an accepted ECO back to
// ringing, and a cancel is final.
const (
	StatusPending        = "pending" // only events without a status seen yet (e.g. call.ended)
	StatusRejected       = "rejected"
	StatusCreated        = "created"
	StatusRinging        = "ringing"
	StatusRetryScheduled = "retry_scheduled"
	StatusAccepted       = "accepted"
	StatusExhausted      = "exhausted"
	StatusFailedOver     = "failed_over"
	StatusCancelled      = "cancelled"
)

// Status classes: a higher class always wins over a lower one.
const (
	ClassPlaceholder = 0
	ClassRejected    = 1 // an eco.created for the same id (a retried request) supersedes it
	ClassInProgress  = 2
	ClassEnded       = 3
	ClassCancelled   = 4 // the NOC's cancel is final
)

// Statuses lists the statuses an ECO can show, for API validation.
var Statuses = []string{StatusPending, StatusRejected, StatusCreated, StatusRinging, StatusRetryScheduled,
	StatusAccepted, StatusExhausted, StatusFailedOver, StatusCancelled}

// Tenant kinds, as TenantTx takes them.
const (
	KindNOC = "noc"
	KindOSP = "osp"
)
