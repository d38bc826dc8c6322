package sink

import (
	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/schemas"
)

// A person skipped in their turn (issue 13) goes to the ECO's timeline, beside the roster
// snapshot callout.started carries and the call attempts: together they are "why was or wasn't
// someone called", which the API's ECO view assembles per person (producers/gateway/people.go).

func onContactSkipped(v *schemas.Validator, ce cloudevents.Event, raw []byte) ([]stmt, string, error) {
	e, err := decodeAs[schemas.ContactSkipped](v, ce.Type, raw)
	if err != nil {
		return nil, "", err
	}
	return withTimeline(ce, e.ECOID, e.NOCTenantID, e.OSPTenantID, e.SkippedAt, raw), e.ECOID, nil
}
