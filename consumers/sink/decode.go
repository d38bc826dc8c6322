package sink

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/dlq"
	"github.com/osprey-strike/strike/internal/projection"
	"github.com/osprey-strike/strike/schemas"
)

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

// stmt is one projection write (internal/projection owns the SQL).
type stmt = projection.Stmt

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
		reason := dlq.Reason(err)
		it.kind, it.dlqReason, it.dlq = itemDLQ, reason, dlq.Record(Name, r, reason, err, d.now())
	default:
		it.stmts, it.ecoID = stmts, ecoID
		// Every projected event ends with its timeline row, whose args 2 and 3 are the tenants.
		if tl := stmts[len(stmts)-1]; tl.IsTimeline() {
			it.noc, _ = tl.Args[2].(string)
			it.osp, _ = tl.Args[3].(string)
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
	if len(s) == 0 || !s[0].IsBoard() {
		s = append([]stmt{projection.OtherTenantsProbe(ecoID, noc, osp)}, s...)
	}
	return append(s, projection.Timeline(ce.ID, ecoID, noc, osp, ce.Type, at, raw))
}

func onECOCreated(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.ECOCreated](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	eng, _ := json.Marshal(e.Engagement)
	b := projection.NewBoard(e.ECOID, e.NOCTenantID, e.OSPTenantID, ce.ID, e.CreatedAt)
	b.RequestID, b.JobNumber, b.Number = e.RequestID, e.JobNumber, &e.Number
	b.Region, b.Priority, b.SiteName, b.SiteAddress = e.Region, e.Priority, e.Site.Name, e.Site.Address
	b.Summary, b.Ticket, b.RequestedBy, b.PeopleNeeded = e.Summary, e.NOCTicketRef, e.RequestedBy.Name, &e.PeopleNeeded
	b.ParentECO, b.Engagement = e.ParentECOID, eng
	b.SetStatus(projection.StatusCreated, projection.ClassInProgress, 0, e.CreatedAt)
	b.CreatedPrio = 2
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.CreatedAt, raw, b.Stmt()), e.ECOID, nil
}

func onECORejected(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.ECORejected](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := projection.NewBoard(e.ECOID, e.NOCTenantID, e.OSPTenantID, ce.ID, e.RejectedAt)
	b.RequestID, b.Region, b.ParentECO = e.RequestID, e.Region, e.ParentECOID
	b.RejectReason, b.RejectDetail = e.Reason, e.Detail
	b.SetStatus(projection.StatusRejected, projection.ClassRejected, 0, e.RejectedAt)
	b.CreatedPrio = 1
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.RejectedAt, raw, b.Stmt()), e.ECOID, nil
}

func onECOCancelled(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.ECOCancelled](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := projection.NewBoard(e.ECOID, e.NOCTenantID, e.OSPTenantID, ce.ID, e.CancelledAt)
	b.JobNumber, b.CancelledBy, b.CancelReason = e.JobNumber, e.CancelledBy.Name, e.Reason
	b.SetStatus(projection.StatusCancelled, projection.ClassCancelled, 0, e.CancelledAt)
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.CancelledAt, raw, b.Stmt()), e.ECOID, nil
}

func refBoard(r schemas.CalloutRef, ceID string, at time.Time) *projection.Board {
	b := projection.NewBoard(r.ECOID, r.NOCTenantID, r.OSPTenantID, ceID, at)
	b.JobNumber = r.JobNumber
	return b
}

func onCalloutStarted(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.CalloutStarted](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := refBoard(e.CalloutRef, ce.ID, e.StartedAt)
	b.Region = e.Region
	b.SetStatus(projection.StatusRinging, projection.ClassInProgress, 1, e.StartedAt)
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.StartedAt, raw, b.Stmt()), e.ECOID, nil
}

func onCallPlaced(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.CallPlaced](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := refBoard(e.CalloutRef, ce.ID, e.PlacedAt)
	b.SetStatus(projection.StatusRinging, projection.ClassInProgress, 1, e.PlacedAt)
	a := projection.Attempt{ECOID: e.ECOID, CallID: e.CallID, NOC: e.NOCTenantID, OSP: e.OSPTenantID, Contact: e.Contact,
		Pass: &e.Pass, Round: &e.Round, CallSID: e.CallSID, PlacedAt: &e.PlacedAt}
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.PlacedAt, raw, b.Stmt(), a.Stmt()), e.ECOID, nil
}

func onCallEnded(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.CallEnded](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := refBoard(e.CalloutRef, ce.ID, e.EndedAt)
	a := projection.Attempt{ECOID: e.ECOID, CallID: e.CallID, NOC: e.NOCTenantID, OSP: e.OSPTenantID, Contact: e.Contact,
		Pass: &e.Pass, Round: &e.Round, CallSID: e.CallSID, EndedAt: &e.EndedAt, Result: e.Result, Detail: e.Detail}
	if e.DurationSeconds > 0 {
		a.Duration = &e.DurationSeconds
	}
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.EndedAt, raw, b.Stmt(), a.Stmt()), e.ECOID, nil
}

func onAccepted(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.CalloutAccepted](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := refBoard(e.CalloutRef, ce.ID, e.AcceptedAt)
	b.CallsMade, b.AcceptedCount = e.CallsMade, e.AcceptedCount
	if !e.Late {
		// A late acceptance (after the ECO was filled) is on the timeline but does not make
		// that person the responder.
		b.AcceptedName, b.AcceptedPhone, b.AcceptedAt = e.Contact.Name, e.Contact.Phone, &e.AcceptedAt
		if e.AcceptedCount >= max(e.PeopleNeeded, 1) {
			b.SetStatus(projection.StatusAccepted, projection.ClassEnded, 5, e.AcceptedAt)
		} else {
			b.SetStatus(projection.StatusRinging, projection.ClassInProgress, 3, e.AcceptedAt)
		}
	}
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.AcceptedAt, raw, b.Stmt()), e.ECOID, nil
}

func onDeclined(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.CalloutDeclined](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := refBoard(e.CalloutRef, ce.ID, e.DeclinedAt)
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.DeclinedAt, raw, b.Stmt()), e.ECOID, nil
}

func onRetryScheduled(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.RetryScheduled](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := refBoard(e.CalloutRef, ce.ID, e.ScheduledAt)
	b.RetryAt = &e.RetryAt
	b.SetStatus(projection.StatusRetryScheduled, projection.ClassInProgress, 2, e.ScheduledAt)
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.ScheduledAt, raw, b.Stmt()), e.ECOID, nil
}

func onFailedOver(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.FailedOver](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := refBoard(e.CalloutRef, ce.ID, e.FailedOverAt)
	b.FailedOverTo, b.FailoverECO = e.ToOSPTenantID, e.NewECOID
	b.SetStatus(projection.StatusFailedOver, projection.ClassEnded, 7, e.FailedOverAt)
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.FailedOverAt, raw, b.Stmt()), e.ECOID, nil
}

func onExhausted(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.CalloutExhausted](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := refBoard(e.CalloutRef, ce.ID, e.ExhaustedAt)
	b.CallsMade, b.AcceptedCount, b.ExhaustedReason = e.CallsMade, e.AcceptedCount, e.Reason
	b.SetStatus(projection.StatusExhausted, projection.ClassEnded, 6, e.ExhaustedAt)
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.ExhaustedAt, raw, b.Stmt()), e.ECOID, nil
}

func onCalloutCancelled(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.CalloutCancelled](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := refBoard(e.CalloutRef, ce.ID, e.CancelledAt)
	b.CancelledBy, b.CancelReason = e.CancelledBy, e.Reason
	b.SetStatus(projection.StatusCancelled, projection.ClassCancelled, 0, e.CancelledAt)
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.CancelledAt, raw, b.Stmt()), e.ECOID, nil
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
	b := projection.NewBoard(e.ECOID, e.NOCTenantID, e.OSPTenantID, ce.ID, e.UpdatedAt)
	b.JobNumber, b.RenderJobID = e.JobNumber, e.RenderJobID
	b.FieldStatus, b.FieldAssignee, b.FieldVersion, b.FieldUpdatedAt = e.Status, e.Assignee, &e.Version, &e.UpdatedAt
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.UpdatedAt, raw, b.Stmt()), e.ECOID, nil
}

func onRenderDispatch(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.RenderDispatch](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	b := projection.NewBoard(e.ECOID, e.NOCTenantID, e.OSPTenantID, ce.ID, e.At)
	b.JobNumber, b.RenderJobID = e.JobNumber, e.RenderJobID
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.At, raw, b.Stmt()), e.ECOID, nil
}
