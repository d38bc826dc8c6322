package twiliosim

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseCreate(t *testing.T) {
	valid := func() url.Values {
		return url.Values{
			"To": {"+15550001111"}, "From": {"+15550002222"}, "Url": {"https://gw.example/twiml"},
			"Timeout": {"25"}, "StatusCallback": {"https://gw.example/status"},
			"StatusCallbackEvent": {"initiated", "ringing", "answered", "completed"}, "StatusCallbackMethod": {"POST"},
		}
	}
	t.Run("accepts what the adapter sends", func(t *testing.T) {
		p, err := parseCreate(valid())
		if err != nil {
			t.Fatal(err.Message)
		}
		if p.Timeout != 25*time.Second || len(p.Events) != 4 || p.Method != "POST" {
			t.Fatalf("got %+v", p)
		}
	})
	t.Run("caps Timeout at 600 s", func(t *testing.T) {
		f := valid()
		f.Set("Timeout", "3600")
		p, err := parseCreate(f)
		if err != nil || p.Timeout != 600*time.Second {
			t.Fatalf("Timeout 3600: %v, %v; want 600 s", p.Timeout, err)
		}
	})
	t.Run("accepts TwiML of exactly 4,000 characters, counted as characters", func(t *testing.T) {
		f := valid()
		f.Del("Url")
		doc := "<Response><Say>" + strings.Repeat("é", 3968) + "</Say></Response>"
		f.Set("Twiml", doc)
		if _, err := parseCreate(f); err != nil {
			t.Fatalf("4,000 characters (%d bytes) refused: %v", len(doc), err)
		}
	})
	t.Run("defaults Timeout to 60 s", func(t *testing.T) {
		f := valid()
		f.Del("Timeout")
		p, err := parseCreate(f)
		if err != nil || p.Timeout != 60*time.Second {
			t.Fatalf("p=%+v err=%v", p, err)
		}
	})
	tests := []struct {
		name   string
		mutate func(url.Values)
		code   int
	}{
		{"rejects a missing To", func(f url.Values) { f.Del("To") }, 21201},
		{"rejects a To without plus", func(f url.Values) { f.Set("To", "15550001111") }, 21211},
		{"rejects a To with letters", func(f url.Values) { f.Set("To", "+1555CALLME") }, 21211},
		{"rejects a To starting with 0", func(f url.Values) { f.Set("To", "+05550001111") }, 21211},
		{"rejects a To over 15 digits", func(f url.Values) { f.Set("To", "+1234567890123456") }, 21211},
		{"rejects a missing From", func(f url.Values) { f.Del("From") }, 21213},
		{"rejects an invalid From", func(f url.Values) { f.Set("From", "NOC") }, 21212},
		{"rejects neither Url nor Twiml", func(f url.Values) { f.Del("Url") }, 21205},
		{"rejects both Url and Twiml", func(f url.Values) { f.Set("Twiml", "<Response/>") }, 20001},
		{"rejects a relative Url", func(f url.Values) { f.Set("Url", "/twiml") }, 21205},
		{"rejects a Timeout of 0", func(f url.Values) { f.Set("Timeout", "0") }, 21208},
		{"rejects a negative Timeout", func(f url.Values) { f.Set("Timeout", "-5") }, 21208},
		{"rejects TwiML over 4,000 characters", func(f url.Values) {
			f.Del("Url")
			f.Set("Twiml", "<Response><Say>"+strings.Repeat("é", 3981)+"</Say></Response>")
		}, 32018},
		{"rejects an unknown MachineDetection", func(f url.Values) { f.Set("MachineDetection", "Maybe") }, 20001},
		{"rejects a non-numeric Timeout", func(f url.Values) { f.Set("Timeout", "soon") }, 21208},
		{"rejects a bad StatusCallback", func(f url.Values) { f.Set("StatusCallback", "ftp://x") }, 21609},
		{"rejects an unknown event", func(f url.Values) { f.Add("StatusCallbackEvent", "exploded") }, 20001},
		{"rejects a bad method", func(f url.Values) { f.Set("StatusCallbackMethod", "PUT") }, 20001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := valid()
			tt.mutate(f)
			_, err := parseCreate(f)
			if err == nil || err.Code != tt.code || err.Status != 400 {
				t.Fatalf("err = %+v, want 400/%d", err, tt.code)
			}
		})
	}
}

// FuzzParseCreate feeds arbitrary Create Call bodies: parsing never panics,
// refusals are Twilio-shaped, and accepted requests are within bounds.
func FuzzParseCreate(f *testing.F) {
	f.Add("To=%2B15550001111&From=%2B15550002222&Url=https%3A%2F%2Fgw%2Ft&Timeout=25&StatusCallbackEvent=initiated+ringing")
	f.Add("To=%2B1&From=x&Twiml=%3CResponse%2F%3E&Timeout=-5")
	f.Add("To=&&=&Timeout=99999999999999999999")
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		p, aerr := parseCreate(form)
		if aerr != nil {
			if aerr.Status != 400 || aerr.Code == 0 || aerr.Message == "" {
				t.Fatalf("malformed refusal %+v", aerr)
			}
			return
		}
		if !isE164(p.To) || !isE164(p.From) {
			t.Fatalf("accepted non-E.164 numbers %q %q", p.To, p.From)
		}
		if p.Timeout < time.Second || p.Timeout > maxTimeout {
			t.Fatalf("accepted Timeout %v", p.Timeout)
		}
		if (p.URL == "") == (p.Twiml == "") || (p.URL != "" && !isHTTPURL(p.URL)) {
			t.Fatalf("accepted Url %q Twiml %q", p.URL, p.Twiml)
		}
	})
}
