package twiliosim

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/osprey-strike/strike/internal/twilio"
)

func TestParseTwiML(t *testing.T) {
	const docURL = "https://gw.example/twilio/twiml/eco-1?call=3"
	tests := []struct {
		name    string
		doc     string
		docURL  string
		want    *gatherSpec
		wantErr string
	}{
		{name: "reads Strike's own callout TwiML",
			doc:    twilio.GatherTwiML("J-1", "Site", "https://gw.example/twilio/gather?eco=1", 1),
			docURL: docURL,
			want:   &gatherSpec{Action: "https://gw.example/twilio/gather?eco=1", Method: "POST", Timeout: 8 * time.Second, NumDigits: 1}},
		{name: "resolves a relative action against the document URL",
			doc: `<Response><Gather action="../gather?x=1" method="get"><Say>hi</Say></Gather></Response>`, docURL: docURL,
			want: &gatherSpec{Action: "https://gw.example/twilio/gather?x=1", Method: "GET", Timeout: defaultGatherTimeout}},
		{name: "defaults the action to the document URL",
			doc: `<Response><Gather numDigits="1"/></Response>`, docURL: docURL,
			want: &gatherSpec{Action: docURL, Method: "POST", Timeout: defaultGatherTimeout, NumDigits: 1}},
		{name: "inline TwiML with a relative action has no action",
			doc:  `<Response><Gather action="/gather"/></Response>`,
			want: &gatherSpec{Method: "POST", Timeout: defaultGatherTimeout}},
		{name: "caps the gather timeout at 600 s",
			doc:  `<Response><Gather action="https://a.example/" timeout="9999"/></Response>`,
			want: &gatherSpec{Action: "https://a.example/", Method: "POST", Timeout: maxGatherTimeout}},
		{name: "takes the first top-level Gather only",
			doc:  `<?xml version="1.0"?><Response><Say>x</Say><Gather action="https://a.example/1"/><Gather action="https://a.example/2"/></Response>`,
			want: &gatherSpec{Action: "https://a.example/1", Method: "POST", Timeout: defaultGatherTimeout}},
		{name: "a document without Gather has none",
			doc: twilio.SayTwiML("Accepted"), want: nil},
		{name: "rejects another root", doc: `<Gather/>`, wantErr: "root"},
		{name: "rejects an empty document", doc: "  ", wantErr: "empty"},
		{name: "rejects unclosed XML", doc: `<Response><Gather>`, wantErr: "TwiML"},
		{name: "rejects two roots", doc: `<Response/><Response/>`, wantErr: "more than one root"},
		{name: "rejects a non-http action", doc: `<Response><Gather action="javascript:alert(1)"/></Response>`, wantErr: "not an http"},
		{name: "rejects a bad method", doc: `<Response><Gather method="PUT"/></Response>`, wantErr: "method"},
		{name: "rejects a bad timeout", doc: `<Response><Gather timeout="-1"/></Response>`, wantErr: "timeout"},
		{name: "rejects a document over 64 KB", doc: "<Response>" + strings.Repeat(" ", maxTwiML) + "</Response>", wantErr: "longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := parseTwiML([]byte(tt.doc), tt.docURL)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.want == nil && doc.Gather != nil:
				t.Fatalf("Gather = %+v, want none", *doc.Gather)
			case tt.want != nil && (doc.Gather == nil || *doc.Gather != *tt.want):
				t.Fatalf("Gather = %+v, want %+v", doc.Gather, *tt.want)
			}
		})
	}
}

// FuzzParseTwiML feeds arbitrary documents (the application's answers are
// outside input): parsing never panics and an accepted Gather is usable.
func FuzzParseTwiML(f *testing.F) {
	f.Add(twilio.GatherTwiML("J-1", "S&S", "https://gw.example/g?a=1", 2), "https://gw.example/t")
	f.Add(`<Response><Gather action="rel" method="GET" timeout="3" numDigits="2"/></Response>`, "http://h/x/y")
	f.Add(`<Response><Gather action="%zz"/></Response>`, "")
	f.Add(`<!DOCTYPE r [<!ENTITY a "aaaa">]><Response>&a;</Response>`, "")
	f.Fuzz(func(t *testing.T, doc, docURL string) {
		out, err := parseTwiML([]byte(doc), docURL)
		if err != nil || out.Gather == nil {
			return
		}
		g := out.Gather
		if g.Method != "POST" && g.Method != "GET" {
			t.Fatalf("method %q", g.Method)
		}
		if g.Timeout < time.Second || g.Timeout > maxGatherTimeout || g.NumDigits < 0 {
			t.Fatalf("gather %+v out of bounds", *g)
		}
		if g.Action != "" {
			u, err := url.Parse(g.Action)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				t.Fatalf("action %q is not an absolute http URL", g.Action)
			}
		}
	})
}
