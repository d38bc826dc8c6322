package gateway

import (
	"cmp"
	"encoding/json"
	"slices"
	"time"

	"github.com/osprey-strike/strike/schemas"
)

// "Why was or wasn't someone called" (issue 13): every person of an ECO's roster with an entry
// for each turn they had, assembled from what the sink projected: the roster snapshot that
// callout.started carries, the callout.contact.skipped events on the timeline, and the call
// attempts. No query of its own: getECO has read all three.

// PeopleView is the ECO's roster as its ring-down used it, person by person.
type PeopleView struct {
	// Snapshot is false for ECOs whose callout.started carried no roster (before issue 13):
	// then only the people who were called are listed.
	Snapshot bool              `json:"snapshot"`
	Rotation *schemas.Rotation `json:"rotation,omitempty"`
	People   []PersonRecord    `json:"people"`
}

// PersonRecord is one person and their entries, in call order.
type PersonRecord struct {
	Position int    `json:"position"`
	Name     string `json:"name"`
	Phone    string `json:"phone"`
	// OnRoster is false for someone called who was not in the snapshot (an ad-hoc number).
	OnRoster bool `json:"on_roster"`
	// Added is true for a number an OSP dispatcher added to this ECO (control add_number).
	Added       bool                 `json:"added,omitempty"`
	Unavailable []schemas.AwayWindow `json:"unavailable,omitempty"`
	Entries     []PersonEntry        `json:"entries"`
}

// PersonEntry is one turn of a person: called (with the call's result) or skipped (with the
// reason).
type PersonEntry struct {
	Round   int    `json:"round"`
	Pass    int    `json:"pass"`
	Outcome string `json:"outcome"` // called | skipped
	// Result is the call's result; empty while the call runs.
	Result string `json:"result,omitempty"`
	// Reason is why they were skipped: unavailable, substituted, bypassed, filled,
	// invalid_number, not_reached.
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
	CallID string `json:"call_id,omitempty"`
	// Callee is who was called in their turn when it was not them (their substitute).
	Callee     *schemas.Person `json:"callee,omitempty"`
	Substitute *schemas.Person `json:"substitute,omitempty"`
	AwayUntil  *time.Time      `json:"away_until,omitempty"`
	At         time.Time       `json:"at"`
}

const (
	outcomeCalled  = "called"
	outcomeSkipped = "skipped"
)

// peopleOf assembles the people view; nil when the ECO never started ringing.
func peopleOf(timeline []TimelineEvent, calls []CallAttempt) *PeopleView {
	v := &PeopleView{People: []PersonRecord{}}
	at := map[int]int{} // position -> index in v.People
	person := func(pos int, name, phone string, onRoster bool) *PersonRecord {
		if i, ok := at[pos]; ok {
			return &v.People[i]
		}
		at[pos] = len(v.People)
		v.People = append(v.People, PersonRecord{Position: pos, Name: name, Phone: phone, OnRoster: onRoster, Entries: []PersonEntry{}})
		return &v.People[len(v.People)-1]
	}
	started := false
	for _, ev := range timeline {
		if ev.Type != schemas.TypeCalloutStarted {
			continue
		}
		started = true
		var st schemas.CalloutStarted
		if json.Unmarshal(ev.Data, &st) != nil || len(st.Roster) == 0 || v.Snapshot {
			continue
		}
		v.Snapshot, v.Rotation = true, st.Rotation
		for _, r := range st.Roster {
			p := person(r.Position, r.Name, r.Phone, true)
			p.Unavailable = r.Unavailable
		}
	}
	// Numbers a dispatcher added: off the snapshot by design, and said so.
	for _, ev := range timeline {
		if ev.Type != schemas.TypeCalloutControlOutcome {
			continue
		}
		var o schemas.ControlOutcome
		if json.Unmarshal(ev.Data, &o) != nil || o.Action != schemas.ControlAddNumber || o.Outcome != schemas.ControlApplied || o.Contact == nil {
			continue
		}
		person(o.Contact.Position, o.Contact.Name, o.Contact.Phone, false).Added = true
	}
	// Skips before calls: a substitute's call is then filed under the person skipped for it.
	for _, ev := range timeline {
		if ev.Type != schemas.TypeCalloutContactSkipped {
			continue
		}
		var sk schemas.ContactSkipped
		if json.Unmarshal(ev.Data, &sk) != nil {
			continue
		}
		p := person(sk.Contact.Position, sk.Contact.Name, sk.Contact.Phone, false)
		p.Entries = append(p.Entries, PersonEntry{Round: sk.Round, Pass: sk.Pass, Outcome: outcomeSkipped, Reason: sk.Reason,
			Detail: sk.Detail, CallID: sk.CallID, Substitute: sk.Substitute, AwayUntil: sk.AwayUntil, At: sk.SkippedAt})
	}
	for _, c := range calls {
		if c.ContactPosition == nil {
			continue
		}
		name, phone := deref(c.ContactName), deref(c.ContactPhone)
		p := person(*c.ContactPosition, name, phone, false)
		e := PersonEntry{Round: deref(c.Round), Pass: deref(c.Pass), Outcome: outcomeCalled, Result: deref(c.Result),
			Detail: deref(c.Detail), CallID: c.CallID}
		if phone != p.Phone {
			e.Callee = &schemas.Person{Name: name, Phone: phone}
		}
		if t := cmp.Or(c.PlacedAt, c.EndedAt); t != nil {
			e.At = *t
		}
		p.Entries = append(p.Entries, e)
	}
	if !started && len(v.People) == 0 {
		return nil
	}
	for i := range v.People {
		slices.SortStableFunc(v.People[i].Entries, func(a, b PersonEntry) int {
			return cmp.Or(cmp.Compare(a.Round, b.Round), cmp.Compare(a.Pass, b.Pass), a.At.Compare(b.At))
		})
	}
	return v
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
