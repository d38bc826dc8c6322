package twiliosim

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Timeout of a Create Call request. The Call resource documents "The default
// is 60 seconds and the maximum is 600 seconds"
// (https://www.twilio.com/docs/voice/api/call-resource), and error 21208
// (https://www.twilio.com/docs/api/errors/21208) says "You may specify any
// positive, whole integer for the Timeout parameter": so any positive integer
// is accepted and a larger one rings 600 s at most.
const (
	maxTimeout     = 600 * time.Second
	defaultTimeout = 60 * time.Second
)

// maxInlineTwiML is the limit on the Twiml parameter, in characters:
// "Twiml size exceeded maximum allowed value of 4000 characters"
// (https://www.twilio.com/docs/api/errors/32018).
const (
	maxInlineTwiML  = 4000
	codeTwiMLTooBig = 32018
)

// Answering machine detection modes
// (https://www.twilio.com/docs/voice/answering-machine-detection).
const (
	amdEnable     = "Enable"
	amdMessageEnd = "DetectMessageEnd"
)

// createParams are the validated parameters of a Create Call request.
type createParams struct {
	To, From             string
	URL, Method          string
	Twiml                string
	Timeout              time.Duration
	StatusCallback       string
	StatusCallbackMethod string
	Events               map[string]bool
	MachineDetection     string // "", Enable or DetectMessageEnd
}

// apiError is a Twilio-shaped error answer.
type apiError struct {
	Status  int
	Code    int
	Message string
}

func badRequest(code int, format string, args ...any) *apiError {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &apiError{Status: http.StatusBadRequest, Code: code, Message: msg}
}

// parseCreate validates a Create Call form as Twilio does, with Twilio's
// error codes (21201 no To, 21211 invalid To, 21213 no From, 21212 invalid
// From, 21205 invalid Url, 21208 invalid Timeout, 32018 Twiml over 4,000
// characters, 21609 invalid StatusCallback; 20001 for the rest, a simulator
// choice).
func parseCreate(form url.Values) (createParams, *apiError) {
	p := createParams{
		To:                   form.Get("To"),
		From:                 form.Get("From"),
		URL:                  form.Get("Url"),
		Twiml:                form.Get("Twiml"),
		Timeout:              defaultTimeout,
		StatusCallback:       form.Get("StatusCallback"),
		Method:               "POST",
		StatusCallbackMethod: "POST",
		Events:               map[string]bool{},
		MachineDetection:     form.Get("MachineDetection"),
	}
	switch {
	case p.To == "":
		return createParams{}, badRequest(21201, "No 'To' number is specified")
	case !isE164(p.To):
		return createParams{}, badRequest(21211, "Invalid 'To' Phone Number: %s", p.To)
	case p.From == "":
		return createParams{}, badRequest(21213, "No 'From' number is specified")
	case !isE164(p.From):
		return createParams{}, badRequest(21212, "Invalid 'From' Phone Number: %s", p.From)
	}
	switch {
	case p.URL == "" && p.Twiml == "":
		return createParams{}, badRequest(21205, "Either Url or Twiml is required")
	case p.URL != "" && p.Twiml != "":
		return createParams{}, badRequest(20001, "Url and Twiml are mutually exclusive")
	case p.URL != "" && !isHTTPURL(p.URL):
		return createParams{}, badRequest(21205, "Url is not a valid URL: %s", p.URL)
	case utf8.RuneCountInString(p.Twiml) > maxInlineTwiML:
		return createParams{}, badRequest(codeTwiMLTooBig, "Twiml size exceeded maximum allowed value of %d characters", maxInlineTwiML)
	}
	if s := form.Get("Timeout"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return createParams{}, badRequest(21208, "Invalid Timeout: %s (a positive whole number of seconds)", s)
		}
		p.Timeout = maxTimeout
		if n < int(maxTimeout/time.Second) {
			p.Timeout = time.Duration(n) * time.Second
		}
	}
	switch p.MachineDetection {
	case "", amdEnable, amdMessageEnd:
	default:
		return createParams{}, badRequest(20001, "MachineDetection must be Enable or DetectMessageEnd")
	}
	var ok bool
	if p.Method, ok = method(form.Get("Method")); !ok {
		return createParams{}, badRequest(20001, "Method must be GET or POST")
	}
	if p.StatusCallback != "" && !isHTTPURL(p.StatusCallback) {
		return createParams{}, badRequest(21609, "StatusCallback is not a valid URL: %s", p.StatusCallback)
	}
	if p.StatusCallbackMethod, ok = method(form.Get("StatusCallbackMethod")); !ok {
		return createParams{}, badRequest(20001, "StatusCallbackMethod must be GET or POST")
	}
	for _, raw := range form["StatusCallbackEvent"] {
		// Twilio also accepts several events in one value, space separated.
		for _, e := range strings.Fields(raw) {
			switch e {
			case eventInitiated, eventRinging, eventAnswered, eventCompleted:
				p.Events[e] = true
			default:
				return createParams{}, badRequest(20001, "StatusCallbackEvent %q is not one of initiated, ringing, answered, completed", e)
			}
		}
	}
	return p, nil
}

func method(s string) (string, bool) {
	switch strings.ToUpper(s) {
	case "", "POST":
		return "POST", true
	case "GET":
		return "GET", true
	}
	return "", false
}

// isE164 reports whether s is "+" then 2 to 15 digits, the first not 0.
func isE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
