package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"sort"
	"strings"

	"github.com/twilio/twilio-go/client"
)

// SignatureHeader is the header in which Twilio sends a webhook's signature.
const SignatureHeader = "X-Twilio-Signature"

// ValidateRequest reports whether signature is Twilio's signature of a
// webhook to url with the given POST params, under authToken. url must be
// the URL exactly as Twilio called it (the public one behind a load balancer,
// query string included); params are the form fields (see FormParams). It is
// twilio-go's client.RequestValidator, which also accepts the URL with or
// without the default port.
func ValidateRequest(authToken, url string, params map[string]string, signature string) bool {
	v := client.NewRequestValidator(authToken)
	return v.Validate(url, params, signature)
}

// Sign computes the X-Twilio-Signature Twilio sends with a webhook: base64 of
// HMAC-SHA1, keyed by the auth token, over the URL followed by each POST
// param's name and value in name order. For a GET webhook the params are in
// the URL and params is empty. The simulator signs with it; ValidateRequest
// accepts what it produces.
func Sign(authToken, url string, params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(url)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteString(params[k])
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// FormParams flattens a parsed form to the map ValidateRequest takes, using
// the first value of each field as twilio-go's ValidateBody does. Twilio's
// webhooks send each field once.
func FormParams(form url.Values) map[string]string {
	m := make(map[string]string, len(form))
	for k, v := range form {
		if len(v) > 0 {
			m[k] = v[0]
		}
	}
	return m
}
