package schemas

import "time"

// Callout event types on strike.callout.events.v1, keyed by eco_id.
const (
	TypeCalloutStarted        = "strike.callout.started.v1"
	TypeCalloutCallPlaced     = "strike.callout.call.placed.v1"
	TypeCalloutCallEnded      = "strike.callout.call.ended.v1"
	TypeCalloutAccepted       = "strike.callout.accepted.v1"
	TypeCalloutDeclined       = "strike.callout.declined.v1"
	TypeCalloutRetryScheduled = "strike.callout.retry.scheduled.v1"
	TypeCalloutFailedOver     = "strike.callout.failed.over.v1"
	TypeCalloutExhausted      = "strike.callout.exhausted.v1"
	TypeCalloutCancelled      = "strike.callout.cancelled.v1"
)

// CalloutRef is what every callout event carries.
type CalloutRef struct {
	ECOID       string `json:"eco_id"`
	NOCTenantID string `json:"noc_tenant_id"`
	OSPTenantID string `json:"osp_tenant_id"`
	JobNumber   string `json:"job_number"`
}

// Contact is a roster contact as events carry it.
type Contact struct {
	Position int    `json:"position"`
	Name     string `json:"name"`
	Phone    string `json:"phone"`
}

// CalloutStarted: the dialer began ringing (round 0) or began a retry round.
type CalloutStarted struct {
	CalloutRef
	Region       string     `json:"region"`
	Round        int        `json:"round"`
	RosterSize   int        `json:"roster_size"`
	PeopleNeeded int        `json:"people_needed"`
	Engagement   Engagement `json:"engagement"`
	StartedAt    time.Time  `json:"started_at"`
	// Roster is the snapshot the ring-down calls from, in call order (absent in events
	// written before issue 13).
	Roster []RosterEntry `json:"roster,omitempty"`
	// Rotation says where the first pass started.
	Rotation *Rotation `json:"rotation,omitempty"`
}

// CallPlaced: a call to one contact went out.
type CallPlaced struct {
	CalloutRef
	CallID   string    `json:"call_id"`
	CallSID  string    `json:"call_sid"`
	Contact  Contact   `json:"contact"`
	Pass     int       `json:"pass"`
	Round    int       `json:"round"`
	PlacedAt time.Time `json:"placed_at"`
}

// Call results.
const (
	CallAccepted      = "accepted"
	CallDeclined      = "declined"
	CallNoAnswer      = "no_answer"
	CallVoicemail     = "voicemail"
	CallBusy          = "busy"
	CallFailed        = "failed"
	CallInvalidNumber = "invalid_number"
	CallCanceled      = "canceled"
	CallError         = "error"
)

// CallResults lists every call result (the enum of callout-call-ended.v1.json).
var CallResults = []string{CallAccepted, CallDeclined, CallNoAnswer, CallVoicemail, CallBusy, CallFailed,
	CallInvalidNumber, CallCanceled, CallError}

// CallEnded: a call ended with Result.
type CallEnded struct {
	CalloutRef
	CallID          string    `json:"call_id"`
	CallSID         string    `json:"call_sid,omitempty"`
	Contact         Contact   `json:"contact"`
	Pass            int       `json:"pass"`
	Round           int       `json:"round"`
	Result          string    `json:"result"`
	Detail          string    `json:"detail,omitempty"`
	DurationSeconds int       `json:"duration_seconds,omitempty"`
	EndedAt         time.Time `json:"ended_at"`
}

// CalloutAccepted: a contact pressed 1.
type CalloutAccepted struct {
	CalloutRef
	Contact       Contact   `json:"contact"`
	CallSID       string    `json:"call_sid"`
	CallsMade     int       `json:"calls_made"`
	AcceptedCount int       `json:"accepted_count"`
	PeopleNeeded  int       `json:"people_needed"`
	Late          bool      `json:"late"`
	AcceptedAt    time.Time `json:"accepted_at"`
}

// CalloutDeclined: a contact pressed 2.
type CalloutDeclined struct {
	CalloutRef
	Contact    Contact   `json:"contact"`
	CallSID    string    `json:"call_sid"`
	DeclinedAt time.Time `json:"declined_at"`
}

// RetryScheduled: a new round starts at RetryAt.
type RetryScheduled struct {
	CalloutRef
	RetryAt     time.Time `json:"retry_at"`
	Round       int       `json:"round"`
	ScheduledAt time.Time `json:"scheduled_at"`
}

// FailedOver: a new request went to the next OSP.
type FailedOver struct {
	CalloutRef
	ToOSPTenantID string    `json:"to_osp_tenant_id"`
	NewRequestID  string    `json:"new_request_id"`
	NewECOID      string    `json:"new_eco_id"`
	FailedOverAt  time.Time `json:"failed_over_at"`
}

// Exhaustion reasons.
const (
	ExhaustedPasses      = "passes_exhausted"
	ExhaustedEmptyRoster = "empty_roster"
	ExhaustedNoFailover  = "no_failover"
	ExhaustedCredentials = "credentials"
)

// CalloutExhausted: nobody (or not enough people) accepted and nothing is left to try.
type CalloutExhausted struct {
	CalloutRef
	CallsMade     int       `json:"calls_made"`
	AcceptedCount int       `json:"accepted_count"`
	Reason        string    `json:"reason"`
	Detail        string    `json:"detail,omitempty"`
	ExhaustedAt   time.Time `json:"exhausted_at"`
}

// CalloutCancelled: the NOC cancelled.
type CalloutCancelled struct {
	CalloutRef
	CancelledBy string    `json:"cancelled_by,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	CancelledAt time.Time `json:"cancelled_at"`
}
