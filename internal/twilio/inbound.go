package twilio

import (
	"net/url"
	"strings"
)

// Webhook paths of incoming calls to a NOC's Strike number (call-in acceptance): the number's
// VoiceUrl, and the action of the <Gather> that lists the caller's open ECOs.
const (
	InboundPath       = "/twilio/voice/inbound"
	InboundChoosePath = "/twilio/voice/inbound/choose"
)

// Inbound is the VoiceUrl Strike configures on each NOC's number.
func (w WebhookURLs) Inbound() string { return strings.TrimRight(w.Base, "/") + InboundPath }

// InboundChoose is the action of the menu of ecoIDs (key k chooses ecoIDs[k-1]); Twilio signs
// the URL, so the list cannot be altered by the caller.
func (w WebhookURLs) InboundChoose(ecoIDs []string) string {
	return w.url(InboundChoosePath, url.Values{"ecos": {strings.Join(ecoIDs, ",")}})
}

// PromptTwiML says prompt while waiting for one key, posted to actionURL; without a key it says
// goodbye and hangs up (Twilio falls through to the verb after <Gather>,
// https://www.twilio.com/docs/api/twiml/gather).
func PromptTwiML(prompt, actionURL string) string {
	return render(twimlResponse{
		Gather: &twimlGather{NumDigits: gatherNumDigits, Action: actionURL, Method: "POST", Timeout: gatherTimeout, Say: prompt},
		Say:    []string{"No input received. Goodbye."},
	})
}

// CallInPromptTwiML asks a caller for one key like PromptTwiML, but without a key it redirects
// the call to noInputURL, so the application learns at once that none came (Twilio falls through
// to the verbs after <Gather> when it times out, https://www.twilio.com/docs/api/twiml/gather,
// and <Redirect> requests the URL, https://www.twilio.com/docs/voice/twiml/redirect).
func CallInPromptTwiML(prompt, actionURL, noInputURL string) string {
	return render(twimlResponse{
		Gather:   &twimlGather{NumDigits: gatherNumDigits, Action: actionURL, Method: "POST", Timeout: gatherTimeout, Say: prompt},
		Say:      []string{"No input received."},
		Redirect: &twimlRedirect{Method: "POST", URL: noInputURL},
	})
}
