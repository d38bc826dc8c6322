package twilio

import (
	"net/url"
	"strconv"
	"strings"
)

// Webhook paths the gateway serves (producers/callbacks) and the dialer puts in its calls.
const (
	StatusPath = "/twilio/status"
	GatherPath = "/twilio/gather"
)

// WebhookURLs builds the callback URLs of a call. Base is Strike's public base URL as Twilio
// reaches it (behind the load balancer in production); signatures are computed over these exact
// URLs, so the gateway validates against the same Base.
type WebhookURLs struct {
	Base string
}

// Status is the StatusCallback URL of call callID of ECO ecoID.
func (w WebhookURLs) Status(ecoID, callID string) string {
	return w.url(StatusPath, url.Values{"eco_id": {ecoID}, "call_id": {callID}})
}

// Gather is the <Gather action> URL; attempt counts prompts (an invalid key is asked again).
func (w WebhookURLs) Gather(ecoID, callID string, attempt int) string {
	return w.url(GatherPath, url.Values{"eco_id": {ecoID}, "call_id": {callID}, "attempt": {strconv.Itoa(attempt)}})
}

// GatherRetry is the URL the gateway redirects a call to when it could not
// publish the keypress digits of prompt attempt: the digits and the retry
// count travel in the query, which Twilio signs.
func (w WebhookURLs) GatherRetry(ecoID, callID string, attempt int, digits string, retry int) string {
	return w.url(GatherPath, url.Values{"eco_id": {ecoID}, "call_id": {callID}, "attempt": {strconv.Itoa(attempt)},
		"digits": {digits}, "retry": {strconv.Itoa(retry)}})
}

func (w WebhookURLs) url(path string, q url.Values) string {
	return strings.TrimRight(w.Base, "/") + path + "?" + q.Encode()
}
