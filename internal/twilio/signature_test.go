package twilio

import (
	"strings"
	"testing"
)

// Twilio's published example, as used by twilio-go's own validator tests.
const (
	vectorToken = "12345"
	vectorURL   = "https://mycompany.com/myapp.php?foo=1&bar=2"
	vectorSig   = "vOEb5UThFn24KEfnOFLQY2AE5FY="
)

func vectorParams() map[string]string {
	return map[string]string{
		"Digits":                "1234",
		"CallSid":               "CA1234567890ABCDE",
		"To":                    "+18005551212",
		"Caller":                "+14158675309",
		"From":                  "+14158675309",
		"ReasonConferenceEnded": "test",
		"Reason":                "Participant",
	}
}

func TestSign(t *testing.T) {
	t.Run("matches Twilio's published example", func(t *testing.T) {
		if got := Sign(vectorToken, vectorURL, vectorParams()); got != vectorSig {
			t.Fatalf("Sign = %q, want %q", got, vectorSig)
		}
	})
	t.Run("GET signature covers the URL only", func(t *testing.T) {
		u := "https://example.com/cb?CallSid=CA1&Digits=1"
		if !ValidateRequest(vectorToken, u, nil, Sign(vectorToken, u, nil)) {
			t.Fatal("ValidateRequest rejected Sign's GET signature")
		}
	})
}

func TestValidateRequest(t *testing.T) {
	good := Sign(vectorToken, vectorURL, vectorParams())
	tests := []struct {
		name   string
		token  string
		url    string
		params func(map[string]string)
		sig    string
		want   bool
	}{
		{name: "accepts what Sign produces", token: vectorToken, url: vectorURL, sig: good, want: true},
		{name: "accepts the URL with the default port added", token: vectorToken,
			url: strings.Replace(vectorURL, ".com", ".com:443", 1), sig: good, want: true},
		{name: "rejects a tampered param", token: vectorToken, url: vectorURL, sig: good,
			params: func(p map[string]string) { p["Digits"] = "1" }},
		{name: "rejects an added param", token: vectorToken, url: vectorURL, sig: good,
			params: func(p map[string]string) { p["Extra"] = "x" }},
		{name: "rejects a removed param", token: vectorToken, url: vectorURL, sig: good,
			params: func(p map[string]string) { delete(p, "To") }},
		{name: "rejects another URL", token: vectorToken, url: "https://mycompany.com/other.php?foo=1&bar=2", sig: good},
		{name: "rejects another query", token: vectorToken, url: "https://mycompany.com/myapp.php?foo=2&bar=2", sig: good},
		{name: "rejects another token", token: "54321", url: vectorURL, sig: good},
		{name: "rejects a missing signature", token: vectorToken, url: vectorURL, sig: ""},
		{name: "rejects a forged signature", token: vectorToken, url: vectorURL, sig: "AAAAAAAAAAAAAAAAAAAAAAAAAAA="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := vectorParams()
			if tt.params != nil {
				tt.params(p)
			}
			if got := ValidateRequest(tt.token, tt.url, p, tt.sig); got != tt.want {
				t.Fatalf("ValidateRequest = %v, want %v", got, tt.want)
			}
		})
	}
}
