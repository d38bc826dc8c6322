package ringdown

import (
	"fmt"
	"slices"
	"time"

	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/schemas"
)

// This file is who is called in a turn, and why someone is not: away windows and substitutes,
// rotation of the starting point, bypassed people and numbers that proved invalid. Every
// roster person gets an entry in the ECO's record: a call, or a callout.contact.skipped event
// with the reason (schemas.Skip*).

// Roster is what a ring-down starts with: the OSP's contacts in position order, their away
// windows, and where a rotating roster starts.
type Roster struct {
	Contacts []schemas.Contact
	Away     []Away
	// Rotation is the roster's rotation mode (tenancy.Rotation*; "" is fixed).
	Rotation string
	// StartPosition is where the first pass starts (rotating rosters); 0 or a position not on
	// the roster: the first contact.
	StartPosition int
}

// Away is a window in which the contact at Position is away: From inclusive, Until exclusive.
// With a Substitute, the substitute is called in the contact's turn.
type Away struct {
	Position   int             `json:"position"`
	From       time.Time       `json:"from"`
	Until      time.Time       `json:"until"`
	Reason     string          `json:"reason"`
	Substitute *schemas.Person `json:"substitute,omitempty"`
}

// StartWith begins the ring-down of a new ECO with the roster r: the contacts in call order
// from r.StartPosition, skipping or substituting whoever is away at the time of their turn.
func (m Machine) StartWith(eco schemas.ECOCreated, r Roster, tw TwilioContext, now time.Time) (*State, Output, error) {
	contacts := rotate(r.Contacts, r.StartPosition)
	s := &State{V: stateVersion, ECO: eco, Twilio: tw, Roster: contacts, Phase: PhaseRinging, Pass: 1, StartedAt: now,
		Away: r.Away, Rotation: r.Rotation}
	if len(contacts) > 0 && r.Rotation != "" {
		s.StartPosition = contacts[0].Position
	}
	var out Output
	out.Changed = true
	out.Events = append(out.Events, m.started(s, now))
	if len(contacts) == 0 {
		return s, out, m.endRound(s, &out, now, schemas.ExhaustedEmptyRoster, "")
	}
	return s, out, m.advance(s, &out, now)
}

// rotate returns contacts in call order starting at the contact at position start (the first
// one at or after it, wrapping).
func rotate(contacts []schemas.Contact, start int) []schemas.Contact {
	i := slices.IndexFunc(contacts, func(c schemas.Contact) bool { return c.Position >= start })
	if start <= 0 || i <= 0 {
		return contacts
	}
	return append(slices.Clone(contacts[i:]), contacts[:i]...)
}

// snapshot is the roster as callout.started carries it.
func (s *State) snapshot() ([]schemas.RosterEntry, *schemas.Rotation) {
	out := make([]schemas.RosterEntry, len(s.Roster))
	for i, c := range s.Roster {
		out[i].Contact = c
		for _, a := range s.Away {
			if a.Position == c.Position {
				out[i].Unavailable = append(out[i].Unavailable, schemas.AwayWindow{From: a.From.UTC(), Until: a.Until.UTC(),
					Reason: a.Reason, Substitute: a.Substitute})
			}
		}
	}
	mode := s.Rotation
	if mode == "" {
		mode = "fixed"
	}
	return out, &schemas.Rotation{Mode: mode, StartPosition: s.StartPosition}
}

// awayAt is the window in which the contact at position is away at now, if any.
func (s *State) awayAt(position int, now time.Time) *Away {
	for i := range s.Away {
		a := &s.Away[i]
		if a.Position == position && !now.Before(a.From) && now.Before(a.Until) {
			return a
		}
	}
	return nil
}

// next moves to the next contact of this pass who is to be called and returns who to call in
// that turn (the contact, or their substitute under the contact's position); every contact
// passed over gets a skip entry. ok is false when the pass has no one left.
func (m Machine) next(s *State, out *Output, now time.Time) (callee schemas.Contact, ok bool) {
	for s.Next < len(s.Roster) {
		c := s.Roster[s.Next]
		s.Next++
		out.Changed = true
		switch {
		case slices.Contains(s.Steer.Skipped, c.Position):
			s.reached(c.Position)
			m.skipEntry(s, out, c, schemas.SkipBypassed, "skipped by a dispatcher for this ECO", nil, now)
			continue
		case s.skips(c):
			continue // called out of order in this pass, or accepted: their call is their entry
		}
		s.reached(c.Position)
		callee = c
		away := s.awayAt(c.Position, now)
		if away != nil && away.Substitute == nil {
			m.skipEntry(s, out, c, schemas.SkipUnavailable, "away: "+away.Reason, away, now)
			continue
		}
		if away != nil {
			callee = schemas.Contact{Position: c.Position, Name: away.Substitute.Name, Phone: away.Substitute.Phone}
		}
		if slices.Contains(s.Invalid, callee.Phone) {
			m.skipEntry(s, out, c, schemas.SkipInvalidNumber, fmt.Sprintf("%s proved invalid earlier in this ECO", callee.Phone), nil, now)
			continue
		}
		if away != nil {
			m.skipEntry(s, out, c, schemas.SkipSubstituted, "away: "+away.Reason+"; substitute called", away, now)
		}
		return callee, true
	}
	return schemas.Contact{}, false
}

// reached records that the contact at position had their turn in this ECO.
func (s *State) reached(position int) {
	if !slices.Contains(s.Reached, position) {
		s.Reached = append(s.Reached, position)
	}
}

// skipEntry emits the skip entry of contact c in this turn.
func (m Machine) skipEntry(s *State, out *Output, c schemas.Contact, reason, detail string, away *Away, now time.Time) {
	ev := schemas.ContactSkipped{CalloutRef: s.ref(), Contact: c, Round: s.Round, Pass: s.Pass, Reason: reason, Detail: detail,
		SkippedAt: now.UTC()}
	if away != nil {
		until := away.Until.UTC()
		ev.AwayUntil = &until
		if reason == schemas.SkipSubstituted {
			ev.Substitute = away.Substitute
			ev.CallID = CallID(s.ECO.ECOID, s.Round, s.Pass, c.Position)
		}
	}
	out.Changed = true
	out.Events = append(out.Events, Event{Type: schemas.TypeCalloutContactSkipped,
		ID: ids.EventID(schemas.TypeCalloutContactSkipped, s.ECO.ECOID, fmt.Sprint(s.Round), fmt.Sprint(s.Pass), fmt.Sprint(c.Position)),
		At: now, Value: ev})
}

// unreached gives every contact who never had a turn in this ECO their entry when the
// ring-down ends: filled before their turn, or not reached (cancelled, ended).
func (m Machine) unreached(s *State, out *Output, phase string, now time.Time) {
	if s.Reached == nil {
		// Started by a release before the entries existed (every ring-down since has reached
		// its first contact at Start): who had a turn is unknown, so claim nothing.
		return
	}
	reason, detail := schemas.SkipNotReached, "ring-down "+phase+" before their turn"
	if phase == PhaseAccepted {
		reason, detail = schemas.SkipFilled, "the ECO was filled before their turn"
	}
	for _, c := range s.Roster {
		if !s.hadTurn(c.Position) {
			s.reached(c.Position)
			m.skipEntry(s, out, c, reason, detail, nil, now)
		}
	}
}

// hadTurn reports whether the contact at position has an entry already: reached in the roster
// order, called out of order (control.go), accepted, or on a live call.
func (s *State) hadTurn(position int) bool {
	return slices.Contains(s.Reached, position) || s.accepted(position) || s.calling(position) ||
		slices.ContainsFunc(s.Steer.CalledOut, func(id string) bool { return CallIDPosition(id) == position })
}

// invalid remembers a number that proved invalid, so later turns skip it instead of calling.
func (s *State) invalid(phone string) {
	if phone != "" && !slices.Contains(s.Invalid, phone) {
		s.Invalid = append(s.Invalid, phone)
	}
}

// callee is who was called under callID: the contact at its position, or the substitute who
// stood in for them then.
func (s *State) callee(callID string) schemas.Contact {
	pos := CallIDPosition(callID)
	for _, e := range s.Ended {
		if e.ID == callID && e.Contact != nil {
			return *e.Contact
		}
	}
	if c, ok := s.contact(pos); ok {
		return c
	}
	return schemas.Contact{Position: pos}
}
