package ringdown

import (
	"fmt"
	"time"

	"github.com/osprey-strike/strike/internal/engagement"
	"github.com/osprey-strike/strike/internal/ids"

	"github.com/osprey-strike/strike/schemas"
)

// This file is the ring-down state machine of one ECO. It is pure: every input comes with the
// time it is applied at, every decision is returned as events to publish, commands to run after
// the transaction commits, and the new state. Nothing here talks to Kafka, Twilio or PostgreSQL,
// except the failover link check, which the caller answers through Env.

// Machine applies inputs to states.
type Machine struct {
	Rules Rules
	Env   Env
	// Guardrails bound the controls' people needed and passes; zero: engagement.Defaults().
	Guardrails engagement.Guardrails
}

// Start begins the ring-down of a new ECO with the OSP's roster for its region, in position
// order, nobody away (StartWith takes a whole Roster).
func (m Machine) Start(eco schemas.ECOCreated, roster []schemas.Contact, tw TwilioContext, now time.Time) (*State, Output, error) {
	return m.StartWith(eco, Roster{Contacts: roster}, tw, now)
}

func (m Machine) started(s *State, now time.Time) Event {
	roster, rotation := s.snapshot()
	return Event{Type: schemas.TypeCalloutStarted, ID: ids.EventID(schemas.TypeCalloutStarted, s.ECO.ECOID, fmt.Sprint(s.Round)), At: now,
		Value: schemas.CalloutStarted{CalloutRef: s.ref(), Region: s.ECO.Region, Round: s.Round, RosterSize: len(s.Roster),
			PeopleNeeded: max(s.ECO.PeopleNeeded, 1), Engagement: s.ECO.Engagement, StartedAt: now.UTC(),
			Roster: roster, Rotation: rotation}}
}

// advance places calls while people are still needed: at most needed live calls, each to the
// next contact in roster order; a new pass starts once the previous one's calls have ended.
func (m Machine) advance(s *State, out *Output, now time.Time) error {
	for s.Phase == PhaseRinging && s.busy() < s.needed() {
		if m.nextUp(s, out, now) {
			continue // the OSP asked for this contact next (control.go)
		}
		if s.Next >= len(s.Roster) {
			if len(s.Calls) > 0 {
				return nil // wait for the live calls of this pass
			}
			if s.Pass < max(s.ECO.Engagement.LoopCount, 1) {
				s.Pass++
				s.Next = 0
				out.Changed = true
				continue
			}
			return m.endRound(s, out, now, "", "")
		}
		c, ok := m.next(s, out, now) // skips, with their entries, whoever is not to be called
		if !ok {
			continue
		}
		call := Call{ID: CallID(s.ECO.ECOID, s.Round, s.Pass, c.Position), Contact: c, Round: s.Round, Pass: s.Pass,
			Seq: -1, IntentAt: now, Placing: true}
		s.Calls = append(s.Calls, call)
		out.Changed = true
		out.Commands = append(out.Commands, m.place(s, call))
	}
	return nil
}

// place is the command that places call; its priority orders it under a CPS storm.
func (m Machine) place(s *State, c Call) Command {
	return Command{Kind: CmdPlace, ECOID: s.ECO.ECOID, Call: c, Priority: priority(s.ECO.Priority),
		First: s.Round == 0 && s.CallsMade == 0 && len(s.Ended) == 0}
}

// priority maps "P1".."P4" to 1..4; anything else waits behind them.
func priority(p string) int {
	if len(p) == 2 && p[0] == 'P' && p[1] >= '1' && p[1] <= '9' {
		return int(p[1] - '0')
	}
	return 10
}

// endRound decides what follows the last pass (cause ""), an empty roster
// (ExhaustedEmptyRoster) or an abandoned round (ExhaustedCredentials): a retry, a failover, or
// exhaustion.
func (m Machine) endRound(s *State, out *Output, now time.Time, cause, detail string) error {
	out.Changed = true
	e := s.ECO.Engagement
	if cause != schemas.ExhaustedEmptyRoster && s.Round < e.MaxRetries {
		s.Phase = PhaseWaitingRetry
		s.RetryAt = now.Add(time.Duration(e.RetryAfterSeconds) * time.Second)
		out.Events = append(out.Events, Event{Type: schemas.TypeCalloutRetryScheduled,
			ID: ids.EventID(schemas.TypeCalloutRetryScheduled, s.ECO.ECOID, fmt.Sprint(s.Round+1)), At: now,
			Value: schemas.RetryScheduled{CalloutRef: s.ref(), RetryAt: s.RetryAt.UTC(), Round: s.Round + 1, ScheduledAt: now.UTC()}})
		return nil
	}
	// Failover: the next OSP in the NOC's list whose link is active now; the new request carries
	// the rest of the list (active links only, or the eco-processor would reject it).
	var to string
	var rest []string
	for _, osp := range e.FailoverOSPIDs {
		ok, err := m.Env.LinkActive(s.ECO.NOCTenantID, osp)
		if err != nil {
			return fmt.Errorf("failover link check %s/%s: %w", s.ECO.NOCTenantID, osp, err)
		}
		switch {
		case !ok:
		case to == "":
			to = osp
		default:
			rest = append(rest, osp)
		}
	}
	if to != "" {
		req := failoverRequest(s, to, rest)
		out.Failover = req
		out.Events = append(out.Events, Event{Type: schemas.TypeCalloutFailedOver,
			ID: ids.EventID(schemas.TypeCalloutFailedOver, s.ECO.ECOID, to), At: now,
			Value: schemas.FailedOver{CalloutRef: s.ref(), ToOSPTenantID: to, NewRequestID: req.RequestID,
				NewECOID: ids.ECOID(req.NOCTenantID, req.RequestID), FailedOverAt: now.UTC()}})
		m.finish(s, out, PhaseFailedOver, now)
		return nil
	}
	reason := schemas.ExhaustedPasses
	switch {
	case cause != "":
		reason = cause
	case len(e.FailoverOSPIDs) > 0:
		reason = schemas.ExhaustedNoFailover
	}
	m.exhaust(s, out, reason, detail, now)
	return nil
}

// abandon ends the round at once: Twilio refused a call for a reason of the NOC's account, so
// every other contact would fail the same way. The live calls end (hung up if placed) and the
// NOC's policy decides what follows; the roster's numbers are not blamed.
func (m Machine) abandon(s *State, out *Output, detail string, now time.Time) error {
	for _, c := range s.Calls {
		for _, sid := range c.sids() {
			out.Commands = append(out.Commands, Command{Kind: CmdEnd, ECOID: s.ECO.ECOID, Call: Call{ID: c.ID, SID: sid}})
		}
		m.ended(s, out, c, schemas.CallError, "twilio account problem: "+detail, now)
	}
	s.Calls = nil
	return m.endRound(s, out, now, schemas.ExhaustedCredentials, detail)
}

func (m Machine) exhaust(s *State, out *Output, reason, detail string, now time.Time) {
	out.Events = append(out.Events, Event{Type: schemas.TypeCalloutExhausted,
		ID: ids.EventID(schemas.TypeCalloutExhausted, s.ECO.ECOID), At: now,
		Value: schemas.CalloutExhausted{CalloutRef: s.ref(), CallsMade: s.CallsMade, AcceptedCount: len(s.Accepted),
			Reason: reason, Detail: detail, ExhaustedAt: now.UTC()}})
	m.finish(s, out, PhaseExhausted, now)
}

// FailoverRequestID is the request id of the failover of ecoID to osp: deterministic, so a redo
// of the transition produces the same request and the eco-processor the same ECO.
func FailoverRequestID(ecoID, osp string) string {
	return ids.EventID("strike.dialer.failover", ecoID, osp)
}

func failoverRequest(s *State, to string, rest []string) *schemas.ECORequest {
	e := s.ECO.Engagement
	loop, retryAfter, retries, ring := e.LoopCount, e.RetryAfterSeconds, e.MaxRetries, e.RingDurationSeconds
	ov := &schemas.EngagementOverrides{LoopCount: &loop, RetryAfterSeconds: &retryAfter, MaxRetries: &retries, FailoverOSPIDs: rest}
	if ring > 0 {
		ov.RingDurationSeconds = &ring
	}
	return &schemas.ECORequest{
		RequestID: FailoverRequestID(s.ECO.ECOID, to), NOCTenantID: s.ECO.NOCTenantID, OSPTenantID: to,
		Region: s.ECO.Region, Priority: s.ECO.Priority, Site: s.ECO.Site, Summary: s.ECO.Summary,
		NOCTicketRef: s.ECO.NOCTicketRef, RequestedBy: s.ECO.RequestedBy, PeopleNeeded: s.ECO.PeopleNeeded,
		Engagement: ov, ParentECOID: s.ECO.ECOID, RequestedAt: s.ECO.RequestedAt,
	}
}

// finish enters a final phase and hangs up every live call (there is one only when cancelled or
// when credentials failed mid-pass): a call never outlives its ring-down.
func (m Machine) finish(s *State, out *Output, phase string, now time.Time) {
	s.Phase = phase
	s.FinishedAt = now
	s.RetryAt = time.Time{}
	s.Steer.Holds, s.Steer.NextUp = nil, nil // a held call-in's 1 is now late
	out.Changed = true
	m.unreached(s, out, phase, now)
	for _, c := range s.Calls {
		for _, sid := range c.sids() {
			out.Commands = append(out.Commands, Command{Kind: CmdEnd, ECOID: s.ECO.ECOID, Call: Call{ID: c.ID, SID: sid}})
		}
		m.ended(s, out, c, schemas.CallCanceled, "ring-down "+phase, now)
	}
	s.Calls = nil
}

// sids are every known SID of the attempt.
func (c Call) sids() []string {
	if c.SID == "" {
		return c.Extra
	}
	return append([]string{c.SID}, c.Extra...)
}

// ended records a call's end and emits CallEnded.
func (m Machine) ended(s *State, out *Output, c Call, result, detail string, now time.Time) {
	contact := c.Contact
	s.remember(EndedCall{ID: c.ID, SID: c.SID, Result: result, Contact: &contact})
	if result == schemas.CallInvalidNumber {
		s.invalid(c.Contact.Phone)
	}
	out.Changed = true
	out.Events = append(out.Events, Event{Type: schemas.TypeCalloutCallEnded,
		ID: ids.EventID(schemas.TypeCalloutCallEnded, s.ECO.ECOID, c.ID), At: now,
		Value: schemas.CallEnded{CalloutRef: s.ref(), CallID: c.ID, CallSID: c.SID, Contact: c.Contact, Pass: c.Pass,
			Round: c.Round, Result: result, Detail: detail, EndedAt: now.UTC()}})
}

// endLive removes live call i with result and moves the ring-down on.
func (m Machine) endLive(s *State, out *Output, i int, result, detail string, now time.Time) error {
	c := s.Calls[i]
	s.Calls = append(s.Calls[:i:i], s.Calls[i+1:]...)
	m.ended(s, out, c, result, detail, now)
	return m.advance(s, out, now)
}

func (s *State) live(callID string) int {
	for i := range s.Calls {
		if s.Calls[i].ID == callID {
			return i
		}
	}
	return -1
}

func (s *State) endedCall(callID string) int {
	for i := range s.Ended {
		if s.Ended[i].ID == callID {
			return i
		}
	}
	return -1
}

// adoptSID records the SID of call i the first time it is learnt (from CreateCall's answer or
// from a callback that overtook it) and emits CallPlaced once.
func (m Machine) adoptSID(s *State, out *Output, i int, sid string, now time.Time) {
	c := &s.Calls[i]
	c.SID, c.PlacedAt, c.Placing, c.Unsure = sid, now, false, false
	c.Deadline = now.Add(s.ring(m.Rules) + m.Rules.ReconcileMargin)
	s.CallsMade++
	if s.FirstCallAt.IsZero() {
		s.FirstCallAt = now
	}
	out.Changed = true
	out.Events = append(out.Events, Event{Type: schemas.TypeCalloutCallPlaced,
		ID: ids.EventID(schemas.TypeCalloutCallPlaced, s.ECO.ECOID, c.ID), At: now,
		Value: schemas.CallPlaced{CalloutRef: s.ref(), CallID: c.ID, CallSID: sid, Contact: c.Contact, Pass: c.Pass,
			Round: c.Round, PlacedAt: now.UTC()}})
}

// accept records that the contact of call i pressed 1 on the call sid (the attempt's or a
// second one of it); the attempt's other calls are hung up.
func (m Machine) accept(s *State, out *Output, i int, sid string, now time.Time) error {
	c := s.Calls[i]
	if s.needed() <= 0 || s.Final() {
		return m.late(s, out, c.ID, sid, c.Contact, now)
	}
	for _, other := range c.sids() {
		if other != sid {
			out.Commands = append(out.Commands, Command{Kind: CmdEnd, ECOID: s.ECO.ECOID, Call: Call{ID: c.ID, SID: other}})
		}
	}
	m.count(s, out, c.ID, sid, c.Contact, now)
	s.Calls = append(s.Calls[:i:i], s.Calls[i+1:]...)
	m.ended(s, out, c, schemas.CallAccepted, "", now)
	if s.needed() <= 0 {
		m.finish(s, out, PhaseAccepted, now)
		return nil
	}
	return m.advance(s, out, now)
}

// count records contact's 1 on call callID (SID sid) as an acceptance that counts.
func (m Machine) count(s *State, out *Output, callID, sid string, contact schemas.Contact, now time.Time) {
	s.Accepted = append(s.Accepted, Acceptance{Contact: contact, CallSID: sid, At: now, CallsMade: s.CallsMade})
	out.Accepted++
	out.Events = append(out.Events, Event{Type: schemas.TypeCalloutAccepted,
		ID: ids.EventID(schemas.TypeCalloutAccepted, s.ECO.ECOID, callID), At: now,
		Value: schemas.CalloutAccepted{CalloutRef: s.ref(), Contact: contact, CallSID: sid, CallsMade: s.CallsMade,
			AcceptedCount: len(s.Accepted), PeopleNeeded: max(s.ECO.PeopleNeeded, 1), AcceptedAt: now.UTC()}})
}

// late records an acceptance that came after the ECO was filled (or ended): it never counts.
func (m Machine) late(s *State, out *Output, callID, sid string, contact schemas.Contact, now time.Time) error {
	out.Changed = true
	out.Events = append(out.Events, Event{Type: schemas.TypeCalloutAccepted,
		ID: ids.EventID(schemas.TypeCalloutAccepted, s.ECO.ECOID, callID, "late"), At: now,
		Value: schemas.CalloutAccepted{CalloutRef: s.ref(), Contact: contact, CallSID: sid, CallsMade: s.CallsMade,
			AcceptedCount: len(s.Accepted), PeopleNeeded: max(s.ECO.PeopleNeeded, 1), Late: true, AcceptedAt: now.UTC()}})
	return nil
}
