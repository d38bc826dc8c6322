// Package twiliosim is a Twilio simulator for tests and `strike dev`: a real
// HTTP server implementing the part of Twilio's 2010-04-01 Calls API that
// internal/twilio uses, so the real twilio-go client talks to it (set
// twilio.Config.BaseURL to Sim.URL() or to an httptest server running
// Sim.Handler()).
//
// It validates what Twilio validates (basic auth with the main account's
// credentials, the path account being the main account or one of its
// subaccounts, E.164 numbers, Timeout 5..600 s) and answers with Twilio's
// JSON resources and error bodies, so twilio-go returns *client.TwilioRestError.
//
// Each call is then played out over time on an injectable Clock (RealClock,
// or FakeClock moved by hand; TimeScale shrinks script durations on the real
// clock): queued behind the account's CPS cap, initiated, ringing, and then
// what the Script says the person at that number does (AnswerAndPress,
// AnswerNoKey, NoAnswer, Busy, Failed, Sequence). Status callbacks
// (initiated, ringing, answered, completed; with SequenceNumber, Timestamp,
// CallDuration, SipResponseCode, CallbackSource) go to the call's
// StatusCallback; on answer the TwiML is fetched from Url (or read from
// Twiml), its <Gather action> receives the pressed key, and the TwiML the
// action answers is run in turn, so a re-prompt after an invalid key works
// as with Twilio. Faults disturb status callbacks: Duplicate, Late,
// OutOfOrder, Lost; the Calls API keeps telling the truth.
//
// Every webhook is signed like Twilio's (X-Twilio-Signature, see
// twilio.Sign), by default with the main account's auth token: Strike owns
// one set of credentials and its gateway validates with that token. To our
// knowledge real Twilio signs a subaccount's webhooks with the subaccount's
// own auth token, so in production the gateway may have to choose the token
// by the webhook's AccountSid (subaccount tokens are readable with the main
// credentials); verify against Twilio before go-live. Config.SigningTokens
// simulates per-account tokens.
//
// Tests read what happened through Calls/Call/AwaitCall and RequestCount,
// inject API failures with FailNext, and time call creation with
// Config.OnCallCreated.
package twiliosim
