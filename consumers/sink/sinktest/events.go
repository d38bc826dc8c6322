// Package sinktest builds the events the sink projects, as the real producers write them
// (topic, key, CloudEvents headers, deterministic ce_id), for tests and benchmarks.
package sinktest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

// ECO describes one ECO whose events a test wants.
type ECO struct {
	RequestID, ECOID, NOC, OSP, JobNumber, Region, Summary string
	At                                                     time.Time // eco.created time; later events follow it
}

// NewECO returns an ECO with fresh ids created at at.
func NewECO(noc, osp string, n int, at time.Time) ECO {
	req := uuid.NewString()
	return ECO{RequestID: req, ECOID: ids.ECOID(noc, req), NOC: noc, OSP: osp,
		JobNumber: fmt.Sprintf("JOB-%s-%05d", osp, n), Region: "metro-north",
		Summary: fmt.Sprintf("Fibre cut %d at %s", n, noc), At: at.UTC()}
}

func record(topic, key, typ string, at time.Time, v any, idParts ...string) *kgo.Record {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return cloudevents.Record(topic, key, cloudevents.Event{
		ID: ids.EventID(typ, idParts...), Type: typ, Source: "strike/test", Subject: key, Time: at,
	}, raw)
}

func (e ECO) ref() schemas.CalloutRef {
	return schemas.CalloutRef{ECOID: e.ECOID, NOCTenantID: e.NOC, OSPTenantID: e.OSP, JobNumber: e.JobNumber}
}

// Created is the ECO's eco.created.
func (e ECO) Created() *kgo.Record {
	return record(topics.ECOEvents, e.ECOID, schemas.TypeECOCreated, e.At, schemas.ECOCreated{
		ECOID: e.ECOID, RequestID: e.RequestID, JobNumber: e.JobNumber, Number: 1,
		NOCTenantID: e.NOC, OSPTenantID: e.OSP, Region: e.Region, Priority: "P1",
		Site: schemas.Site{Name: "Exchange 7", Address: "1 Main St"}, Summary: e.Summary,
		RequestedBy: schemas.Requester{Name: "Noor"}, PeopleNeeded: 1,
		Engagement: schemas.Engagement{LoopCount: 2, RetryAfterSeconds: 1200, FailoverOSPIDs: []string{}, RingDurationSeconds: 25},
		CreatedAt:  e.At,
	}, e.ECOID)
}

// Rejected is an eco.rejected for the ECO's request.
func (e ECO) Rejected(reason string) *kgo.Record {
	return record(topics.ECOEvents, e.ECOID, schemas.TypeECORejected, e.At, schemas.ECORejected{
		ECOID: e.ECOID, RequestID: e.RequestID, NOCTenantID: e.NOC, OSPTenantID: e.OSP, Region: e.Region,
		Reason: reason, Detail: "test rejection", RejectedAt: e.At,
	}, e.RequestID, reason)
}

// Cancelled is an eco.cancelled dt after creation.
func (e ECO) Cancelled(dt time.Duration) *kgo.Record {
	at := e.At.Add(dt)
	return record(topics.ECOEvents, e.ECOID, schemas.TypeECOCancelled, at, schemas.ECOCancelled{
		ECOID: e.ECOID, RequestID: uuid.NewSHA1(uuid.NameSpaceOID, []byte(e.ECOID)).String(),
		NOCTenantID: e.NOC, OSPTenantID: e.OSP, JobNumber: e.JobNumber,
		CancelledBy: schemas.Requester{Name: "Noor"}, Reason: "resolved remotely", CancelledAt: at,
	}, e.ECOID)
}

// Started is callout.started dt after creation.
func (e ECO) Started(dt time.Duration) *kgo.Record {
	at := e.At.Add(dt)
	return record(topics.CalloutEvents, e.ECOID, schemas.TypeCalloutStarted, at, schemas.CalloutStarted{
		CalloutRef: e.ref(), Region: e.Region, Round: 0, RosterSize: 3, PeopleNeeded: 1,
		Engagement: schemas.Engagement{LoopCount: 2, RetryAfterSeconds: 1200, FailoverOSPIDs: []string{}, RingDurationSeconds: 25},
		StartedAt:  at,
	}, e.ECOID, "0")
}

func contact(pos int) schemas.Contact {
	return schemas.Contact{Position: pos, Name: fmt.Sprintf("Contact %d", pos), Phone: fmt.Sprintf("+1555010100%d", pos)}
}

// Placed is call.placed to roster position pos, dt after creation.
func (e ECO) Placed(pos int, dt time.Duration) *kgo.Record {
	at := e.At.Add(dt)
	callID := fmt.Sprintf("call-%d", pos)
	return record(topics.CalloutEvents, e.ECOID, schemas.TypeCalloutCallPlaced, at, schemas.CallPlaced{
		CalloutRef: e.ref(), CallID: callID, CallSID: fmt.Sprintf("CA%032d", pos), Contact: contact(pos),
		Pass: 1, Round: 0, PlacedAt: at,
	}, e.ECOID, callID, "placed")
}

// Ended is call.ended for position pos with result, dt after creation.
func (e ECO) Ended(pos int, result string, dt time.Duration) *kgo.Record {
	at := e.At.Add(dt)
	callID := fmt.Sprintf("call-%d", pos)
	return record(topics.CalloutEvents, e.ECOID, schemas.TypeCalloutCallEnded, at, schemas.CallEnded{
		CalloutRef: e.ref(), CallID: callID, CallSID: fmt.Sprintf("CA%032d", pos), Contact: contact(pos),
		Pass: 1, Round: 0, Result: result, DurationSeconds: 12, EndedAt: at,
	}, e.ECOID, callID, "ended")
}

// Accepted is callout.accepted by position pos, dt after creation.
func (e ECO) Accepted(pos int, dt time.Duration) *kgo.Record { return e.accepted(pos, 1, 1, false, dt) }

// AcceptedOf is callout.accepted by position pos as the count-th acceptance of an ECO needing
// needed people, dt after creation.
func (e ECO) AcceptedOf(pos, count, needed int, dt time.Duration) *kgo.Record {
	return e.accepted(pos, count, needed, false, dt)
}

// AcceptedLate is callout.accepted by position pos after the ECO already had the people it
// needed (late: true), dt after creation.
func (e ECO) AcceptedLate(pos int, dt time.Duration) *kgo.Record {
	return e.accepted(pos, 2, 1, true, dt)
}

func (e ECO) accepted(pos, count, needed int, late bool, dt time.Duration) *kgo.Record {
	at := e.At.Add(dt)
	return record(topics.CalloutEvents, e.ECOID, schemas.TypeCalloutAccepted, at, schemas.CalloutAccepted{
		CalloutRef: e.ref(), Contact: contact(pos), CallSID: fmt.Sprintf("CA%032d", pos), CallsMade: pos,
		AcceptedCount: count, PeopleNeeded: needed, Late: late, AcceptedAt: at,
	}, e.ECOID, fmt.Sprint(pos))
}

// Exhausted is callout.exhausted dt after creation.
func (e ECO) Exhausted(dt time.Duration) *kgo.Record {
	at := e.At.Add(dt)
	return record(topics.CalloutEvents, e.ECOID, schemas.TypeCalloutExhausted, at, schemas.CalloutExhausted{
		CalloutRef: e.ref(), CallsMade: 6, Reason: schemas.ExhaustedPasses, ExhaustedAt: at,
	}, e.ECOID)
}

// FieldStatus is render.job.changed with status at version, dt after creation.
func (e ECO) FieldStatus(status string, version int64, dt time.Duration) *kgo.Record {
	at := e.At.Add(dt)
	return record(topics.RenderChanges, e.OSP, schemas.TypeRenderJobChanged, at, schemas.RenderJobChanged{
		ChangeID:    uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprint(e.ECOID, version))).String(),
		OSPTenantID: e.OSP, NOCTenantID: e.NOC, ECOID: e.ECOID, InstanceID: "render-" + e.OSP,
		RenderJobID: "rj-" + e.ECOID, ExternalRef: e.JobNumber, JobNumber: e.JobNumber, Status: status,
		Assignee: "Ada", Version: version, UpdatedAt: at, DetectedAt: at,
	}, "render-"+e.OSP, "rj-"+e.ECOID, fmt.Sprint(version))
}

// Lifecycle is a typical accepted ECO: created, ringing, one no-answer, accepted, on site.
func (e ECO) Lifecycle() []*kgo.Record {
	s := time.Second
	return []*kgo.Record{
		e.Created(), e.Started(1 * s), e.Placed(1, 2*s), e.Ended(1, schemas.CallNoAnswer, 30*s),
		e.Placed(2, 31*s), e.Accepted(2, 40*s), e.Ended(2, schemas.CallAccepted, 41*s),
		e.FieldStatus("dispatched", 1, 60*s), e.FieldStatus("on_site", 2, 600*s),
	}
}
