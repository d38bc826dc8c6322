package sink

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/dlq"
	"github.com/osprey-strike/strike/schemas"
)

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
	classPlaceholder = 0
	classRejected    = 1 // an eco.created for the same id (a retried request) supersedes it
	classInProgress  = 2
	classEnded       = 3
	classCancelled   = 4 // the NOC's cancel is final
)

// Statuses lists the statuses an ECO can show, for API validation.
var Statuses = []string{StatusPending, StatusRejected, StatusCreated, StatusRinging, StatusRetryScheduled,
	StatusAccepted, StatusExhausted, StatusFailedOver, StatusCancelled}

// item is what one consumed record turns into.
type item struct {
	rec   *kgo.Record
	kind  itemKind
	typ   string
	ecoID string
	// noc and osp are the event's tenants, for logs.
	noc, osp string
	// stale is set by the writer when the record's offset was already stored (a replay).
	stale bool
	// stmts are the projection writes of an applied event, in order.
	stmts []stmt
	// skipReason says why an itemSkip is not projected (a skip* constant).
	skipReason string
	// dlq is set for kind == itemDLQ.
	dlq       *kgo.Record
	dlqReason string
}

type itemKind int

// Why a record is skipped: the reason label of strike_sink_events_skipped_total.
const (
	skipUnknownType = "unknown_type" // a type this sink does not know: a rebuild picks it up once it does
	skipNotAnECO    = "not_an_eco"   // a Render change of a job that is not an ECO's
	// An event naming other tenants than the ECO's row (a producer bug, or a request id another
	// tenant reused before ids were per NOC): it would rewrite another tenant's ECO.
	skipTenantMismatch = "tenant_mismatch"
)

const (
	itemApply   itemKind = iota
	itemSkip             // unknown or unprojected type: counted, the offset moves on
	itemDLQ              // undecodable: sent to the DLQ, the offset moves on
	itemControl          // a transaction marker: only moves the offset
)

type stmt struct {
	sql  string
	args []any
}

// decoder turns records into projection writes.
type decoder struct {
	v   *schemas.Validator
	now func() time.Time
}

// errSkip marks a well-formed event the sink does not project (e.g. a render change for a job
// that is not an ECO's).
var errSkip = errors.New("not projected")

func (d decoder) decode(r *kgo.Record) item {
	it := item{rec: r}
	if r.Attrs.IsControl() {
		it.kind = itemControl
		return it
	}
	ce := cloudevents.Parse(r)
	it.typ = ce.Type
	h, ok := handlers[ce.Type]
	if !ok {
		it.kind, it.skipReason = itemSkip, skipUnknownType
		return it
	}
	if ce.ID == "" {
		it.kind, it.dlqReason = itemDLQ, schemas.DLQUnprocessable
		it.dlq = dlq.Record(Name, r, it.dlqReason, errors.New("record has no ce_id header: events must carry their deterministic id"), d.now())
		return it
	}
	stmts, ecoID, err := h(d.v, ce, r.Value)
	switch {
	case errors.Is(err, errSkip):
		it.kind, it.skipReason = itemSkip, skipNotAnECO
	case err != nil:
		reason := schemas.DLQSchemaViolation
		if errors.Is(err, schemas.ErrInvalidJSON) {
			reason = schemas.DLQInvalidJSON
		}
		it.kind, it.dlqReason, it.dlq = itemDLQ, reason, dlq.Record(Name, r, reason, err, d.now())
	default:
		it.stmts, it.ecoID = stmts, ecoID
		// Every projected event ends with its timeline row, whose args 2 and 3 are the tenants.
		if tl := stmts[len(stmts)-1]; tl.sql == sqlTimeline {
			it.noc, _ = tl.args[2].(string)
			it.osp, _ = tl.args[3].(string)
		}
	}
	return it
}

type handler func(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error)

// handlers maps each projected ce_type to its decoder. Types not listed are skipped and
// counted, so a new event type never stops the sink; a rebuild projects it once a handler exists.
var handlers = map[string]handler{
	schemas.TypeECOCreated:            onECOCreated,
	schemas.TypeECORejected:           onECORejected,
	schemas.TypeECOCancelled:          onECOCancelled,
	schemas.TypeCalloutStarted:        onCalloutStarted,
	schemas.TypeCalloutCallPlaced:     onCallPlaced,
	schemas.TypeCalloutCallEnded:      onCallEnded,
	schemas.TypeCalloutAccepted:       onAccepted,
	schemas.TypeCalloutDeclined:       onDeclined,
	schemas.TypeCalloutRetryScheduled: onRetryScheduled,
	schemas.TypeCalloutFailedOver:     onFailedOver,
	schemas.TypeCalloutExhausted:      onExhausted,
	schemas.TypeCalloutCancelled:      onCalloutCancelled,
	schemas.TypeCalloutControlOutcome: onControlOutcome, // controls.go
	schemas.TypeCalloutCallIn:         onCallIn,         // controls.go
	schemas.TypeCalloutContactSkipped: onContactSkipped, // roster.go
	schemas.TypeRenderJobChanged:      onRenderJobChanged,
	schemas.TypeRenderDispatch:        onRenderDispatch,
}

func decodeAs[T any](v *schemas.Validator, typ string, raw []byte) (T, error) {
	var out T
	err := v.Decode(typ, raw, &out)
	return out, err
}

// withTimeline appends the timeline row every projected event has. An event without a board
// write gets the tenant probe first, so the writer learns when it was ignored.
func withTimeline(ce cloudevents.Event, ecoID, noc, osp string, at time.Time, raw []byte, s ...stmt) []stmt {
	if len(s) == 0 || s[0].sql != sqlBoard {
		s = append([]stmt{{sqlOtherTenants, []any{ecoID, noc, osp}}}, s...)
	}
	return append(s, stmt{sqlTimeline, []any{ce.ID, ecoID, noc, osp, ce.Type, at, json.RawMessage(raw)}})
}

func onECOCreated(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.ECOCreated](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	eng, _ := json.Marshal(e.Engagement)
	b := newBoard(e.ECOID, e.NOCTenantID, e.OSPTenantID, ce.ID, e.CreatedAt)
	b.requestID, b.jobNumber, b.number = e.RequestID, e.JobNumber, &e.Number
	b.region, b.priority, b.siteName, b.siteAddress = e.Region, e.Priority, e.Site.Name, e.Site.Address
	b.summary, b.ticket, b.requestedBy, b.peopleNeeded = e.Summary, e.NOCTicketRef, e.RequestedBy.Name, &e.PeopleNeeded
	b.parentECO, b.engagement = e.ParentECOID, eng
	b.status(StatusCreated, classInProgress, 0, e.CreatedAt)
	b.createdPrio = 2
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.CreatedAt, raw, b.stmt()), e.ECOID, nil
}

func onECORejected(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.ECORejected](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := newBoard(e.ECOID, e.NOCTenantID, e.OSPTenantID, ce.ID, e.RejectedAt)
	b.requestID, b.region, b.parentECO = e.RequestID, e.Region, e.ParentECOID
	b.rejectReason, b.rejectDetail = e.Reason, e.Detail
	b.status(StatusRejected, classRejected, 0, e.RejectedAt)
	b.createdPrio = 1
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.RejectedAt, raw, b.stmt()), e.ECOID, nil
}

func onECOCancelled(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.ECOCancelled](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := newBoard(e.ECOID, e.NOCTenantID, e.OSPTenantID, ce.ID, e.CancelledAt)
	b.jobNumber, b.cancelledBy, b.cancelReason = e.JobNumber, e.CancelledBy.Name, e.Reason
	b.status(StatusCancelled, classCancelled, 0, e.CancelledAt)
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.CancelledAt, raw, b.stmt()), e.ECOID, nil
}

func refBoard(r schemas.CalloutRef, ceID string, at time.Time) *board {
	b := newBoard(r.ECOID, r.NOCTenantID, r.OSPTenantID, ceID, at)
	b.jobNumber = r.JobNumber
	return b
}

func onCalloutStarted(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.CalloutStarted](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := refBoard(e.CalloutRef, ce.ID, e.StartedAt)
	b.region = e.Region
	b.status(StatusRinging, classInProgress, 1, e.StartedAt)
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.StartedAt, raw, b.stmt()), e.ECOID, nil
}

func onCallPlaced(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.CallPlaced](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := refBoard(e.CalloutRef, ce.ID, e.PlacedAt)
	b.status(StatusRinging, classInProgress, 1, e.PlacedAt)
	a := attempt{ecoID: e.ECOID, callID: e.CallID, noc: e.NOCTenantID, osp: e.OSPTenantID, contact: e.Contact,
		pass: &e.Pass, round: &e.Round, callSID: e.CallSID, placedAt: &e.PlacedAt}
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.PlacedAt, raw, b.stmt(), a.stmt()), e.ECOID, nil
}

func onCallEnded(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.CallEnded](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := refBoard(e.CalloutRef, ce.ID, e.EndedAt)
	a := attempt{ecoID: e.ECOID, callID: e.CallID, noc: e.NOCTenantID, osp: e.OSPTenantID, contact: e.Contact,
		pass: &e.Pass, round: &e.Round, callSID: e.CallSID, endedAt: &e.EndedAt, result: e.Result, detail: e.Detail}
	if e.DurationSeconds > 0 {
		a.duration = &e.DurationSeconds
	}
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.EndedAt, raw, b.stmt(), a.stmt()), e.ECOID, nil
}

func onAccepted(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.CalloutAccepted](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := refBoard(e.CalloutRef, ce.ID, e.AcceptedAt)
	b.callsMade, b.acceptedCount = e.CallsMade, e.AcceptedCount
	if !e.Late {
		// A late acceptance (after the ECO was filled) is on the timeline but does not make
		// that person the responder.
		b.acceptedName, b.acceptedPhone, b.acceptedAt = e.Contact.Name, e.Contact.Phone, &e.AcceptedAt
		if e.AcceptedCount >= max(e.PeopleNeeded, 1) {
			b.status(StatusAccepted, classEnded, 5, e.AcceptedAt)
		} else {
			b.status(StatusRinging, classInProgress, 3, e.AcceptedAt)
		}
	}
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.AcceptedAt, raw, b.stmt()), e.ECOID, nil
}

func onDeclined(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.CalloutDeclined](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := refBoard(e.CalloutRef, ce.ID, e.DeclinedAt)
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.DeclinedAt, raw, b.stmt()), e.ECOID, nil
}

func onRetryScheduled(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.RetryScheduled](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := refBoard(e.CalloutRef, ce.ID, e.ScheduledAt)
	b.retryAt = &e.RetryAt
	b.status(StatusRetryScheduled, classInProgress, 2, e.ScheduledAt)
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.ScheduledAt, raw, b.stmt()), e.ECOID, nil
}

func onFailedOver(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.FailedOver](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := refBoard(e.CalloutRef, ce.ID, e.FailedOverAt)
	b.failedOverTo, b.failoverECO = e.ToOSPTenantID, e.NewECOID
	b.status(StatusFailedOver, classEnded, 7, e.FailedOverAt)
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.FailedOverAt, raw, b.stmt()), e.ECOID, nil
}

func onExhausted(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.CalloutExhausted](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := refBoard(e.CalloutRef, ce.ID, e.ExhaustedAt)
	b.callsMade, b.acceptedCount, b.exhaustedReason = e.CallsMade, e.AcceptedCount, e.Reason
	b.status(StatusExhausted, classEnded, 6, e.ExhaustedAt)
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.ExhaustedAt, raw, b.stmt()), e.ECOID, nil
}

func onCalloutCancelled(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.CalloutCancelled](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := refBoard(e.CalloutRef, ce.ID, e.CancelledAt)
	b.cancelledBy, b.cancelReason = e.CancelledBy, e.Reason
	b.status(StatusCancelled, classCancelled, 0, e.CancelledAt)
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.CancelledAt, raw, b.stmt()), e.ECOID, nil
}

func onRenderJobChanged(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.RenderJobChanged](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	if e.ECOID == "" || e.NOCTenantID == "" {
		// The render-poller sets both when the job is an ECO's (its external reference is a
		// Strike job number). Other jobs in the OSP's Render are not Strike's record.
		return nil, "", errSkip
	}
	b := newBoard(e.ECOID, e.NOCTenantID, e.OSPTenantID, ce.ID, e.UpdatedAt)
	b.jobNumber, b.renderJobID = e.JobNumber, e.RenderJobID
	b.fieldStatus, b.fieldAssignee, b.fieldVersion, b.fieldUpdatedAt = e.Status, e.Assignee, &e.Version, &e.UpdatedAt
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.UpdatedAt, raw, b.stmt()), e.ECOID, nil
}

func onRenderDispatch(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.RenderDispatch](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := newBoard(e.ECOID, e.NOCTenantID, e.OSPTenantID, ce.ID, e.At)
	b.jobNumber, b.renderJobID = e.JobNumber, e.RenderJobID
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.At, raw, b.stmt()), e.ECOID, nil
}
