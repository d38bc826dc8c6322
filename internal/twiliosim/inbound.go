package twiliosim

import (
	"errors"
	"fmt"

	"github.com/osprey-strike/strike/internal/twilio"
)

// Incoming calls. Twilio hands a call to one of an account's numbers to the application the
// number is configured with: its IncomingPhoneNumber resource's VoiceUrl and VoiceMethod (POST
// by default), and its StatusCallback for the call's completion
// (https://www.twilio.com/docs/phone-numbers/api/incomingphonenumber-resource,
// https://www.twilio.com/docs/usage/webhooks/voice-webhooks). "When Twilio receives a call for
// one of your Twilio numbers it makes a synchronous HTTP request to the Voice URL configured for
// that number, and expects to receive TwiML in response", with CallSid, AccountSid, From, To,
// CallStatus (ringing for the first request), ApiVersion and Direction inbound
// (https://www.twilio.com/docs/api/twiml/twilio_request). The TwiML is then run as for an
// answered outbound call: a <Gather> posts the caller's Digits to its action and runs the TwiML
// that answers, and without input falls through to the next verb
// (https://www.twilio.com/docs/api/twiml/gather). Every request is signed with the token of the
// account that owns the number, like every other webhook.

// IncomingNumber is one of an account's phone numbers and its voice configuration.
type IncomingNumber struct {
	// Account is the main account or one of its subaccounts.
	Account string
	// Number is the E.164 number callers dial.
	Number string
	// VoiceURL is requested when a call comes in; VoiceMethod is POST when empty.
	VoiceURL, VoiceMethod string
	// StatusCallback, when set, gets the call's completed callback.
	StatusCallback string
}

// SetIncomingNumber configures number n, as an IncomingPhoneNumber update would.
func (s *Sim) SetIncomingNumber(n IncomingNumber) error {
	m, ok := method(n.VoiceMethod)
	switch {
	case !isE164(n.Number):
		return fmt.Errorf("incoming number %q is not E.164", n.Number)
	case !isHTTPURL(n.VoiceURL) || (n.StatusCallback != "" && !isHTTPURL(n.StatusCallback)):
		return errors.New("incoming number: VoiceUrl and StatusCallback must be http(s) URLs")
	case !ok:
		return fmt.Errorf("incoming number: VoiceMethod %q is not GET or POST", n.VoiceMethod)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, known := s.tokens[n.Account]; !known {
		return fmt.Errorf("incoming number: account %s is not the main account or one of its subaccounts", n.Account)
	}
	if s.incoming == nil {
		s.incoming = map[string]IncomingNumber{}
	}
	n.VoiceMethod = m
	s.incoming[n.Number] = n
	return nil
}

// Dial is a person at from dialling number to: Twilio requests the number's VoiceUrl and runs
// the TwiML, and the caller presses keys, one per <Gather> in order ("21" presses 2 at the
// first prompt and 1 at the next), each KeyDelay after its prompt starts; a prompt with no key
// left times out. The caller hangs up when the TwiML ends. It returns the call's SID; the call
// is listed by Calls and awaited by AwaitCall like any other.
func (s *Sim) Dial(from, to, keys string) (string, error) {
	if !isE164(from) {
		return "", fmt.Errorf("caller %q is not E.164", from)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.incoming[to]
	if !ok {
		return "", fmt.Errorf("%s is not a number of this simulator's accounts (SetIncomingNumber)", to)
	}
	now := s.clock.Now()
	c := &call{
		sid: newSID("CA"), account: n.Account, to: to, from: from, direction: "inbound",
		p:         createParams{To: to, From: from, URL: n.VoiceURL, Method: n.VoiceMethod, StatusCallback: n.StatusCallback, StatusCallbackMethod: "POST"},
		behaviour: AnswerAndPress{Digit: keys},
		keys:      keys,
		status:    twilio.StatusRinging,
		created:   now, started: now,
		done: make(chan struct{}),
	}
	s.calls[c.sid] = c
	s.order = append(s.order, c)
	// The first request carries CallStatus ringing; the call is connected once TwiML answers.
	params := s.baseParams(c)
	c.status, c.answered = twilio.StatusInProgress, now
	s.enqueue(&c.appQ, func() { s.fetchAndRun(c, n.VoiceURL, n.VoiceMethod, params) })
	return c.sid, nil
}
