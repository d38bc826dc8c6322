package sinktest

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

// StartedWithRoster is callout.started dt after creation carrying the roster snapshot of
// positions 1..n (Contact n's numbers, as Placed uses them), position 1 away with a substitute.
func (e ECO) StartedWithRoster(n int, dt time.Duration) *kgo.Record {
	at := e.At.Add(dt)
	var roster []schemas.RosterEntry
	for p := 1; p <= n; p++ {
		roster = append(roster, schemas.RosterEntry{Contact: contact(p)})
	}
	roster[0].Unavailable = []schemas.AwayWindow{{From: e.At.Add(-time.Hour), Until: e.At.Add(time.Hour), Reason: "leave",
		Substitute: Substitute}}
	return record(topics.CalloutEvents, e.ECOID, schemas.TypeCalloutStarted, at, schemas.CalloutStarted{
		CalloutRef: e.ref(), Region: e.Region, Round: 0, RosterSize: n, PeopleNeeded: 1,
		Engagement: schemas.Engagement{LoopCount: 1, RetryAfterSeconds: 1200, FailoverOSPIDs: []string{}, RingDurationSeconds: 25},
		StartedAt:  at, Roster: roster, Rotation: &schemas.Rotation{Mode: "fixed"},
	}, e.ECOID, "0")
}

// Substitute is who stands in for position 1 in StartedWithRoster.
var Substitute = &schemas.Person{Name: "Sam Substitute", Phone: "+15550109999"}

// Skipped is callout.contact.skipped of position pos in pass 1 with reason, dt after creation;
// a substituted skip names Substitute and the call SubstituteCall places.
func (e ECO) Skipped(pos int, reason string, dt time.Duration) *kgo.Record {
	at := e.At.Add(dt)
	ev := schemas.ContactSkipped{CalloutRef: e.ref(), Contact: contact(pos), Pass: 1, Reason: reason,
		Detail: "test: " + reason, SkippedAt: at}
	if reason == schemas.SkipSubstituted {
		ev.Substitute, ev.CallID = Substitute, fmt.Sprintf("call-%d", pos)
	}
	return record(topics.CalloutEvents, e.ECOID, schemas.TypeCalloutContactSkipped, at, ev, e.ECOID, "0", "1", fmt.Sprint(pos))
}

// SubstituteCall is call.placed and call.ended (with result) of Substitute in position pos's
// turn, dt after creation.
func (e ECO) SubstituteCall(pos int, result string, dt time.Duration) []*kgo.Record {
	at := e.At.Add(dt)
	callID := fmt.Sprintf("call-%d", pos)
	c := schemas.Contact{Position: pos, Name: Substitute.Name, Phone: Substitute.Phone}
	return []*kgo.Record{
		record(topics.CalloutEvents, e.ECOID, schemas.TypeCalloutCallPlaced, at, schemas.CallPlaced{
			CalloutRef: e.ref(), CallID: callID, CallSID: fmt.Sprintf("CA%032d", 900+pos), Contact: c, Pass: 1, PlacedAt: at,
		}, e.ECOID, callID, "placed"),
		record(topics.CalloutEvents, e.ECOID, schemas.TypeCalloutCallEnded, at.Add(20*time.Second), schemas.CallEnded{
			CalloutRef: e.ref(), CallID: callID, CallSID: fmt.Sprintf("CA%032d", 900+pos), Contact: c, Pass: 1, Result: result,
			EndedAt: at.Add(20 * time.Second),
		}, e.ECOID, callID, "ended"),
	}
}
