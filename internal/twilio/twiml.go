package twilio

import (
	"encoding/xml"
	"fmt"
	"time"
)

// Gather settings of a callout prompt: one key, 8 s to press it after the
// prompt ends.
const (
	gatherNumDigits = 1
	gatherTimeout   = 8
)

type twimlResponse struct {
	XMLName  xml.Name       `xml:"Response"`
	Gather   *twimlGather   `xml:"Gather,omitempty"`
	Say      []string       `xml:"Say"`
	Pause    *twimlPause    `xml:"Pause,omitempty"`
	Redirect *twimlRedirect `xml:"Redirect,omitempty"`
}

type twimlPause struct {
	Length int `xml:"length,attr"`
}

type twimlRedirect struct {
	Method string `xml:"method,attr"`
	URL    string `xml:",chardata"`
}

type twimlGather struct {
	NumDigits int    `xml:"numDigits,attr"`
	Action    string `xml:"action,attr"`
	Method    string `xml:"method,attr"`
	Timeout   int    `xml:"timeout,attr"`
	Say       string `xml:"Say"`
}

// GatherTwiML is the TwiML of a callout call: it reads the job number and
// the site, asks for one key (1 accept, 2 decline) and posts it to
// actionURL. attempt counts prompts in this call (1 first); from 2 on the
// prompt starts by saying the previous key was not valid. With no key
// pressed Twilio falls through to the trailing Say and hangs up, which a
// voicemail pick-up does: it never counts as acceptance.
//
// Every value is XML-escaped by encoding/xml, so a job number, site or URL
// with &, < or quotes cannot break the document.
func GatherTwiML(jobNumber, site, actionURL string, attempt int) string {
	prompt := fmt.Sprintf("Emergency callout. Job number %s. Site %s. Press 1 to accept, 2 to decline.", jobNumber, site)
	if attempt > 1 {
		prompt = "Sorry, that key is not valid. " + prompt
	}
	return render(twimlResponse{
		Gather: &twimlGather{
			NumDigits: gatherNumDigits,
			Action:    actionURL,
			Method:    "POST",
			Timeout:   gatherTimeout,
			Say:       prompt,
		},
		Say: []string{"No input received."},
	})
}

// SayTwiML is a TwiML document that says text and hangs up, e.g. the answer
// to a gather result ("Accepted. Thank you.").
func SayTwiML(text string) string {
	return render(twimlResponse{Say: []string{text}})
}

func render(r twimlResponse) string {
	b, err := xml.Marshal(r)
	if err != nil {
		// Only strings and ints: marshalling cannot fail.
		panic(fmt.Sprintf("twilio: marshal TwiML: %v", err))
	}
	return xml.Header + string(b)
}

// RepromptTwiML asks again for one key after an invalid one, posting to actionURL. The gateway
// serves it from the gather webhook, which knows no job details, so it says none.
func RepromptTwiML(actionURL string) string {
	return render(twimlResponse{
		Gather: &twimlGather{
			NumDigits: gatherNumDigits,
			Action:    actionURL,
			Method:    "POST",
			Timeout:   gatherTimeout,
			Say:       "Sorry, that key is not valid. Press 1 to accept the emergency callout, 2 to decline.",
		},
		Say: []string{"No input received."},
	})
}

// PauseRedirectTwiML pauses for pause (whole seconds, at least 1) and then
// has Twilio request url (POST) for the call's next TwiML
// (https://www.twilio.com/docs/voice/twiml/pause,
// https://www.twilio.com/docs/voice/twiml/redirect). Twilio signs that request
// over url, query included, so state carried in the query cannot be forged.
func PauseRedirectTwiML(pause time.Duration, url string) string {
	return render(twimlResponse{
		Pause:    &twimlPause{Length: max(1, int(pause/time.Second))},
		Redirect: &twimlRedirect{Method: "POST", URL: url},
	})
}
