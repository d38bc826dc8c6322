package callbacks_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/producers/callbacks"
	"github.com/osprey-strike/strike/schemas"
)

// offers answers for one caller at one number; NOCCallIns (PostgreSQL) is exercised by the
// dialer's call-in scenarios.
type offers struct {
	to, from string
	list     []callbacks.Offer
}

func (o offers) Offers(_ context.Context, _, to, from string) ([]callbacks.Offer, error) {
	if to != o.to || from != o.from {
		return nil, nil
	}
	return o.list, nil
}

func inboundForm(from string) url.Values {
	return url.Values{"AccountSid": {subSID}, "CallSid": {callSID}, "CallStatus": {"ringing"}, "Direction": {"inbound"},
		"From": {from}, "To": {"+15550100001"}, "ApiVersion": {"2010-04-01"}}
}

func TestACallInChoosesAnOpenECOAndItsHoldIsPublished(t *testing.T) {
	t.Parallel()
	caller := "+15550109001"
	o := offers{to: "+15550100001", from: caller, list: []callbacks.Offer{
		{ECOID: uuid.NewString(), JobNumber: "ACME-NWND-00001-2026", Site: "Exchange 7", Summary: "Fibre cut"},
		{ECOID: uuid.NewString(), JobNumber: "ACME-NWND-00002-2026", Site: "Exchange 9", Summary: "Power"},
	}}
	b := setup(t, setupOpts{callIns: o})
	urls := twilio.WebhookURLs{Base: b.srv.URL}

	resp, body := b.post(t, urls.Inbound(), urls.Inbound(), inboundForm(caller), true)
	choose := urls.InboundChoose([]string{o.list[0].ECOID, o.list[1].ECOID})
	if resp.StatusCode != 200 || !strings.Contains(body, "press 2") || !strings.Contains(body, xmlEscape(choose)) {
		t.Fatalf("menu: %d %s", resp.StatusCode, body)
	}
	resp, body = b.post(t, urls.Inbound(), urls.Inbound(), inboundForm("+15550109999"), true)
	if resp.StatusCode != 200 || !strings.Contains(body, "no open callout") {
		t.Fatalf("a stranger: %d %s", resp.StatusCode, body)
	}

	form := inboundForm(caller)
	form.Set("Digits", "2")
	resp, body = b.post(t, choose, choose, form, true)
	callID := schemas.CallInID(callSID)
	if resp.StatusCode != 200 || !strings.Contains(body, "ACME-NWND-00002-2026") || !strings.Contains(body, xmlEscape(urls.Gather(o.list[1].ECOID, callID, 1))) {
		t.Fatalf("choice: %d %s", resp.StatusCode, body)
	}
	recs := b.published(t, 1)
	var ev schemas.TelephonyCallback
	if len(recs) != 1 || b.v.Decode(schemas.TypeTelephonyCallback, recs[0].Value, &ev) != nil || string(recs[0].Key) != o.list[1].ECOID ||
		ev.Kind != schemas.CallbackCallIn || ev.CallID != callID || ev.From != caller {
		t.Fatalf("published %v (%+v), want the hold of the second ECO", recs, ev)
	}

	form.Set("Digits", "7")
	if _, body = b.post(t, choose, choose, form, true); !strings.Contains(body, "not one of the choices") {
		t.Errorf("a key beyond the menu: %s", body)
	}
	// The list of ECOs travels in the signed URL: a caller cannot swap in another ECO.
	tampered := urls.InboundChoose([]string{uuid.NewString()})
	form.Set("Digits", "1")
	if resp, _ := b.post(t, tampered, choose, form, true); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a tampered menu URL: %d, want 403", resp.StatusCode)
	}
	if resp, _ := b.post(t, urls.Inbound(), urls.Inbound(), inboundForm(caller), false); resp.StatusCode != http.StatusForbidden {
		t.Errorf("an unsigned inbound call: %d, want 403", resp.StatusCode)
	}
	if resp, _ := b.postWith(t, urls.Inbound(), urls.Inbound(), inboundForm(caller), true, "notTheToken"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("an inbound call signed with another token: %d, want 403", resp.StatusCode)
	}
	if recs := b.publishedAtMost(t, 2); len(recs) != 1 {
		t.Errorf("%d records, want only the one hold", len(recs))
	}
}

func xmlEscape(s string) string { return strings.ReplaceAll(s, "&", "&amp;") }
