package dialer

import (
	"fmt"
	"time"

	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/schemas"
)

// This file is the ring-down state machine of one ECO. It is pure: every input comes with the
// time it is applied at, every decision is returned as events to publish, commands to run after
// the transaction commits, and the new state. Nothing here talks to Kafka, Twilio or PostgreSQL,
// except the failover link check, which the caller answers through Env.

// Phases of a ring-down. Everything but PhaseRinging and PhaseWaitingRetry is final.
const (
	PhaseRinging      = "ringing"
	PhaseWaitingRetry = "waiting_retry"
	PhaseAccepted     = "accepted"
	PhaseExhausted    = "exhausted"
	PhaseFailedOver   = "failed_over"
	PhaseCancelled    = "cancelled"
)

// stateVersion is the format of State in strike.callout.state.v1; bump it with a migration path.
const stateVersion = 1

// maxEnded bounds the memory of ended calls kept for late and duplicated callbacks.
const maxEnded = 8

// State is one ECO's ring-down, as stored (JSON) in the compacted strike.callout.state.v1.
type State struct {
	V      int                `json:"v"`
	ECO    schemas.ECOCreated `json:"eco"`
	Twilio TwilioContext      `json:"twilio"`
	Roster []schemas.Contact  `json:"roster"`
	Phase  string             `json:"phase"`
	// Round counts retries (0 = first round); Pass is 1..loop_count within a round; Next is the
	// roster index of the next contact to call in this pass.
	Round int `json:"round"`
	Pass  int `json:"pass"`
	Next  int `json:"next"`
	// Calls are the live calls: intent committed, not ended.
	Calls     []Call       `json:"calls,omitempty"`
	Ended     []EndedCall  `json:"ended,omitempty"`
	CallsMade int          `json:"calls_made"`
	Accepted  []Acceptance `json:"accepted,omitempty"`
	// RetryAt is when the next round starts (PhaseWaitingRetry).
	RetryAt time.Time `json:"retry_at,omitzero"`
	// FinishedAt is when a final phase was reached; the state is tombstoned Retention later.
	FinishedAt  time.Time `json:"finished_at,omitzero"`
	StartedAt   time.Time `json:"started_at"`
	FirstCallAt time.Time `json:"first_call_at,omitzero"`
}

// TwilioContext is the NOC's Strike-owned Twilio context the calls go out under.
type TwilioContext struct {
	SubaccountSID string `json:"subaccount_sid"`
	CallerID      string `json:"caller_id"`
}

// Call is one live call. Its ID is deterministic (ECO, round, pass, position) and is carried in
// the webhook URLs, so callbacks find it.
type Call struct {
	ID       string          `json:"id"`
	Contact  schemas.Contact `json:"contact"`
	Round    int             `json:"round"`
	Pass     int             `json:"pass"`
	SID      string          `json:"sid,omitempty"`
	Seq      int             `json:"seq"` // highest status SequenceNumber applied; -1 none
	Answered bool            `json:"answered,omitempty"`
	IntentAt time.Time       `json:"intent_at"`
	PlacedAt time.Time       `json:"placed_at,omitzero"`
	// Deadline is when the call needs attention without a callback: a placement to retry
	// (no SID) or a reconciliation by FetchCall (SID known). Zero: none.
	Deadline time.Time `json:"deadline,omitzero"`
	// Placing is true while a CreateCall for this intent may be in flight.
	Placing bool `json:"placing,omitempty"`
}

// EndedCall remembers how a recent call ended, so a duplicate or late callback for it is
// recognised.
type EndedCall struct {
	ID     string `json:"id"`
	SID    string `json:"sid,omitempty"`
	Result string `json:"result"`
	Late   bool   `json:"late,omitempty"`
}

// Acceptance is one person who pressed 1 in time.
type Acceptance struct {
	Contact   schemas.Contact `json:"contact"`
	CallSID   string          `json:"call_sid"`
	At        time.Time       `json:"at"`
	CallsMade int             `json:"calls_made"`
}

// Rules are the machine's timing settings (from Config).
type Rules struct {
	// RingDefault is used when the ECO carries no ring duration.
	RingDefault time.Duration
	// ReconcileMargin is how long after the ring duration a call without a final callback is
	// fetched from Twilio.
	ReconcileMargin time.Duration
	// AnswerGrace is how long an answered call may take (prompts, three gather attempts) before
	// a call stuck in-progress is hung up and counted as no answer.
	AnswerGrace time.Duration
	// PlaceRetry is the pause before a placement that failed transiently is tried again, and
	// before a reconciliation fetch that failed is repeated.
	PlaceRetry time.Duration
	// Retention is how long a finished ring-down is kept (late callbacks) before its tombstone.
	Retention time.Duration
}

// Env answers the machine's only question about the outside world.
type Env interface {
	// LinkActive reports whether the NOC–OSP link is active now (failover check).
	LinkActive(noc, osp string) (bool, error)
}

// Command kinds: side effects run after the transaction that recorded them commits.
const (
	CmdPlace = "place"
	CmdEnd   = "end"
	CmdFetch = "fetch"
)

// Command is one side effect on a call.
type Command struct {
	Kind  string
	ECOID string
	Call  Call // a copy; for CmdEnd/CmdFetch Call.SID is the call to act on
}

// Event is one callout event to publish.
type Event struct {
	Type  string
	ID    string // ce_id
	Value any
	At    time.Time
}

// Output is what applying one input decided.
type Output struct {
	Events   []Event
	Commands []Command
	// Failover is a new ECO request for the next OSP.
	Failover *schemas.ECORequest
	// Changed reports that the state must be written.
	Changed bool
	// Delete asks for the state's tombstone: the ring-down is over and its retention passed.
	Delete bool
	// Accepted lists acceptances that count (for metrics).
	Accepted int
}

// Placed is the result of a CreateCall.
type Placed struct {
	CallID string
	SID    string
	// Err is "" on success, or PlaceInvalidNumber, PlaceCredentials, PlaceTransient.
	Err    string
	Detail string
}

// Placement error classes.
const (
	PlaceInvalidNumber = "invalid_number"
	PlaceCredentials   = "credentials"
	PlaceTransient     = "transient"
)

// Fetched is the result of a FetchCall.
type Fetched struct {
	CallID   string
	SID      string
	Status   string
	Duration time.Duration
	Err      string // non-empty when the fetch failed
}

func (s *State) ref() schemas.CalloutRef {
	return schemas.CalloutRef{ECOID: s.ECO.ECOID, NOCTenantID: s.ECO.NOCTenantID, OSPTenantID: s.ECO.OSPTenantID, JobNumber: s.ECO.JobNumber}
}

// Final reports whether nothing more can happen but the tombstone.
func (s *State) Final() bool {
	return s.Phase != PhaseRinging && s.Phase != PhaseWaitingRetry
}

func (s *State) ring(r Rules) time.Duration {
	if s.ECO.Engagement.RingDurationSeconds > 0 {
		return time.Duration(s.ECO.Engagement.RingDurationSeconds) * time.Second
	}
	return r.RingDefault
}

func (s *State) needed() int { return max(s.ECO.PeopleNeeded, 1) - len(s.Accepted) }

// CallID is the deterministic id of the call to the contact at position in (round, pass).
func CallID(ecoID string, round, pass, position int) string {
	return fmt.Sprintf("%s/r%d/p%d/c%d", ecoID, round, pass, position)
}

// Clone returns a deep copy, so a transaction that aborts leaves the original untouched.
func (s *State) Clone() *State {
	c := *s
	c.Calls = append([]Call(nil), s.Calls...)
	c.Ended = append([]EndedCall(nil), s.Ended...)
	c.Accepted = append([]Acceptance(nil), s.Accepted...)
	// Roster and ECO are never mutated after Start: sharing them is safe.
	return &c
}

// NextDeadline is the earliest time the state needs a Tick; zero if none.
func (s *State) NextDeadline(r Rules) time.Time {
	var t time.Time
	earliest := func(x time.Time) {
		if !x.IsZero() && (t.IsZero() || x.Before(t)) {
			t = x
		}
	}
	for _, c := range s.Calls {
		earliest(c.Deadline)
	}
	switch {
	case s.Phase == PhaseWaitingRetry:
		earliest(s.RetryAt)
	case s.Final() && len(s.Calls) == 0:
		earliest(s.FinishedAt.Add(r.Retention))
	}
	return t
}

// Machine applies inputs to states.
type Machine struct {
	Rules Rules
	Env   Env
}

// Start begins the ring-down of a new ECO with the OSP's roster for its region.
func (m Machine) Start(eco schemas.ECOCreated, roster []schemas.Contact, tw TwilioContext, now time.Time) (*State, Output, error) {
	s := &State{V: stateVersion, ECO: eco, Twilio: tw, Roster: roster, Phase: PhaseRinging, Pass: 1, StartedAt: now}
	var out Output
	out.Changed = true
	out.Events = append(out.Events, m.started(s, now))
	if len(roster) == 0 {
		return s, out, m.endRound(s, &out, now, true)
	}
	m.advance(s, &out, now)
	return s, out, nil
}

func (m Machine) started(s *State, now time.Time) Event {
	return Event{Type: schemas.TypeCalloutStarted, ID: ids.EventID(schemas.TypeCalloutStarted, s.ECO.ECOID, fmt.Sprint(s.Round)), At: now,
		Value: schemas.CalloutStarted{CalloutRef: s.ref(), Region: s.ECO.Region, Round: s.Round, RosterSize: len(s.Roster),
			PeopleNeeded: max(s.ECO.PeopleNeeded, 1), Engagement: s.ECO.Engagement, StartedAt: now.UTC()}}
}

// advance places calls while people are still needed: at most needed live calls, each to the
// next contact in roster order; a new pass starts once the previous one's calls have ended.
func (m Machine) advance(s *State, out *Output, now time.Time) error {
	for s.Phase == PhaseRinging && len(s.Calls) < s.needed() {
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
			return m.endRound(s, out, now, false)
		}
		c := s.Roster[s.Next]
		s.Next++
		call := Call{ID: CallID(s.ECO.ECOID, s.Round, s.Pass, c.Position), Contact: c, Round: s.Round, Pass: s.Pass,
			Seq: -1, IntentAt: now, Placing: true}
		s.Calls = append(s.Calls, call)
		out.Changed = true
		out.Commands = append(out.Commands, Command{Kind: CmdPlace, ECOID: s.ECO.ECOID, Call: call})
	}
	return nil
}

// endRound decides what follows the last pass: a retry, a failover, or exhaustion.
func (m Machine) endRound(s *State, out *Output, now time.Time, emptyRoster bool) error {
	out.Changed = true
	e := s.ECO.Engagement
	if !emptyRoster && s.Round < e.MaxRetries {
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
				NewECOID: ids.ECOID(req.RequestID), FailedOverAt: now.UTC()}})
		m.finish(s, out, PhaseFailedOver, now)
		return nil
	}
	reason := schemas.ExhaustedPasses
	switch {
	case emptyRoster:
		reason = schemas.ExhaustedEmptyRoster
	case len(e.FailoverOSPIDs) > 0:
		reason = schemas.ExhaustedNoFailover
	}
	m.exhaust(s, out, reason, "", now)
	return nil
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
	out.Changed = true
	for _, c := range s.Calls {
		if c.SID != "" {
			out.Commands = append(out.Commands, Command{Kind: CmdEnd, ECOID: s.ECO.ECOID, Call: c})
		}
		m.ended(s, out, c, schemas.CallCanceled, "ring-down "+phase, now)
	}
	s.Calls = nil
}

// ended records a call's end and emits CallEnded.
func (m Machine) ended(s *State, out *Output, c Call, result, detail string, now time.Time) {
	s.Ended = append(s.Ended, EndedCall{ID: c.ID, SID: c.SID, Result: result})
	if len(s.Ended) > maxEnded {
		s.Ended = s.Ended[len(s.Ended)-maxEnded:]
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
	c.SID, c.PlacedAt, c.Placing = sid, now, false
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

// ApplyPlaced applies a CreateCall result.
func (m Machine) ApplyPlaced(s *State, p Placed, now time.Time) (Output, error) {
	var out Output
	i := s.live(p.CallID)
	if i < 0 {
		// The call ended (cancel, ECO finished) while it was being placed: hang it up, unless
		// it is the call we already know under that SID.
		if p.SID != "" {
			if j := s.endedCall(p.CallID); j < 0 || s.Ended[j].SID != p.SID || s.Ended[j].Result == schemas.CallCanceled {
				out.Commands = append(out.Commands, Command{Kind: CmdEnd, ECOID: s.ECO.ECOID, Call: Call{ID: p.CallID, SID: p.SID}})
			}
		}
		return out, nil
	}
	c := &s.Calls[i]
	switch p.Err {
	case "":
		if c.SID == "" {
			m.adoptSID(s, &out, i, p.SID, now)
		} else if c.SID != p.SID {
			// A re-placement after a crash raced the original call's callbacks: keep the
			// first, hang up the second.
			out.Commands = append(out.Commands, Command{Kind: CmdEnd, ECOID: s.ECO.ECOID, Call: Call{ID: c.ID, SID: p.SID}})
		}
		return out, nil
	case PlaceInvalidNumber:
		return out, m.endLive(s, &out, i, schemas.CallInvalidNumber, p.Detail, now)
	case PlaceCredentials:
		// Calling this NOC cannot succeed until an operator fixes the subaccount; the adapter
		// raised its alert. End the ring-down rather than spin.
		m.exhaust(s, &out, schemas.ExhaustedCredentials, p.Detail, now)
		return out, nil
	default:
		c.Placing = false
		c.Deadline = now.Add(m.Rules.PlaceRetry)
		out.Changed = true
		return out, nil
	}
}

// ApplyCallback applies a Twilio webhook.
func (m Machine) ApplyCallback(s *State, cb schemas.TelephonyCallback, now time.Time) (Output, error) {
	var out Output
	i := s.live(cb.CallID)
	if i < 0 {
		m.lateCallback(s, &out, cb, now)
		return out, nil
	}
	if s.Calls[i].SID == "" {
		m.adoptSID(s, &out, i, cb.CallSID, now)
	}
	c := &s.Calls[i]
	if c.SID != cb.CallSID {
		return out, nil // the duplicate of a re-placed call; it is being hung up
	}
	if cb.Kind == schemas.CallbackGather {
		switch cb.Digits {
		case "1":
			return out, m.accept(s, &out, i, now)
		case "2":
			out.Events = append(out.Events, Event{Type: schemas.TypeCalloutDeclined,
				ID: ids.EventID(schemas.TypeCalloutDeclined, s.ECO.ECOID, c.ID), At: now,
				Value: schemas.CalloutDeclined{CalloutRef: s.ref(), Contact: c.Contact, CallSID: c.SID, DeclinedAt: now.UTC()}})
			return out, m.endLive(s, &out, i, schemas.CallDeclined, "", now)
		}
		return out, nil // an invalid key after the last prompt: the call ends unanswered
	}
	if cb.SequenceNumber != nil {
		if *cb.SequenceNumber <= c.Seq {
			return out, nil // duplicate, or older than what we applied
		}
		c.Seq = *cb.SequenceNumber
		out.Changed = true
	}
	switch cb.CallStatus {
	case twilio.StatusInProgress:
		if !c.Answered {
			c.Answered = true
			c.Deadline = c.PlacedAt.Add(s.ring(m.Rules) + m.Rules.AnswerGrace)
			out.Changed = true
		}
		return out, nil
	case twilio.StatusCompleted, twilio.StatusBusy, twilio.StatusNoAnswer, twilio.StatusFailed, twilio.StatusCanceled:
		result := resultOf(cb.CallStatus, c.Answered || cb.CallDurationSeconds > 0, cb.SIPResponseCode)
		return out, m.endLive(s, &out, i, result, detail(cb.CallStatus, cb.SIPResponseCode), now)
	}
	return out, nil
}

func detail(status string, sip int) string {
	if sip != 0 {
		return fmt.Sprintf("%s (SIP %d)", status, sip)
	}
	return status
}

// resultOf maps Twilio's final status to a call result. An answered call that ends without a
// key is a voicemail (or a person who said nothing): never an acceptance. A failed call with SIP
// 480 (temporarily unavailable: a phone switched off) is a no answer.
func resultOf(status string, answered bool, sip int) string {
	switch status {
	case twilio.StatusCompleted:
		if answered {
			return schemas.CallVoicemail
		}
		return schemas.CallNoAnswer
	case twilio.StatusBusy:
		return schemas.CallBusy
	case twilio.StatusFailed:
		if sip == 480 {
			return schemas.CallNoAnswer
		}
		return schemas.CallFailed
	}
	return schemas.CallNoAnswer
}

// accept records that the contact of call i pressed 1.
func (m Machine) accept(s *State, out *Output, i int, now time.Time) error {
	c := s.Calls[i]
	if s.needed() <= 0 || s.Final() {
		return m.late(s, out, c.ID, c.SID, c.Contact, now)
	}
	s.Accepted = append(s.Accepted, Acceptance{Contact: c.Contact, CallSID: c.SID, At: now, CallsMade: s.CallsMade})
	out.Accepted++
	out.Events = append(out.Events, Event{Type: schemas.TypeCalloutAccepted,
		ID: ids.EventID(schemas.TypeCalloutAccepted, s.ECO.ECOID, c.ID), At: now,
		Value: schemas.CalloutAccepted{CalloutRef: s.ref(), Contact: c.Contact, CallSID: c.SID, CallsMade: s.CallsMade,
			AcceptedCount: len(s.Accepted), PeopleNeeded: max(s.ECO.PeopleNeeded, 1), AcceptedAt: now.UTC()}})
	s.Calls = append(s.Calls[:i:i], s.Calls[i+1:]...)
	m.ended(s, out, c, schemas.CallAccepted, "", now)
	if s.needed() <= 0 {
		m.finish(s, out, PhaseAccepted, now)
		return nil
	}
	return m.advance(s, out, now)
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

// lateCallback handles a callback for a call that is no longer live: only a 1 pressed on a call
// that did not end accepted matters, once, as a late acceptance.
func (m Machine) lateCallback(s *State, out *Output, cb schemas.TelephonyCallback, now time.Time) {
	if cb.Kind != schemas.CallbackGather || cb.Digits != "1" {
		return
	}
	j := s.endedCall(cb.CallID)
	if j < 0 || s.Ended[j].Result == schemas.CallAccepted || s.Ended[j].Late {
		return
	}
	s.Ended[j].Late = true
	var contact schemas.Contact
	for _, c := range s.Roster {
		if CallIDPosition(cb.CallID) == c.Position {
			contact = c
		}
	}
	_ = m.late(s, out, cb.CallID, cb.CallSID, contact, now)
}

// CallIDPosition reads the roster position back from a call id (0 if malformed).
func CallIDPosition(callID string) int {
	var pos int
	for i := len(callID) - 1; i >= 0; i-- {
		if callID[i] == 'c' && i > 0 && callID[i-1] == '/' {
			_, _ = fmt.Sscanf(callID[i+1:], "%d", &pos)
			return pos
		}
	}
	return 0
}

// ApplyCancel stops the ring-down and hangs up the live calls.
func (m Machine) ApplyCancel(s *State, c schemas.ECOCancelled, now time.Time) Output {
	var out Output
	if s.Final() {
		return out
	}
	out.Events = append(out.Events, Event{Type: schemas.TypeCalloutCancelled,
		ID: ids.EventID(schemas.TypeCalloutCancelled, s.ECO.ECOID), At: now,
		Value: schemas.CalloutCancelled{CalloutRef: s.ref(), CancelledBy: c.CancelledBy.Name, Reason: c.Reason, CancelledAt: now.UTC()}})
	m.finish(s, &out, PhaseCancelled, now)
	return out
}

// ApplyFetched applies a reconciliation FetchCall: the Calls API tells the truth when a
// callback was lost.
func (m Machine) ApplyFetched(s *State, f Fetched, now time.Time) (Output, error) {
	var out Output
	i := s.live(f.CallID)
	if i < 0 || s.Calls[i].SID != f.SID || f.Err != "" {
		return out, nil // ended meanwhile, or the fetch failed: the deadline re-armed by Tick stands
	}
	c := &s.Calls[i]
	ring := s.ring(m.Rules)
	switch {
	case twilio.IsTerminal(f.Status):
		return out, m.endLive(s, &out, i, resultOf(f.Status, c.Answered || f.Duration > 0, 0), "reconciled: "+f.Status, now)
	case f.Status == twilio.StatusInProgress && now.Before(c.PlacedAt.Add(ring+m.Rules.AnswerGrace)):
		c.Answered = true
		c.Deadline = c.PlacedAt.Add(ring + m.Rules.AnswerGrace)
		out.Changed = true
		return out, nil
	case f.Status != twilio.StatusInProgress && now.Before(c.PlacedAt.Add(ring+m.Rules.ReconcileMargin)):
		return out, nil
	}
	// Stuck ringing past its ring duration, or answered and silent past the grace: hang up.
	out.Commands = append(out.Commands, Command{Kind: CmdEnd, ECOID: s.ECO.ECOID, Call: *c})
	return out, m.endLive(s, &out, i, schemas.CallNoAnswer, "reconciled: stuck "+f.Status, now)
}

// Tick applies everything due at now: placement retries, reconciliation fetches, a retry
// round, the tombstone.
func (m Machine) Tick(s *State, now time.Time) (Output, error) {
	var out Output
	for i := range s.Calls {
		c := &s.Calls[i]
		if c.Deadline.IsZero() || now.Before(c.Deadline) {
			continue
		}
		out.Changed = true
		if c.SID == "" {
			c.Deadline, c.Placing = time.Time{}, true
			out.Commands = append(out.Commands, Command{Kind: CmdPlace, ECOID: s.ECO.ECOID, Call: *c})
			continue
		}
		// If the fetch fails or says "not yet", look again after PlaceRetry.
		c.Deadline = now.Add(m.Rules.PlaceRetry)
		out.Commands = append(out.Commands, Command{Kind: CmdFetch, ECOID: s.ECO.ECOID, Call: *c})
	}
	if s.Phase == PhaseWaitingRetry && !now.Before(s.RetryAt) {
		s.Phase, s.RetryAt = PhaseRinging, time.Time{}
		s.Round++
		s.Pass, s.Next = 1, 0
		out.Changed = true
		out.Events = append(out.Events, m.started(s, now))
		if err := m.advance(s, &out, now); err != nil {
			return out, err
		}
	}
	if s.Final() && len(s.Calls) == 0 && !s.FinishedAt.IsZero() && !now.Before(s.FinishedAt.Add(m.Rules.Retention)) {
		out.Delete = true
	}
	return out, nil
}

// Resume lists the side effects a new owner must redo after restoring s: calls whose intent was
// committed but whose SID was never recorded are placed (again: at most these repeat).
func (m Machine) Resume(s *State) []Command {
	var cmds []Command
	for _, c := range s.Calls {
		if c.SID == "" && c.Placing {
			cmds = append(cmds, Command{Kind: CmdPlace, ECOID: s.ECO.ECOID, Call: c})
		}
	}
	return cmds
}
