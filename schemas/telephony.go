package schemas

import "time"

// TypeTelephonyCallback is a signature-checked Twilio webhook on strike.telephony.callbacks.v1.
const TypeTelephonyCallback = "strike.telephony.callback.v1"

// Callback kinds.
const (
	CallbackStatus = "status"
	CallbackGather = "gather"
	// CallbackCallIn: a contact who dialled the NOC's Strike number chose this ECO; CallID is
	// CallInID(CallSID) and From their number.
	CallbackCallIn = "callin"
)

// CallInPrefix starts the call id of an inbound call (a call-in), so the dialer tells it from
// the attempts it placed.
const CallInPrefix = "in/"

// CallInID is the call id of the inbound call sid.
func CallInID(sid string) string { return CallInPrefix + sid }

// TelephonyCallback is a Twilio webhook as the dialer consumes it (telephony-callback.v1.json).
type TelephonyCallback struct {
	ECOID               string    `json:"eco_id"`
	CallID              string    `json:"call_id"`
	Kind                string    `json:"kind"`
	CallSID             string    `json:"call_sid"`
	AccountSID          string    `json:"account_sid"`
	CallStatus          string    `json:"call_status,omitempty"`
	SequenceNumber      *int      `json:"sequence_number,omitempty"`
	Digits              string    `json:"digits,omitempty"`
	From                string    `json:"from,omitempty"`
	GatherAttempt       int       `json:"gather_attempt,omitempty"`
	SIPResponseCode     int       `json:"sip_response_code,omitempty"`
	CallDurationSeconds int       `json:"call_duration_seconds,omitempty"`
	AnsweredBy          string    `json:"answered_by,omitempty"`
	TwilioTimestamp     string    `json:"twilio_timestamp,omitempty"`
	ReceivedAt          time.Time `json:"received_at"`
}
