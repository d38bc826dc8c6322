package twilio

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// Callback is a webhook Twilio posts for a call: a status callback
// (call-progress event) or a gather result (Digits set).
type Callback struct {
	AccountSID string
	CallSID    string
	// CallStatus is initiated, ringing, in-progress or a terminal status.
	CallStatus string
	To, From   string
	Direction  string
	// CallbackSource is "call-progress-events" on status callbacks.
	CallbackSource string
	// SequenceNumber orders one call's status callbacks (0, 1, 2, ...);
	// Twilio does not promise delivery order, so consumers sort by it. -1
	// when absent (gather results carry none).
	SequenceNumber int
	// Timestamp is when Twilio generated the callback; zero when absent.
	Timestamp time.Time
	// CallDuration is the connected time, set on the completed event.
	CallDuration time.Duration
	// SipResponseCode is the SIP final response (e.g. 200, 486, 487, 480);
	// 0 when absent.
	SipResponseCode int
	// Digits is what the caller pressed, on a gather result.
	Digits string
	// AnsweredBy is answering machine detection's verdict, when the call
	// asked for it.
	AnsweredBy string
}

// maxDigits bounds the Digits field; Strike gathers one key.
const maxDigits = 32

// ParseCallback reads a webhook's form fields. It checks what a consumer
// relies on (SIDs, a known status, numeric fields) and nothing about the
// signature: validate that first with ValidateRequest.
func ParseCallback(form url.Values) (Callback, error) {
	cb := Callback{
		AccountSID:     form.Get("AccountSid"),
		CallSID:        form.Get("CallSid"),
		CallStatus:     form.Get("CallStatus"),
		To:             form.Get("To"),
		From:           form.Get("From"),
		Direction:      form.Get("Direction"),
		CallbackSource: form.Get("CallbackSource"),
		Digits:         form.Get("Digits"),
		AnsweredBy:     form.Get("AnsweredBy"),
		SequenceNumber: -1,
	}
	var errs []error
	if !IsSID("AC", cb.AccountSID) {
		errs = append(errs, fmt.Errorf("AccountSid %q is not an account SID", cb.AccountSID))
	}
	if !IsSID("CA", cb.CallSID) {
		errs = append(errs, fmt.Errorf("CallSid %q is not a call SID", cb.CallSID))
	}
	switch cb.CallStatus {
	case StatusQueued, StatusInitiated, StatusRinging, StatusInProgress,
		StatusCompleted, StatusBusy, StatusFailed, StatusNoAnswer, StatusCanceled:
	default:
		errs = append(errs, fmt.Errorf("CallStatus %q is unknown", cb.CallStatus))
	}
	if s := form.Get("SequenceNumber"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("SequenceNumber %q is not a non-negative integer", s))
		}
		cb.SequenceNumber = n
	}
	if s := form.Get("CallDuration"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 1<<30 {
			errs = append(errs, fmt.Errorf("CallDuration %q is not a valid number of seconds", s))
		}
		cb.CallDuration = time.Duration(n) * time.Second
	}
	if s := form.Get("SipResponseCode"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 || n > 699 {
			errs = append(errs, fmt.Errorf("SipResponseCode %q is not a SIP status", s))
		}
		cb.SipResponseCode = n
	}
	if s := form.Get("Timestamp"); s != "" {
		t, err := time.Parse(time.RFC1123Z, s)
		if err != nil {
			errs = append(errs, fmt.Errorf("Timestamp %q is not RFC 2822", s))
		}
		cb.Timestamp = t
	}
	if len(cb.Digits) > maxDigits {
		errs = append(errs, fmt.Errorf("Digits is longer than %d", maxDigits))
	}
	for _, r := range cb.Digits {
		if !('0' <= r && r <= '9' || r == '*' || r == '#') {
			errs = append(errs, fmt.Errorf("Digits %q holds a character that is not a key", cb.Digits))
			break
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Callback{}, fmt.Errorf("twilio: invalid callback: %w", err)
	}
	return cb, nil
}

// Terminal reports whether the callback announces the end of the call.
func (cb Callback) Terminal() bool { return IsTerminal(cb.CallStatus) }
