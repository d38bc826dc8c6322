package twilio

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// Call statuses of Twilio's Call resource and status callbacks.
const (
	StatusQueued     = "queued"
	StatusInitiated  = "initiated" // status callbacks only
	StatusRinging    = "ringing"
	StatusInProgress = "in-progress"
	StatusCompleted  = "completed"
	StatusBusy       = "busy"
	StatusFailed     = "failed"
	StatusNoAnswer   = "no-answer"
	StatusCanceled   = "canceled"
)

// IsTerminal reports whether status is final: the call is over.
func IsTerminal(status string) bool {
	switch status {
	case StatusCompleted, StatusBusy, StatusFailed, StatusNoAnswer, StatusCanceled:
		return true
	}
	return false
}

// statusCallbackEvents are the call-progress events Strike subscribes to.
var statusCallbackEvents = [...]string{"initiated", "ringing", "answered", "completed"}

// CallRequest is one outbound call.
type CallRequest struct {
	// SubaccountSID is the NOC's subaccount; "" places the call under the
	// main account.
	SubaccountSID string
	// To is the contact's number (E.164).
	To string
	// From is the NOC's caller-id number (E.164) in that subaccount.
	From string
	// Timeout is the ring duration; rounded up to whole seconds. 0 leaves
	// Twilio's default (60 s).
	Timeout time.Duration
	// StatusCallbackURL receives initiated/ringing/answered/completed
	// callbacks (POST). Optional.
	StatusCallbackURL string
	// TwiMLURL is fetched (POST) when the call is answered; exactly one of
	// TwiMLURL and Twiml is required.
	TwiMLURL string
	// Twiml is inline TwiML for the call; Twilio refuses more than 4,000
	// characters (https://www.twilio.com/docs/api/errors/32018).
	Twiml string
	// MachineDetection asks Twilio's answering machine detection
	// (https://www.twilio.com/docs/voice/answering-machine-detection):
	// "Enable" or "DetectMessageEnd"; "" = none. Calls and callbacks then
	// carry AnsweredBy.
	MachineDetection string
}

// Answering machine detection modes of CallRequest.MachineDetection.
const (
	MachineDetectionEnable     = "Enable"
	MachineDetectionMessageEnd = "DetectMessageEnd"
)

func (r CallRequest) validate() error {
	switch {
	case r.To == "":
		return fmt.Errorf("%w: To is empty", ErrInvalidNumber)
	case r.From == "":
		return fmt.Errorf("%w: From is empty", ErrInvalidCallerID)
	case (r.TwiMLURL == "") == (r.Twiml == ""):
		return fmt.Errorf("%w: exactly one of TwiMLURL and Twiml is required", ErrRejected)
	case r.Timeout < 0:
		return fmt.Errorf("%w: negative Timeout", ErrRejected)
	case r.MachineDetection != "" && r.MachineDetection != MachineDetectionEnable && r.MachineDetection != MachineDetectionMessageEnd:
		return fmt.Errorf("%w: MachineDetection %q is not Enable or DetectMessageEnd", ErrRejected, r.MachineDetection)
	}
	return nil
}

func (r CallRequest) params(account string) *openapi.CreateCallParams {
	p := &openapi.CreateCallParams{}
	p.SetPathAccountSid(account)
	p.SetTo(r.To)
	p.SetFrom(r.From)
	if r.Timeout > 0 {
		p.SetTimeout(int(math.Ceil(r.Timeout.Seconds())))
	}
	if r.StatusCallbackURL != "" {
		p.SetStatusCallback(r.StatusCallbackURL)
		p.SetStatusCallbackEvent(statusCallbackEvents[:])
		p.SetStatusCallbackMethod("POST")
	}
	if r.TwiMLURL != "" {
		p.SetUrl(r.TwiMLURL)
		p.SetMethod("POST")
	} else {
		p.SetTwiml(r.Twiml)
	}
	if r.MachineDetection != "" {
		p.SetMachineDetection(r.MachineDetection)
	}
	return p
}

// Call is the adapter's view of Twilio's Call resource. The REST resource
// carries no SIP response code; it arrives only in status callbacks (see
// Callback.SipResponseCode).
type Call struct {
	SID        string
	AccountSID string
	Status     string
	Direction  string
	To, From   string
	// Duration is how long the call was connected; 0 until it completed.
	Duration time.Duration
	// QueueTime is how long Twilio held the call before dialing (CPS queue).
	QueueTime time.Duration
	// DateCreated, StartTime and EndTime are zero when Twilio left them empty.
	DateCreated, StartTime, EndTime time.Time
	// AnsweredBy is answering machine detection's verdict (human,
	// machine_start, machine_end_beep, ..., fax, unknown); "" without it.
	AnsweredBy string
}

// Terminal reports whether the call is over.
func (c Call) Terminal() bool { return IsTerminal(c.Status) }

// callFromAPI converts twilio-go's model, tolerating absent fields.
func callFromAPI(a *openapi.ApiV2010Call) (Call, error) {
	if a == nil || a.Sid == nil {
		return Call{}, errors.New("response has no call sid")
	}
	c := Call{
		SID:        *a.Sid,
		AccountSID: deref(a.AccountSid),
		Status:     deref(a.Status),
		Direction:  deref(a.Direction),
		To:         deref(a.To),
		From:       deref(a.From),
		AnsweredBy: deref(a.AnsweredBy),
	}
	if s := deref(a.Duration); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return Call{}, fmt.Errorf("duration %q: %w", s, err)
		}
		c.Duration = time.Duration(n) * time.Second
	}
	if s := deref(a.QueueTime); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			c.QueueTime = time.Duration(n) * time.Millisecond
		}
	}
	c.DateCreated = parseTime(a.DateCreated)
	c.StartTime = parseTime(a.StartTime)
	c.EndTime = parseTime(a.EndTime)
	return c, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// parseTime reads Twilio's RFC 2822 dates; an unparsable one is left zero
// rather than failing a call that otherwise succeeded.
func parseTime(p *string) time.Time {
	if p == nil || *p == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC1123Z, *p)
	if err != nil {
		return time.Time{}
	}
	return t
}
