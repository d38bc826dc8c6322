package twilio

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestGatherTwiML(t *testing.T) {
	type gather struct {
		NumDigits string `xml:"numDigits,attr"`
		Action    string `xml:"action,attr"`
		Method    string `xml:"method,attr"`
		Timeout   string `xml:"timeout,attr"`
		Say       string `xml:"Say"`
	}
	type response struct {
		XMLName xml.Name `xml:"Response"`
		Gather  gather   `xml:"Gather"`
		Say     []string `xml:"Say"`
	}
	tests := []struct {
		name                 string
		job, site, action    string
		attempt              int
		wantPrompt, notInSay string
	}{
		{name: "first prompt reads job and site", job: "ACME-NOCA-00042-2026", site: "Exchange 7",
			action: "https://strike.example/twilio/gather?eco=1&attempt=1", attempt: 1,
			wantPrompt: "Emergency callout. Job number ACME-NOCA-00042-2026. Site Exchange 7. Press 1 to accept, 2 to decline.",
			notInSay:   "not valid"},
		{name: "re-prompt says the key was invalid", job: "J1", site: "S", action: "https://x/g", attempt: 2,
			wantPrompt: "Sorry, that key is not valid. Emergency callout. Job number J1. Site S. Press 1 to accept, 2 to decline."},
		{name: "escapes markup in values", job: `A&B<1>`, site: `"Main" & 'Co' </Say><Hangup/>`,
			action: `https://x/g?a=1&b="2"`, attempt: 1,
			wantPrompt: `Emergency callout. Job number A&B<1>. Site "Main" & 'Co' </Say><Hangup/>. Press 1 to accept, 2 to decline.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := GatherTwiML(tt.job, tt.site, tt.action, tt.attempt)
			if strings.Contains(doc, "<Hangup") {
				t.Fatalf("markup leaked into the document: %s", doc)
			}
			var r response
			if err := xml.Unmarshal([]byte(doc), &r); err != nil {
				t.Fatalf("not XML: %v\n%s", err, doc)
			}
			g := r.Gather
			if g.NumDigits != "1" || g.Method != "POST" || g.Timeout != "8" || g.Action != tt.action {
				t.Fatalf("Gather attrs = %+v", g)
			}
			if g.Say != tt.wantPrompt {
				t.Fatalf("prompt = %q, want %q", g.Say, tt.wantPrompt)
			}
			if len(r.Say) != 1 || r.Say[0] != "No input received." {
				t.Fatalf("trailing Say = %q", r.Say)
			}
			if tt.notInSay != "" && strings.Contains(g.Say, tt.notInSay) {
				t.Fatalf("prompt %q should not contain %q", g.Say, tt.notInSay)
			}
		})
	}
}

func TestSayTwiML(t *testing.T) {
	got := SayTwiML("Accepted & thank you")
	want := xml.Header + "<Response><Say>Accepted &amp; thank you</Say></Response>"
	if got != want {
		t.Fatalf("SayTwiML = %q, want %q", got, want)
	}
}
