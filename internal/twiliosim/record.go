package twiliosim

import "time"

// CallRecord is what the Sim knows of one call, for tests and benchmarks.
type CallRecord struct {
	SID, AccountSID, To, From string
	// Created is when the API accepted the call (Sim clock).
	Created time.Time
	// Started is when it left the CPS queue and dialing began; zero while queued.
	Started time.Time
	// Answered and Ended are zero until they happen.
	Answered, Ended time.Time
	// Timeout is the ring duration requested (script time).
	Timeout time.Duration
	// StatusCallback and URL are as requested; Twiml is true for inline TwiML.
	StatusCallback, URL string
	Twiml               bool
	// Status is the current status; final once terminal.
	Status string
	// Pressed is every key pressed, in order.
	Pressed string
	// Callbacks are the status callbacks generated, in sequence order,
	// including lost ones.
	Callbacks []CallbackRecord
}

// CallbackRecord is one generated status callback.
type CallbackRecord struct {
	SequenceNumber int
	Event          string // initiated, ringing, answered, completed
	CallStatus     string
	// Lost is true when a fault dropped it.
	Lost bool
}
