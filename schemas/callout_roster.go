package schemas

import "time"

// TypeCalloutContactSkipped: a roster person was not called in their turn (strike.callout.events.v1,
// keyed by eco_id). With callout.started's roster snapshot and the calls, it answers "why was
// or wasn't someone called" for every person of an ECO.
const TypeCalloutContactSkipped = "strike.callout.contact.skipped.v1"

// Reasons a person was not called in their turn.
const (
	// SkipUnavailable: away (leave, on a job) with no substitute named.
	SkipUnavailable = "unavailable"
	// SkipSubstituted: away; their substitute was called in their turn (CallID).
	SkipSubstituted = "substituted"
	// SkipBypassed: a dispatcher asked for them to be skipped on this ECO.
	SkipBypassed = "bypassed"
	// SkipFilled: the ECO was filled before their turn came.
	SkipFilled = "filled"
	// SkipInvalidNumber: their number proved invalid earlier in this ECO; not called again.
	SkipInvalidNumber = "invalid_number"
	// SkipNotReached: the ring-down ended (cancelled, failed over, exhausted) before their turn.
	SkipNotReached = "not_reached"
)

// SkipReasons lists every skip reason.
var SkipReasons = []string{SkipUnavailable, SkipSubstituted, SkipBypassed, SkipFilled, SkipInvalidNumber, SkipNotReached}

// Person is someone named by their name and E.164 number (a substitute).
type Person struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// AwayWindow is a window in which a roster person is away, From inclusive, Until exclusive.
type AwayWindow struct {
	From       time.Time `json:"from"`
	Until      time.Time `json:"until"`
	Reason     string    `json:"reason"`
	Substitute *Person   `json:"substitute,omitempty"`
}

// RosterEntry is one person of the roster snapshot an ECO's ring-down used, with the away
// windows it knew of.
type RosterEntry struct {
	Contact
	Unavailable []AwayWindow `json:"unavailable,omitempty"`
}

// Rotation is how a ring-down chose its first person.
type Rotation struct {
	// Mode is fixed, after_last_accepted or after_last_called.
	Mode string `json:"mode"`
	// StartPosition is the roster position the first pass started at.
	StartPosition int `json:"start_position"`
}

// ContactSkipped: a person was not called in their turn of (Round, Pass), with the reason.
type ContactSkipped struct {
	CalloutRef
	Contact Contact `json:"contact"`
	Round   int     `json:"round"`
	Pass    int     `json:"pass"`
	Reason  string  `json:"reason"`
	Detail  string  `json:"detail,omitempty"`
	// Substitute and CallID: who was called instead, and that call (SkipSubstituted).
	Substitute *Person `json:"substitute,omitempty"`
	CallID     string  `json:"call_id,omitempty"`
	// AwayUntil is when the away window ends (SkipUnavailable, SkipSubstituted).
	AwayUntil *time.Time `json:"away_until,omitempty"`
	SkippedAt time.Time  `json:"skipped_at"`
}
