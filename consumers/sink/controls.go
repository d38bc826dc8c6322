package sink

import (
	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/schemas"
)

// Controls and call-ins (issue 13) go to the ECO's timeline only: who steered the callout and
// how (the outcome carries the actor and, when refused, the reason), and which call-in held or
// gave back a place. Their effects on the board come through the callout events they cause
// (a stop's callout.cancelled, a call-in's callout.accepted).

func onControlOutcome(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.ControlOutcome](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
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
