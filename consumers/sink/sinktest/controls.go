package sinktest

import (
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

// ControlOutcome is the dialer's outcome of a control by actor: outcome applied, or refused
// with reason.
func (e ECO) ControlOutcome(actor schemas.Actor, action, outcome, reason string, dt time.Duration) *kgo.Record {
	id := uuid.NewString()
	o := schemas.ControlOutcome{CalloutRef: e.ref(), ControlID: id, Action: action, Actor: actor, Outcome: outcome,
		Reason: reason, DecidedAt: e.At.Add(dt)}
	if reason != "" {
		o.Detail = "refused: " + reason
	}
	return record(topics.CalloutEvents, e.ECOID, schemas.TypeCalloutControlOutcome, e.At.Add(dt), o, e.ECOID, id)
}

// CallIn is a call-in's hold (outcome held), refusal or release, from the contact at pos.
func (e ECO) CallIn(pos int, outcome, reason string, dt time.Duration) *kgo.Record {
	c := contact(pos)
	sid := "CA" + uuid.NewString()[:8] + "000000000000000000000000"
	ev := schemas.CallIn{CalloutRef: e.ref(), CallID: schemas.CallInID(sid), CallSID: sid, From: c.Phone, Contact: &c,
		Outcome: outcome, Reason: reason, At: e.At.Add(dt)}
	return record(topics.CalloutEvents, e.ECOID, schemas.TypeCalloutCallIn, e.At.Add(dt), ev, e.ECOID, sid, outcome)
}

// NumberAdded is the applied outcome of an OSP dispatcher's add_number control: Contact n's
// number added to the ECO at position pos (beyond the roster snapshot), dt after creation.
func (e ECO) NumberAdded(actor schemas.Actor, pos int, dt time.Duration) *kgo.Record {
	id := uuid.NewString()
	c := contact(pos)
	o := schemas.ControlOutcome{CalloutRef: e.ref(), ControlID: id, Action: schemas.ControlAddNumber, Actor: actor,
		Outcome: schemas.ControlApplied, Contact: &c, DecidedAt: e.At.Add(dt)}
	return record(topics.CalloutEvents, e.ECOID, schemas.TypeCalloutControlOutcome, e.At.Add(dt), o, e.ECOID, id)
}

// PeopleNeededSet is the outcome (applied, or refused with reason) of a NOC's set_people_needed
// control asking for n people, dt after creation. Both carry n (the dialer leaves it out of a
// refusal, but the projection must not rely on that).
func (e ECO) PeopleNeededSet(actor schemas.Actor, n int, reason string, dt time.Duration) *kgo.Record {
	id := uuid.NewString()
	o := schemas.ControlOutcome{CalloutRef: e.ref(), ControlID: id, Action: schemas.ControlPeopleNeeded, Actor: actor,
		Outcome: schemas.ControlApplied, PeopleNeeded: n, DecidedAt: e.At.Add(dt)}
	if reason != "" {
		o.Outcome, o.Reason, o.Detail = schemas.ControlRefused, reason, "refused: "+reason
	}
	return record(topics.CalloutEvents, e.ECOID, schemas.TypeCalloutControlOutcome, e.At.Add(dt), o, e.ECOID, id)
}
