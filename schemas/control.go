package schemas

import "time"

// Controls: people steering a running callout (issue 13). The command is
// strike.callout.control.v1 on strike.callout.controls.v1 (keyed by eco_id, written by the
// gateway); what the dialer did with it is strike.callout.control.outcome.v1 on
// strike.callout.events.v1.
const (
	TypeCalloutControl        = "strike.callout.control.v1"
	TypeCalloutControlOutcome = "strike.callout.control.outcome.v1"
	TypeCalloutCallIn         = "strike.callout.callin.v1"
)

// Control actions. Who may send which follows DESIGN §1: the NOC owns engagement intent, the
// OSP owns its people.
const (
	ControlStop         = "stop"              // NOC: stop ringing now
	ControlPeopleNeeded = "set_people_needed" // NOC: change how many people are needed
	ControlPasses       = "set_passes"        // NOC: extend or shorten the passes over the roster
	ControlSkip         = "skip"              // OSP: do not call this contact (again) for this ECO
	ControlCallNext     = "call_next"         // OSP: call this contact next
	ControlAddNumber    = "add_number"        // OSP: add an ad-hoc E.164 number for this ECO
)

// ControlOwner is the tenant kind ("noc" or "osp") that may send action; "" for an unknown action.
func ControlOwner(action string) string {
	switch action {
	case ControlStop, ControlPeopleNeeded, ControlPasses:
		return "noc"
	case ControlSkip, ControlCallNext, ControlAddNumber:
		return "osp"
	}
	return ""
}

// Control outcomes and refusal reasons.
const (
	ControlApplied = "applied"
	ControlRefused = "refused"

	RefusedFinished      = "eco_finished"      // the ring-down has ended (accepted, exhausted, cancelled, failed over)
	RefusedWrongKind     = "wrong_tenant_kind" // a NOC action from an OSP, or the reverse
	RefusedWrongTenant   = "wrong_tenant"      // the actor's tenant is not this ECO's
	RefusedOutOfBounds   = "out_of_bounds"     // outside Strike's guardrails
	RefusedBelowAccepted = "below_accepted"    // fewer people needed than have accepted
	RefusedPassRunning   = "pass_running"      // fewer passes than the one already running
	RefusedUnknown       = "unknown_contact"   // no such roster position on this ECO
	RefusedAccepted      = "already_accepted"  // the contact already accepted
	RefusedCalling       = "being_called"      // call next: the contact's phone is ringing now
	RefusedDuplicate     = "duplicate_number"  // the number is already on this ECO's roster
	RefusedInvalid       = "invalid"           // a required field is missing
)

// Actor is who sent a control, in which tenant.
type Actor struct {
	Kind     string    `json:"kind"`
	TenantID string    `json:"tenant_id"`
	Role     string    `json:"role,omitempty"`
	User     Requester `json:"user"`
}

// CalloutControl is one control command (callout-control.v1.json).
type CalloutControl struct {
	ControlID       string    `json:"control_id"`
	ECOID           string    `json:"eco_id"`
	NOCTenantID     string    `json:"noc_tenant_id"`
	OSPTenantID     string    `json:"osp_tenant_id"`
	Actor           Actor     `json:"actor"`
	Action          string    `json:"action"`
	PeopleNeeded    int       `json:"people_needed,omitempty"`
	LoopCount       int       `json:"loop_count,omitempty"`
	ContactPosition int       `json:"contact_position,omitempty"`
	Phone           string    `json:"phone,omitempty"`
	Name            string    `json:"name,omitempty"`
	Reason          string    `json:"reason,omitempty"`
	RequestedAt     time.Time `json:"requested_at"`
}

// ControlOutcome is what the dialer did with a control (callout-control-outcome.v1.json).
type ControlOutcome struct {
	CalloutRef
	ControlID    string    `json:"control_id"`
	Action       string    `json:"action"`
	Actor        Actor     `json:"actor"`
	Outcome      string    `json:"outcome"`
	Reason       string    `json:"reason,omitempty"`
	Detail       string    `json:"detail,omitempty"`
	PeopleNeeded int       `json:"people_needed,omitempty"`
	LoopCount    int       `json:"loop_count,omitempty"`
	Contact      *Contact  `json:"contact,omitempty"`
	DecidedAt    time.Time `json:"decided_at"`
}

// Call-in outcomes and reasons (callout-callin.v1.json).
const (
	CallInHeld     = "held"
	CallInRefused  = "refused"
	CallInReleased = "released"

	CallInNotOnRoster = "not_on_roster"
	CallInNoPlace     = "no_place"
	CallInDeclined    = "declined"
	CallInExpired     = "hold_expired"
)

// CallIn is a call-in's hold, refusal or release.
type CallIn struct {
	CalloutRef
	CallID    string    `json:"call_id"`
	CallSID   string    `json:"call_sid"`
	From      string    `json:"from,omitempty"`
	Contact   *Contact  `json:"contact,omitempty"`
	Outcome   string    `json:"outcome"`
	Reason    string    `json:"reason,omitempty"`
	HoldUntil time.Time `json:"hold_until,omitzero"`
	At        time.Time `json:"at"`
}
