package ringdown

import (
	"fmt"
	"slices"
	"time"

	"github.com/osprey-strike/strike/internal/engagement"
	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/schemas"
)

// This file is how people steer a running ring-down (issue 13): the NOC's engagement intent
// (stop, people needed, passes) and the OSP's people (skip, call next, an ad-hoc number). A
// control is an input like a callback: applied in the transaction of its batch, between the
// ring-down's own inputs, and answered with an outcome event, applied or refused with a reason.
// Every promise of doc.go still holds: a control never places more live calls than people are
// still needed, and nothing is called once the ECO is filled.

// maxApplied bounds the control ids remembered to drop a redelivered control.
const maxApplied = 32

// Steering is what controls and call-ins changed in a ring-down. Empty for an ECO nobody
// steered, so a state written by an older release restores as is.
type Steering struct {
	// Skipped are roster positions the OSP skipped: never called (again) for this ECO.
	Skipped []int `json:"skipped,omitempty"`
	// NextUp are positions to call before the roster order continues, first first.
	NextUp []int `json:"next_up,omitempty"`
	// CalledOut are the ids CallID(eco, round, pass, position) of contacts called out of order
	// (call next): the roster order does not call them again in that pass.
	CalledOut []string `json:"called_out,omitempty"`
	// Applied are the last control ids applied or refused: a copy changes nothing.
	Applied []string `json:"applied,omitempty"`
	// Holds are call-ins (callin.go) whose place is held while they listen.
	Holds []Hold `json:"holds,omitempty"`
}

func (g Steering) clone() Steering {
	g.Skipped = slices.Clone(g.Skipped)
	g.NextUp = slices.Clone(g.NextUp)
	g.CalledOut = slices.Clone(g.CalledOut)
	g.Applied = slices.Clone(g.Applied)
	g.Holds = slices.Clone(g.Holds)
	return g
}

// skips reports whether the roster order passes over c in the current pass.
func (s *State) skips(c schemas.Contact) bool {
	return slices.Contains(s.Steer.Skipped, c.Position) ||
		slices.Contains(s.Steer.CalledOut, CallID(s.ECO.ECOID, s.Round, s.Pass, c.Position)) || s.accepted(c.Position)
}

func (s *State) accepted(position int) bool {
	return slices.ContainsFunc(s.Accepted, func(a Acceptance) bool { return a.Contact.Position == position })
}

func (s *State) contact(position int) (schemas.Contact, bool) {
	i := slices.IndexFunc(s.Roster, func(c schemas.Contact) bool { return c.Position == position })
	if i < 0 {
		return schemas.Contact{}, false
	}
	return s.Roster[i], true
}

// busy is how many places are taken: live calls and held call-ins.
func (s *State) busy() int { return len(s.Calls) + len(s.Steer.Holds) }

// nextUp places the first contact the OSP asked to call next, if any is still callable. It
// reports whether it placed a call.
func (m Machine) nextUp(s *State, out *Output, now time.Time) bool {
	for len(s.Steer.NextUp) > 0 {
		pos := s.Steer.NextUp[0]
		s.Steer.NextUp = s.Steer.NextUp[1:]
		out.Changed = true
		c, ok := s.contact(pos)
		if !ok || slices.Contains(s.Steer.Skipped, pos) || s.accepted(pos) || s.calling(pos) {
			continue
		}
		base := CallID(s.ECO.ECOID, s.Round, s.Pass, pos)
		s.Steer.CalledOut = append(s.Steer.CalledOut, base)
		// Unique even when the roster order reached this contact earlier in the pass.
		call := Call{ID: fmt.Sprintf("%s/n%d", base, len(s.Steer.CalledOut)), Contact: c, Round: s.Round, Pass: s.Pass,
			Seq: -1, IntentAt: now, Placing: true}
		s.Calls = append(s.Calls, call)
		out.Commands = append(out.Commands, m.place(s, call))
		return true
	}
	return false
}

// calling reports whether a live call to position is under way.
func (s *State) calling(position int) bool {
	return slices.ContainsFunc(s.Calls, func(c Call) bool { return c.Contact.Position == position })
}

func (m Machine) bounds() engagement.Guardrails {
	if m.Guardrails.LoopCountMax == 0 {
		return engagement.Defaults()
	}
	return m.Guardrails
}

// ApplyControl applies one control. Refusals are outcomes, not errors: the error is only the
// failover link check's.
func (m Machine) ApplyControl(s *State, c schemas.CalloutControl, now time.Time) (Output, error) {
	var out Output
	if slices.Contains(s.Steer.Applied, c.ControlID) {
		return out, nil // a copy of a control already decided
	}
	s.Steer.Applied = append(s.Steer.Applied, c.ControlID)
	if len(s.Steer.Applied) > maxApplied {
		s.Steer.Applied = s.Steer.Applied[len(s.Steer.Applied)-maxApplied:]
	}
	out.Changed = true
	res := schemas.ControlOutcome{CalloutRef: s.ref(), ControlID: c.ControlID, Action: c.Action, Actor: c.Actor,
		Outcome: schemas.ControlApplied, DecidedAt: now.UTC()}
	refuse := func(reason, detail string) (Output, error) {
		res.Outcome, res.Reason, res.Detail = schemas.ControlRefused, reason, detail
		out.Events = append(out.Events, m.outcome(s, res, now))
		return out, nil
	}
	owner := schemas.ControlOwner(c.Action)
	tenant := map[string]string{"noc": s.ECO.NOCTenantID, "osp": s.ECO.OSPTenantID}[c.Actor.Kind]
	switch {
	case owner == "":
		return refuse(schemas.RefusedInvalid, fmt.Sprintf("unknown action %q", c.Action))
	case c.Actor.Kind != owner:
		return refuse(schemas.RefusedWrongKind, fmt.Sprintf("%s is decided by the %s (DESIGN §1: the NOC owns engagement intent, the OSP its people)", c.Action, owner))
	case c.Actor.TenantID != tenant:
		return refuse(schemas.RefusedWrongTenant, fmt.Sprintf("%s %s is not this ECO's %s", c.Actor.Kind, c.Actor.TenantID, owner))
	case s.Final():
		return refuse(schemas.RefusedFinished, "the callout has ended: "+s.Phase)
	}
	g := m.bounds()
	var err error
	switch c.Action {
	case schemas.ControlStop:
		out.Events = append(out.Events, m.outcome(s, res, now))
		out.Events = append(out.Events, Event{Type: schemas.TypeCalloutCancelled,
			ID: ids.EventID(schemas.TypeCalloutCancelled, s.ECO.ECOID), At: now,
			Value: schemas.CalloutCancelled{CalloutRef: s.ref(), CancelledBy: c.Actor.User.Name, Reason: stopReason(c.Reason), CancelledAt: now.UTC()}})
		m.finish(s, &out, PhaseCancelled, now)
		return out, nil
	case schemas.ControlPeopleNeeded:
		n := c.PeopleNeeded
		switch {
		case n < 1 || n > g.PeopleNeededMax:
			return refuse(schemas.RefusedOutOfBounds, fmt.Sprintf("people needed %d is outside Strike's bounds 1..%d", n, g.PeopleNeededMax))
		case n < len(s.Accepted):
			return refuse(schemas.RefusedBelowAccepted, fmt.Sprintf("%d people have already accepted", len(s.Accepted)))
		}
		s.ECO.PeopleNeeded = n
		res.PeopleNeeded = n
		out.Events = append(out.Events, m.outcome(s, res, now))
		if s.needed() <= 0 {
			m.finish(s, &out, PhaseAccepted, now) // the people who accepted are enough now
			return out, nil
		}
		m.trim(s, &out, "people needed lowered", now)
	case schemas.ControlPasses:
		n := c.LoopCount
		switch {
		case n < g.LoopCountMin || n > g.LoopCountMax:
			return refuse(schemas.RefusedOutOfBounds, fmt.Sprintf("passes %d is outside Strike's bounds %d..%d", n, g.LoopCountMin, g.LoopCountMax))
		case s.Phase == PhaseRinging && n < s.Pass:
			return refuse(schemas.RefusedPassRunning, fmt.Sprintf("pass %d is already running", s.Pass))
		}
		s.ECO.Engagement.LoopCount = n
		res.LoopCount = n
		out.Events = append(out.Events, m.outcome(s, res, now))
	case schemas.ControlSkip, schemas.ControlCallNext:
		ct, ok := s.contact(c.ContactPosition)
		switch {
		case !ok:
			return refuse(schemas.RefusedUnknown, fmt.Sprintf("no contact at position %d on this ECO's roster", c.ContactPosition))
		case s.accepted(ct.Position):
			return refuse(schemas.RefusedAccepted, ct.Name+" has already accepted")
		case c.Action == schemas.ControlCallNext && s.calling(ct.Position):
			return refuse(schemas.RefusedCalling, ct.Name+" is being called now")
		}
		res.Contact = &ct
		out.Events = append(out.Events, m.outcome(s, res, now))
		if c.Action == schemas.ControlSkip {
			m.skip(s, &out, ct, "skipped by "+c.Actor.User.Name, now)
		} else {
			s.Steer.Skipped = slices.DeleteFunc(s.Steer.Skipped, func(p int) bool { return p == ct.Position })
			if !slices.Contains(s.Steer.NextUp, ct.Position) {
				s.Steer.NextUp = append(s.Steer.NextUp, ct.Position)
			}
		}
	case schemas.ControlAddNumber:
		if c.Phone == "" {
			return refuse(schemas.RefusedInvalid, "an ad-hoc number needs phone (E.164)")
		}
		if slices.ContainsFunc(s.Roster, func(r schemas.Contact) bool { return r.Phone == c.Phone }) {
			return refuse(schemas.RefusedDuplicate, c.Phone+" is already on this ECO's roster")
		}
		pos := 1
		for _, r := range s.Roster {
			pos = max(pos, r.Position+1)
		}
		ct := schemas.Contact{Position: pos, Name: c.Name, Phone: c.Phone}
		if ct.Name == "" {
			ct.Name = "ad hoc " + c.Phone
		}
		// The roster is shared by the committed state and its working copies: never append in
		// place.
		s.Roster = append(slices.Clip(s.Roster), ct)
		s.Steer.NextUp = append(s.Steer.NextUp, pos)
		res.Contact = &ct
		out.Events = append(out.Events, m.outcome(s, res, now))
	}
	if s.Phase == PhaseRinging {
		err = m.advance(s, &out, now)
	}
	return out, err
}

func stopReason(r string) string {
	if r == "" {
		return "callout stopped by the NOC"
	}
	return "callout stopped by the NOC: " + r
}

func (m Machine) outcome(s *State, res schemas.ControlOutcome, now time.Time) Event {
	return Event{Type: schemas.TypeCalloutControlOutcome, ID: ids.EventID(schemas.TypeCalloutControlOutcome, s.ECO.ECOID, res.ControlID),
		At: now, Value: res}
}

// skip marks ct skipped and ends a live call to them (hung up; a CreateCall still in flight is
// hung up when its answer comes, as for any ended attempt).
func (m Machine) skip(s *State, out *Output, ct schemas.Contact, detail string, now time.Time) {
	if !slices.Contains(s.Steer.Skipped, ct.Position) {
		s.Steer.Skipped = append(s.Steer.Skipped, ct.Position)
	}
	s.Steer.NextUp = slices.DeleteFunc(s.Steer.NextUp, func(p int) bool { return p == ct.Position })
	for i := len(s.Calls) - 1; i >= 0; i-- {
		if s.Calls[i].Contact.Position == ct.Position {
			m.hangUp(s, out, i, detail, now)
		}
	}
	// A call-in of theirs gives its place back: their 1 is no longer wanted (it is late).
	for i := len(s.Steer.Holds) - 1; i >= 0; i-- {
		if s.Steer.Holds[i].Contact.Position == ct.Position {
			m.dropHold(s, out, i, schemas.SkipBypassed, now)
		}
	}
}

// hangUp ends live call i as cancelled without moving the ring-down on (the caller does).
func (m Machine) hangUp(s *State, out *Output, i int, detail string, now time.Time) {
	c := s.Calls[i]
	for _, sid := range c.sids() {
		out.Commands = append(out.Commands, Command{Kind: CmdEnd, ECOID: s.ECO.ECOID, Call: Call{ID: c.ID, SID: sid}})
	}
	s.Calls = append(s.Calls[:i:i], s.Calls[i+1:]...)
	m.ended(s, out, c, schemas.CallCanceled, detail, now)
}

// trim hangs up the newest live calls while more places are taken than people are needed
// (people needed lowered): at most as many live calls as people still needed.
func (m Machine) trim(s *State, out *Output, detail string, now time.Time) {
	for len(s.Calls) > 0 && len(s.Calls) > s.needed() {
		m.hangUp(s, out, len(s.Calls)-1, detail, now)
	}
}
