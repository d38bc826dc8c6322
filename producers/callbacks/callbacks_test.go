package callbacks_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/internal/twiliosim"
	"github.com/osprey-strike/strike/producers/callbacks"
	"github.com/osprey-strike/strike/schemas"
)

const (
	mainSID   = "AC00000000000000000000000000000001"
	subSID    = "AC00000000000000000000000000000a01"
	authToken = "testauthtoken0123456789abcdef01"
	callSID   = "CA0123456789abcdef0123456789abcdef"
)

type bundle struct {
	brokers string
	srv     *httptest.Server
	v       *schemas.Validator
}

func setup(t *testing.T) *bundle {
	t.Helper()
	k := kafkatest.New(t)
	out := kafkatest.Client(t, k.Brokers, kgo.ProducerLinger(0))
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	h, err := callbacks.New(out, zerolog.Nop(), nil, callbacks.Config{PublicBaseURL: srv.URL, AuthToken: authToken})
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(mux)
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{brokers: k.Brokers, srv: srv, v: v}
}

// post sends form to rawURL signed over signURL (normally the same URL).
func (b *bundle) post(t *testing.T, rawURL, signURL string, form url.Values, sign bool) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sign {
		req.Header.Set(twilio.SignatureHeader, twilio.Sign(authToken, signURL, twilio.FormParams(form)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func statusForm(status string, seq int) url.Values {
	return url.Values{"AccountSid": {subSID}, "CallSid": {callSID}, "CallStatus": {status},
		"SequenceNumber": {itoa(seq)}, "CallbackSource": {"call-progress-events"}}
}

func itoa(i int) string { return strconv.Itoa(i) }

func (b *bundle) published(t *testing.T, want int) []*kgo.Record {
	t.Helper()
	return kafkatest.ReadAll(t, b.brokers, topics.TelephonyCallbacks, want, 10*time.Second)
}

func TestSignedStatusCallbackIsPublishedKeyedByECO(t *testing.T) {
	t.Parallel()
	b := setup(t)
	eco := uuid.NewString()
	u := twilio.WebhookURLs{Base: b.srv.URL}.Status(eco, "call-1")
	resp, _ := b.post(t, u, u, statusForm("ringing", 1), true)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d, want 204", resp.StatusCode)
	}
	// Twilio sends the same callback again: same ce_id.
	b.post(t, u, u, statusForm("ringing", 1), true)
	recs := b.published(t, 2)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	if string(recs[0].Key) != eco {
		t.Errorf("key %q, want the ECO id", recs[0].Key)
	}
	if cloudevents.Parse(recs[0]).ID != cloudevents.Parse(recs[1]).ID {
		t.Error("a repeated callback got a new ce_id; the dialer could not drop it")
	}
	var ev schemas.TelephonyCallback
	if err := b.v.Decode(schemas.TypeTelephonyCallback, recs[0].Value, &ev); err != nil {
		t.Fatalf("published value does not match its schema: %v", err)
	}
	if ev.CallID != "call-1" || ev.Kind != schemas.CallbackStatus || ev.CallStatus != "ringing" || *ev.SequenceNumber != 1 {
		t.Errorf("published %+v", ev)
	}
}

func TestForgedCallbacksAreRefusedAndNothingIsPublished(t *testing.T) {
	t.Parallel()
	b := setup(t)
	eco := uuid.NewString()
	u := twilio.WebhookURLs{Base: b.srv.URL}.Status(eco, "call-1")
	other := twilio.WebhookURLs{Base: b.srv.URL}.Status(uuid.NewString(), "call-1")
	cases := []struct {
		name    string
		signURL string
		sign    bool
		form    url.Values
	}{
		{"no signature", u, false, statusForm("completed", 3)},
		{"signed for another ECO's URL", other, true, statusForm("completed", 3)},
		{"signed with other fields", u, true, nil},
	}
	for _, c := range cases {
		form := c.form
		if form == nil {
			// Sign one body, send another.
			req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(statusForm("busy", 3).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set(twilio.SignatureHeader, twilio.Sign(authToken, u, twilio.FormParams(statusForm("completed", 3))))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s: status %d, want 403", c.name, resp.StatusCode)
			}
			continue
		}
		resp, _ := b.post(t, u, c.signURL, form, c.sign)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", c.name, resp.StatusCode)
		}
	}
	// A valid one afterwards is the only record on the topic.
	b.post(t, u, u, statusForm("completed", 3), true)
	recs := b.published(t, 2)
	if len(recs) != 1 {
		t.Fatalf("%d records published, want only the valid one", len(recs))
	}
}

func TestGatherRepromptsAnInvalidKeyThenPassesItOn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	eco := uuid.NewString()
	urls := twilio.WebhookURLs{Base: b.srv.URL}
	form := func(d string) url.Values {
		return url.Values{"AccountSid": {subSID}, "CallSid": {callSID}, "CallStatus": {"in-progress"}, "Digits": {d}}
	}
	u1 := urls.Gather(eco, "call-1", 1)
	_, body := b.post(t, u1, u1, form("7"), true)
	if !strings.Contains(body, "not valid") || !strings.Contains(body, "attempt=2") {
		t.Errorf("first invalid key: TwiML %q, want a re-prompt posting attempt 2", body)
	}
	u3 := urls.Gather(eco, "call-1", 3)
	_, body = b.post(t, u3, u3, form("7"), true)
	if strings.Contains(body, "<Gather") {
		t.Errorf("third invalid key re-prompted again: %q", body)
	}
	_, body = b.post(t, u1, u1, form("1"), true)
	if !strings.Contains(body, "recorded") {
		t.Errorf("key 1: TwiML %q", body)
	}
	recs := b.published(t, 2)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2 (the third invalid key and the 1)", len(recs))
	}
	var digits []string
	for _, r := range recs {
		var ev schemas.TelephonyCallback
		if err := json.Unmarshal(r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		digits = append(digits, ev.Digits)
	}
	if strings.Join(digits, ",") != "7,1" {
		t.Errorf("published digits %v, want [7 1]", digits)
	}
}

// The real path: twilio-go places a call on the simulator, which plays it out and posts signed
// callbacks to these handlers, exactly as Twilio would.
func TestSimulatedCallCallbacksArriveSignedAndArePublished(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sim, err := twiliosim.New(twiliosim.Config{
		AccountSID: mainSID, AuthToken: authToken, Subaccounts: []string{subSID}, TimeScale: 0.01,
		Script: twiliosim.Script{"+15550101002": twiliosim.AnswerAndPress{After: time.Second, Digit: "1"}},
	}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sim.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	tw, err := twilio.New(twilio.Config{AccountSID: mainSID, AuthToken: authToken, BaseURL: sim.URL(), CPS: -1}, zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	eco := uuid.NewString()
	urls := twilio.WebhookURLs{Base: b.srv.URL}
	call, err := tw.CreateCall(ctx, twilio.CallRequest{
		SubaccountSID: subSID, To: "+15550101002", From: "+15550100001", Timeout: 25 * time.Second,
		StatusCallbackURL: urls.Status(eco, "call-1"),
		Twiml:             twilio.GatherTwiML("ACME-1", "Exchange 7", urls.Gather(eco, "call-1", 1), 1),
	})
	if err != nil {
		t.Fatal(err)
	}
	recs := b.published(t, 5) // initiated, ringing, in-progress, gather 1, completed
	kinds := map[string]int{}
	for _, r := range recs {
		var ev schemas.TelephonyCallback
		if err := json.Unmarshal(r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.CallSID != call.SID || string(r.Key) != eco {
			t.Errorf("callback %+v for another call or key %q", ev, r.Key)
		}
		kinds[ev.Kind+":"+ev.CallStatus+ev.Digits]++
	}
	if kinds["gather:in-progress1"] != 1 || kinds["status:completed"] != 1 {
		t.Errorf("published %v, want the gather with 1 and the completed status among them", kinds)
	}
}

func TestBoardFillReadsTheECOBoard(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	filled, open := uuid.NewString(), uuid.NewString()
	for _, row := range []struct {
		eco              string
		accepted, needed int
	}{{filled, 1, 1}, {open, 1, 2}} {
		if _, err := db.Pool.Exec(ctx, `INSERT INTO eco_board (eco_id, noc_tenant_id, osp_tenant_id, status, status_class,
			status_at, status_rank, status_event, accepted_count, people_needed, created_at, created_prio, updated_at)
			VALUES ($1, 'noc-a', 'osp-a', 'accepted', 0, now(), 0, 'x', $2, $3, now(), 0, now())`,
			row.eco, row.accepted, row.needed); err != nil {
			t.Fatal(err)
		}
	}
	fill := callbacks.BoardFill{Pool: db.Pool}
	for eco, want := range map[string]bool{filled: true, open: false, uuid.NewString(): false} {
		got, err := fill.Filled(ctx, eco)
		if err != nil || got != want {
			t.Errorf("Filled(%s) = %v, %v; want %v", eco, got, err, want)
		}
	}
}

type fixedFill bool

func (f fixedFill) Filled(context.Context, string) (bool, error) { return bool(f), nil }

func TestPressingOneForAFilledECOHearsSo(t *testing.T) {
	t.Parallel()
	k := kafkatest.New(t)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	h, err := callbacks.New(kafkatest.Client(t, k.Brokers), zerolog.Nop(), nil,
		callbacks.Config{PublicBaseURL: srv.URL, AuthToken: authToken, Fill: fixedFill(true)})
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(mux)
	b := &bundle{brokers: k.Brokers, srv: srv}
	u := twilio.WebhookURLs{Base: srv.URL}.Gather(uuid.NewString(), "call-1", 1)
	_, body := b.post(t, u, u, url.Values{"AccountSid": {subSID}, "CallSid": {callSID}, "CallStatus": {"in-progress"}, "Digits": {"1"}}, true)
	if !strings.Contains(body, "already has the people it needs") {
		t.Errorf("TwiML %q, want the caller told the callout is filled", body)
	}
	if recs := b.published(t, 1); len(recs) != 1 {
		t.Errorf("%d records, want the late acceptance still published for the dialer to record", len(recs))
	}
}
