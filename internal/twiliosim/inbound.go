package twiliosim

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

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
	// VoiceURL is requested when a call comes in; VoiceMethod is POST when empty. Empty: the
	// number exists but nobody configured it yet (its application sets it through the
	// IncomingPhoneNumbers resource).
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
	case (n.VoiceURL != "" && !isHTTPURL(n.VoiceURL)) || (n.StatusCallback != "" && !isHTTPURL(n.StatusCallback)):
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
	if n.VoiceURL == "" {
		return "", fmt.Errorf("%s has no VoiceUrl configured", to)
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

// numberSID is the IncomingPhoneNumber SID of number in account: PN and 32 hex digits, stable.
func numberSID(account, number string) string {
	h := sha256.Sum256([]byte(account + "/" + number))
	return "PN" + hex.EncodeToString(h[:16])
}

// numberResource is the part of Twilio's IncomingPhoneNumber resource the simulator keeps
// (https://www.twilio.com/docs/phone-numbers/api/incomingphonenumber-resource).
type numberResource struct {
	SID            string `json:"sid"`
	AccountSID     string `json:"account_sid"`
	PhoneNumber    string `json:"phone_number"`
	FriendlyName   string `json:"friendly_name"`
	VoiceURL       string `json:"voice_url"`
	VoiceMethod    string `json:"voice_method"`
	StatusCallback string `json:"status_callback"`
	URI            string `json:"uri"`
}

func resourceOf(n IncomingNumber) numberResource {
	sid := numberSID(n.Account, n.Number)
	return numberResource{SID: sid, AccountSID: n.Account, PhoneNumber: n.Number, FriendlyName: n.Number,
		VoiceURL: n.VoiceURL, VoiceMethod: n.VoiceMethod, StatusCallback: n.StatusCallback,
		URI: "/2010-04-01/Accounts/" + n.Account + "/IncomingPhoneNumbers/" + sid + ".json"}
}

// handleListNumbers lists the account's numbers, filtered by PhoneNumber (an exact number; the
// partial and wildcard forms Twilio also takes are not modelled), in one page.
func (s *Sim) handleListNumbers(w http.ResponseWriter, r *http.Request) {
	account, ok := s.account(w, r)
	if !ok {
		return
	}
	want := r.URL.Query().Get("PhoneNumber")
	s.mu.Lock()
	out := []numberResource{}
	for _, n := range s.incoming {
		if n.Account == account && (want == "" || n.Number == want) {
			out = append(out, resourceOf(n))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b numberResource) int { return strings.Compare(a.PhoneNumber, b.PhoneNumber) })
	uri := "/2010-04-01/Accounts/" + account + "/IncomingPhoneNumbers.json"
	writeJSON(w, http.StatusOK, map[string]any{"incoming_phone_numbers": out, "page": 0, "page_size": 50,
		"start": 0, "end": max(0, len(out)-1), "first_page_uri": uri, "next_page_uri": nil, "previous_page_uri": nil, "uri": uri})
}

// handleUpdateNumber updates a number's voice configuration: VoiceUrl, VoiceMethod and
// StatusCallback, each only when given.
func (s *Sim) handleUpdateNumber(w http.ResponseWriter, r *http.Request) {
	account, ok := s.account(w, r)
	if !ok {
		return
	}
	sid, isJSON := strings.CutSuffix(r.PathValue("NumberFile"), ".json")
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil || !isJSON {
		writeError(w, badRequest(20001, "Invalid request"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := ""
	for k, n := range s.incoming {
		if n.Account == account && numberSID(n.Account, n.Number) == sid {
			key = k
		}
	}
	if key == "" {
		writeNotFound(w, r)
		return
	}
	n, f := s.incoming[key], r.PostForm
	// Every field is checked before anything changes: a refused update changes nothing.
	if f.Has("VoiceUrl") {
		if v := f.Get("VoiceUrl"); v != "" && !isHTTPURL(v) {
			writeError(w, badRequest(21502, "VoiceUrl is not a valid URL: %s", v))
			return
		}
		n.VoiceURL = f.Get("VoiceUrl")
	}
	if f.Has("VoiceMethod") {
		m, ok := method(f.Get("VoiceMethod"))
		if !ok {
			writeError(w, badRequest(21503, "VoiceMethod is not GET or POST: %s", f.Get("VoiceMethod")))
			return
		}
		n.VoiceMethod = m
	}
	if f.Has("StatusCallback") {
		if v := f.Get("StatusCallback"); v != "" && !isHTTPURL(v) {
			writeError(w, badRequest(21609, "StatusCallback is not a valid URL: %s", v))
			return
		}
		n.StatusCallback = f.Get("StatusCallback")
	}
	s.incoming[key] = n
	writeJSON(w, http.StatusOK, resourceOf(n))
}
