package sink

import (
	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/schemas"
)

// Controls and call-ins (issue 13) go to the ECO's timeline: who steered the callout and how
// (the outcome carries the actor and, when refused, the reason), and which call-in held or gave
// back a place. Their effects on the board come through the callout events they cause (a stop's
// callout.cancelled, a call-in's callout.accepted), except people needed, which no other event
// carries until someone accepts: an applied set_people_needed sets the board's figure itself
// (ordered by its time, so a redelivered older outcome never moves it back).

func onControlOutcome(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.ControlOutcome](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	if e.Action == schemas.ControlPeopleNeeded && e.Outcome == schemas.ControlApplied && e.PeopleNeeded > 0 {
		b := refBoard(e.CalloutRef, ce.ID, e.DecidedAt)
		b.PeopleNeeded = &e.PeopleNeeded
		return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.DecidedAt, raw, b.Stmt()), e.ECOID, nil
	}
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.DecidedAt, raw), e.ECOID, nil
}

func onCallIn(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.CallIn](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.At, raw), e.ECOID, nil
}
