package ringdown

import (
	"fmt"
	"time"

	"github.com/osprey-strike/strike/schemas"
)

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

// maxStray bounds the stray calls remembered per ended attempt.
const maxStray = 4

// maxEnded bounds the memory of ended calls kept for late and duplicated callbacks.
const maxEnded = 8

// remember adds e to the ended calls, forgetting the oldest beyond maxEnded.
func (s *State) remember(e EndedCall) {
	s.Ended = append(s.Ended, e)
	if len(s.Ended) > maxEnded {
		s.Ended = s.Ended[len(s.Ended)-maxEnded:]
	}
}

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
	// Steer is what controls and call-ins changed (control.go, callin.go).
	Steer Steering `json:"steer,omitzero"`

	// Who is called in a turn (roster.go). Away are the roster's away windows; Rotation the
	// roster's rotation mode and StartPosition where the first pass started (Roster is in call
	// order from there). Invalid are numbers that proved invalid (skipped in later turns);
	// Reached the positions that had their turn in the roster order (called or skipped), so
	// everyone else gets an entry when the ring-down ends.
	Away          []Away   `json:"away,omitempty"`
	Rotation      string   `json:"rotation,omitempty"`
	StartPosition int      `json:"start_position,omitempty"`
	Invalid       []string `json:"invalid,omitempty"`
	Reached       []int    `json:"reached,omitempty"`
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
	// Unsure is true when a CreateCall may have created the call without our learning its SID
	// (its answer was lost, or the replica that placed it is gone). The attempt is never placed
	// again before Twilio was asked (CmdLookup at Deadline): a callback or the Calls list gives
	// its SID, or proves nothing was created.
	Unsure bool `json:"unsure,omitempty"`
	// Extra are further SIDs seen for this attempt (a re-placement raced the original): each is
	// hung up once, and a 1 on any of them counts for the attempt.
	Extra []string `json:"extra,omitempty"`
}

// EndedCall remembers how a recent call ended, so a duplicate or late callback for it is
// recognised.
type EndedCall struct {
	ID     string `json:"id"`
	SID    string `json:"sid,omitempty"`
	Result string `json:"result"`
	Late   bool   `json:"late,omitempty"`
	// Stray are calls of this attempt seen after it ended, each hung up once.
	Stray []string `json:"stray,omitempty"`
	// Contact is who was called (a substitute stands under the position they stood in for).
	Contact *schemas.Contact `json:"contact,omitempty"`
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
	// Retention is how long a finished ring-down is kept whole (late callbacks) before only its
	// marker remains.
	Retention time.Duration
	// ConfirmWait is how long an attempt that may exist at Twilio (Unsure) waits for one of its
	// callbacks before the Calls list is asked.
	ConfirmWait time.Duration
}

// Env answers the machine's only question about the outside world.
type Env interface {
	// LinkActive reports whether the NOC–OSP link is active now (failover check).
	LinkActive(noc, osp string) (bool, error)
}

// Command kinds: side effects run after the transaction that recorded them commits.
const (
	CmdPlace  = "place"
	CmdEnd    = "end"
	CmdFetch  = "fetch"
	CmdLookup = "lookup" // list the calls to the contact since the intent (Unsure attempts)
)

// Command is one side effect on a call.
type Command struct {
	Kind  string
	ECOID string
	Call  Call // a copy; for CmdEnd/CmdFetch Call.SID is the call to act on
	// Priority orders placements waiting on the CPS limit: 1 (P1) is the most urgent.
	Priority int
	// First marks the ECO's first call: under a storm, first calls go before repeat calls.
	First bool
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
	// Retire asks for the state to be replaced by its marker: the ring-down is over and its
	// retention passed. The marker is kept for good, so the ECO is never rung again.
	Retire bool
	// Accepted lists acceptances that count (for metrics).
	Accepted int
}

// Placed is the result of a CreateCall.
type Placed struct {
	CallID string
	SID    string
	// Err is "" on success, or one of the Place* classes.
	Err    string
	Detail string
}

// Placement error classes.
const (
	// PlaceInvalidNumber: the contact's number cannot be called; the next contact is.
	PlaceInvalidNumber = "invalid_number"
	// PlaceAccount: a problem of the NOC's Twilio subaccount or its configuration (credentials,
	// caller id, geo permissions, a closed subaccount). Not the contact's fault: the round is
	// abandoned and the NOC's policy (retry, failover) decides what follows.
	PlaceAccount = "account"
	// PlaceTransient: Twilio certainly created nothing (429, connection refused); placed again
	// after PlaceRetry.
	PlaceTransient = "transient"
	// PlaceUncertain: the call may exist (5xx, timeout, lost answer); confirmed before any
	// second placement.
	PlaceUncertain = "uncertain"
)

// Found is the result of a CmdLookup: the calls Twilio has to the contact from the NOC's
// caller id since the attempt's intent.
type Found struct {
	CallID string
	Calls  []FoundCall
	Err    string // non-empty when the lookup failed
}

// FoundCall is one call of a lookup.
type FoundCall struct {
	SID      string
	Status   string
	Duration time.Duration
}

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

// Marker is what remains of a finished ring-down in strike.callout.state.v1 once its
// retention passed: small, and never deleted, so a redelivered eco.created (of any age, or after
// an offset reset) is recognised and never rung again.
type Marker struct {
	V          int       `json:"v"`
	Retired    bool      `json:"retired"`
	Phase      string    `json:"phase"`
	FinishedAt time.Time `json:"finished_at"`
}

// MarkerOf is s's marker.
func MarkerOf(s *State) Marker {
	return Marker{V: stateVersion, Retired: true, Phase: s.Phase, FinishedAt: s.FinishedAt}
}

// Clone returns a deep copy, so a transaction that aborts leaves the original untouched.
func (s *State) Clone() *State {
	c := *s
	c.Calls = append([]Call(nil), s.Calls...)
	for i := range c.Calls {
		c.Calls[i].Extra = append([]string(nil), c.Calls[i].Extra...)
	}
	c.Ended = append([]EndedCall(nil), s.Ended...)
	for i := range c.Ended {
		c.Ended[i].Stray = append([]string(nil), c.Ended[i].Stray...)
	}
	c.Accepted = append([]Acceptance(nil), s.Accepted...)
	c.Steer = s.Steer.clone()
	c.Invalid = append([]string(nil), s.Invalid...)
	c.Reached = append([]int(nil), s.Reached...)
	// Away is never written after Start. Roster's backing array is never written after Start (an ad-hoc number replaces the
	// slice), and ECO is a value whose slices are never written: sharing them is safe.
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
	for _, h := range s.Steer.Holds {
		earliest(h.Until)
	}
	switch {
	case s.Phase == PhaseWaitingRetry:
		earliest(s.RetryAt)
	case s.Final() && len(s.Calls) == 0:
		earliest(s.FinishedAt.Add(r.Retention))
	}
	return t
}

// RingDuration is how long each call of s rings (the call's Twilio Timeout).
func (s *State) RingDuration(r Rules) time.Duration { return s.ring(r) }
