// Package twiliosim is a Twilio simulator for tests and `strike dev`: a real
// HTTP server implementing the part of Twilio's 2010-04-01 Calls API that
// internal/twilio uses, so the real twilio-go client talks to it (set
// twilio.Config.BaseURL to Sim.URL() or to an httptest server running
// Sim.Handler()).
//
// It validates what Twilio validates (basic auth with the main account's
// credentials, the path AccountSid being the main account or one of its
// subaccounts, E.164 numbers, a positive Timeout, capped at 600 s, inline
// TwiML of at most 4,000 characters (32018), MachineDetection) and answers
// with Twilio's JSON resources and error bodies, so twilio-go returns
// *client.TwilioRestError. It serves the Accounts resource (each account's
// auth token, to the main credentials) and the Calls list resource (To/From
// filters, newest first, paged by PageSize/Page).
//
// Each call is then played out over time on an injectable Clock (RealClock,
// or FakeClock moved by hand; TimeScale shrinks script durations on the real
// clock): queued behind the account's CPS cap, initiated, ringing, and then
// what the Script says the person at that number does (AnswerAndPress,
// AnswerNoKey, NoAnswer, Busy, Failed, Sequence). Status callbacks
// (initiated, ringing, answered, completed; with SequenceNumber, Timestamp,
// CallDuration, SipResponseCode, CallbackSource, and AnsweredBy when machine
// detection was asked for) go to the call's StatusCallback; on answer the
// TwiML is fetched from Url (or read from Twiml), its <Gather action>
// receives the pressed key, and the TwiML the action answers is run in turn
// (<Gather>, <Pause>, <Redirect>, <Say>), so a re-prompt after an invalid
// key or a redirect works as with Twilio. Faults disturb status callbacks:
// Duplicate, Late, OutOfOrder, Lost; the Calls API keeps telling the truth.
//
// Every webhook is signed like Twilio's (X-Twilio-Signature, see
// twilio.Sign) with the auth token of the account that owns the call
// (https://www.twilio.com/docs/usage/webhooks/webhooks-security): the main
// token for the main account, each subaccount's own token for its calls.
// Subaccount tokens are random per Sim (Config.SubaccountTokens fixes them),
// readable through the Accounts resource or AuthToken, and RotateAuthToken
// changes one.
//
// Tests read what happened through Calls/Call/AwaitCall and RequestCount,
// inject API failures with FailNext (before anything happens) and
// FailAfterCreate (the call is created and plays out, but its answer is lost
// or a 5xx), and time call creation with Config.OnCallCreated.
package twiliosim
