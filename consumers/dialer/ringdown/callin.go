package ringdown

import (
	"slices"
	"strings"
	"time"

	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/schemas"
)

// This file is call-in acceptance (issue 13): a contact who missed the call dials the NOC's
// Strike number back, the gateway recognises their number and lets them choose an open ECO they
// were called for, and the dialer holds a place for them while they listen (kind callin). A 1
// on the call-in then accepts like a 1 on a placed call; a 2, an expired hold or the end of the
// call gives the place back.
//
// Exactly one person fills a place: a hold is granted only while fewer call-ins hold places
// than people are still needed, a held place is not offered to a new placed call, and
// acceptances are applied in the order of the ECO's partition, so of a call-in and a placed
// call racing for the last place the first 1 in the log wins and the other is a late
// acceptance that never counts.

// Hold is a call-in whose place is held.
type Hold struct {
	CallID  string          `json:"call_id"`
	SID     string          `json:"sid"`
	Contact schemas.Contact `json:"contact"`
	Until   time.Time       `json:"until"`
}

// IsCallIn reports whether callID is an inbound call's.
func IsCallIn(callID string) bool { return strings.HasPrefix(callID, schemas.CallInPrefix) }

func (s *State) hold(callID string) int {
	return slices.IndexFunc(s.Steer.Holds, func(h Hold) bool { return h.CallID == callID })
}

// holdFor is how long a place is held: as long as an answered call may take to answer.
func (m Machine) holdFor() time.Duration { return m.Rules.AnswerGrace }

func (m Machine) applyCallIn(s *State, cb schemas.TelephonyCallback, now time.Time) (Output, error) {
	var out Output
	i := s.hold(cb.CallID)
	switch {
	case cb.Kind == schemas.CallbackCallIn:
		if i >= 0 {
			return out, nil // a copy
		}
		ev := schemas.CallIn{CalloutRef: s.ref(), CallID: cb.CallID, CallSID: cb.CallSID, From: cb.From, At: now.UTC()}
		k := slices.IndexFunc(s.Roster, func(c schemas.Contact) bool { return c.Phone == cb.From })
		if k >= 0 {
			ct := s.Roster[k]
			ev.Contact = &ct
		}
		switch {
		case s.Final():
			ev.Outcome, ev.Reason = schemas.CallInRefused, schemas.RefusedFinished
		case k < 0 || slices.Contains(s.Steer.Skipped, s.Roster[k].Position):
			ev.Outcome, ev.Reason = schemas.CallInRefused, schemas.CallInNotOnRoster
		case s.accepted(s.Roster[k].Position):
			ev.Outcome, ev.Reason = schemas.CallInRefused, schemas.RefusedAccepted
		case len(s.Steer.Holds) >= s.needed():
			ev.Outcome, ev.Reason = schemas.CallInRefused, schemas.CallInNoPlace
		default:
			h := Hold{CallID: cb.CallID, SID: cb.CallSID, Contact: s.Roster[k], Until: now.Add(m.holdFor())}
			s.Steer.Holds = append(s.Steer.Holds, h)
			ev.Outcome, ev.HoldUntil = schemas.CallInHeld, h.Until.UTC()
		}
		out.Changed = true
		out.Events = append(out.Events, m.callInEvent(s, ev, now))
		return out, nil
	case i < 0:
		if cb.Kind == schemas.CallbackGather && cb.Digits == "1" && !s.lateSeen(cb.CallID) {
			// No place was held (refused, expired, or the ECO filled meanwhile): recorded as a
			// late acceptance, never counted.
			s.remember(EndedCall{ID: cb.CallID, SID: cb.CallSID, Result: schemas.CallCanceled, Late: true})
			return out, m.late(s, &out, cb.CallID, cb.CallSID, schemas.Contact{Phone: cb.From}, now)
		}
		return out, nil
	case cb.Kind == schemas.CallbackGather && cb.Digits == "1":
		return out, m.acceptHold(s, &out, i, now)
	case cb.Kind == schemas.CallbackGather, twilio.IsTerminal(cb.CallStatus):
		reason := schemas.CallInDeclined
		if cb.Kind != schemas.CallbackGather {
			reason = "call_ended"
		}
		return out, m.release(s, &out, i, reason, now)
	}
	return out, nil
}

func (s *State) lateSeen(callID string) bool {
	j := s.endedCall(callID)
	return j >= 0 && s.Ended[j].Late
}

func (m Machine) callInEvent(s *State, ev schemas.CallIn, now time.Time) Event {
	return Event{Type: schemas.TypeCalloutCallIn, ID: ids.EventID(schemas.TypeCalloutCallIn, s.ECO.ECOID, ev.CallID, ev.Outcome), At: now, Value: ev}
}

// acceptHold turns held place i into an acceptance.
func (m Machine) acceptHold(s *State, out *Output, i int, now time.Time) error {
	h := s.Steer.Holds[i]
	s.Steer.Holds = slices.Delete(s.Steer.Holds, i, i+1)
	out.Changed = true
	if s.needed() <= 0 || s.Final() {
		return m.late(s, out, h.CallID, h.SID, h.Contact, now)
	}
	m.count(s, out, h.CallID, h.SID, h.Contact, now)
	s.remember(EndedCall{ID: h.CallID, SID: h.SID, Result: schemas.CallAccepted})
	// A placed call to the same person is no longer needed.
	for k := len(s.Calls) - 1; k >= 0; k-- {
		if s.Calls[k].Contact.Position == h.Contact.Position {
			m.hangUp(s, out, k, "accepted by call-in", now)
		}
	}
	if s.needed() <= 0 {
		m.finish(s, out, PhaseAccepted, now)
		return nil
	}
	m.trim(s, out, "filled by call-in", now)
	if s.Phase == PhaseRinging {
		return m.advance(s, out, now)
	}
	return nil
}

// release gives held place i back and moves the ring-down on.
func (m Machine) release(s *State, out *Output, i int, reason string, now time.Time) error {
	m.dropHold(s, out, i, reason, now)
	if s.Phase == PhaseRinging {
		return m.advance(s, out, now)
	}
	return nil
}

// dropHold gives held place i back, with its released event, without moving the ring-down on.
func (m Machine) dropHold(s *State, out *Output, i int, reason string, now time.Time) {
	h := s.Steer.Holds[i]
	s.Steer.Holds = slices.Delete(s.Steer.Holds, i, i+1)
	out.Changed = true
	ct := h.Contact
	out.Events = append(out.Events, m.callInEvent(s, schemas.CallIn{CalloutRef: s.ref(), CallID: h.CallID, CallSID: h.SID,
		Contact: &ct, Outcome: schemas.CallInReleased, Reason: reason, At: now.UTC()}, now))
}

// expireHolds releases the holds whose time is up.
func (m Machine) expireHolds(s *State, out *Output, now time.Time) error {
	for i := len(s.Steer.Holds) - 1; i >= 0; i-- {
		if !now.Before(s.Steer.Holds[i].Until) {
			if err := m.release(s, out, i, schemas.CallInExpired, now); err != nil {
				return err
			}
		}
	}
	return nil
}
