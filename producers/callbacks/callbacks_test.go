package callbacks_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/pg"
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
	otherSub  = "AC00000000000000000000000000000a02" // a NOC subaccount owned by another main account
	strayAcct = "AC00000000000000000000000000000bad" // nobody's NOC
	authToken = "testauthtoken0123456789abcdef01"
	subToken  = "subaccounttoken0123456789abcdef"
	callSID   = "CA0123456789abcdef0123456789abcdef"
)

// accounts is Twilio's Accounts resource as the gateway reads it: subSID is
// Strike's subaccount with its own token; otherSub and strayAcct belong to
// another main account.
type accounts struct {
	mu    sync.Mutex
	m     map[string]twilio.Account
	reads int
}

func newAccounts() *accounts {
	return &accounts{m: map[string]twilio.Account{
		subSID:    {SID: subSID, OwnerAccountSID: mainSID, AuthToken: subToken, Status: "active"},
		otherSub:  {SID: otherSub, OwnerAccountSID: "AC0000000000000000000000000000ffff", AuthToken: "otherToken", Status: "active"},
		strayAcct: {SID: strayAcct, OwnerAccountSID: mainSID, AuthToken: "strayToken", Status: "active"},
	}}
}

func (a *accounts) FetchAccount(_ context.Context, sid string) (twilio.Account, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reads++
	acct, ok := a.m[sid]
	if !ok {
		return twilio.Account{}, fmt.Errorf("%w: %s", twilio.ErrNotFound, sid)
	}
	return acct, nil
}

func (a *accounts) rotate(sid, tok string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	acct := a.m[sid]
	acct.AuthToken = tok
	a.m[sid] = acct
}

// nocs is the set of NOC subaccounts in noc_tenants.
type nocs map[string]bool

func (n nocs) IsNOCSubaccount(_ context.Context, sid string) (bool, error) { return n[sid], nil }

type bundle struct {
	brokers  string
	srv      *httptest.Server
	v        *schemas.Validator
	accounts *accounts
	// tokens signs a form as Twilio would: with its AccountSid's token.
	tokens map[string]string
}

type setupOpts struct {
	out     func(kgo *kgo.Client) callbacks.Producer
	fill    callbacks.FillChecker
	callIns callbacks.CallIns
}

func setup(t *testing.T, opts ...setupOpts) *bundle {
	t.Helper()
	var o setupOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	// SASL and ACLs on: callbacks are produced as the gateway's principal, which serves them.
	k := kafkatest.NewSecured(t)
	cl := k.ClientAs(t, k.Principal(t, "gateway"), kgo.ProducerLinger(0))
	var out callbacks.Producer = cl
	if o.out != nil {
		out = o.out(cl)
	}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	accts := newAccounts()
	tokens, err := twilio.NewWebhookTokens(accts, twilio.WebhookTokensConfig{MainAccountSID: mainSID, MainAuthToken: authToken})
	if err != nil {
		t.Fatal(err)
	}
	h, err := callbacks.New(out, zerolog.Nop(), nil, callbacks.Config{PublicBaseURL: srv.URL, Signatures: tokens,
		Accounts: nocs{subSID: true, otherSub: true}, Fill: o.fill, CallIns: o.callIns})
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(mux)
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{brokers: k.Brokers, srv: srv, v: v, accounts: accts,
		tokens: map[string]string{mainSID: authToken, subSID: subToken, otherSub: "otherToken", strayAcct: "strayToken"}}
}

// post sends form to rawURL signed over signURL (normally the same URL) with
// the token of the form's AccountSid.
func (b *bundle) post(t *testing.T, rawURL, signURL string, form url.Values, sign bool) (*http.Response, string) {
	t.Helper()
	return b.postWith(t, rawURL, signURL, form, sign, b.tokens[form.Get("AccountSid")])
}

func (b *bundle) postWith(t *testing.T, rawURL, signURL string, form url.Values, sign bool, token string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sign {
		req.Header.Set(twilio.SignatureHeader, twilio.Sign(token, signURL, twilio.FormParams(form)))
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

// publishedAtMost reads for a short while, to show that fewer than want records were published.
func (b *bundle) publishedAtMost(t *testing.T, want int) []*kgo.Record {
	t.Helper()
	return kafkatest.ReadAll(t, b.brokers, topics.TelephonyCallbacks, want, 3*time.Second)
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
			req.Header.Set(twilio.SignatureHeader, twilio.Sign(subToken, u, twilio.FormParams(statusForm("completed", 3))))
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

// The real path: twilio-go places a call in a NOC's subaccount on the simulator, which plays it
// out and posts callbacks signed with the subaccount's own token to these handlers, exactly as
// Twilio would; the handlers read that token with the main credentials from the simulator's
// Accounts resource and know the subaccount from noc_tenants in PostgreSQL.
func TestSimulatedCallCallbacksArriveSignedAndArePublished(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.Pool.Exec(ctx, `INSERT INTO noc_tenants (id, name, code, twilio_subaccount_sid, caller_id)
		VALUES ('noc-a', 'NOC A', 'NOCA', $1, '+15550100001')`, subSID); err != nil {
		t.Fatal(err)
	}
	sim, err := twiliosim.New(twiliosim.Config{
		AccountSID: mainSID, AuthToken: authToken, Subaccounts: []string{subSID}, TimeScale: 0.01,
		Script: twiliosim.Script{"+15550101002": twiliosim.AnswerAndPress{After: time.Second, Digit: "1"}},
	}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	tw, err := twilio.New(twilio.Config{AccountSID: mainSID, AuthToken: authToken, BaseURL: sim.URL(), CPS: -1}, zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}

	k := kafkatest.NewSecured(t)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	h, err := callbacks.New(k.ClientAs(t, k.Principal(t, "gateway"), kgo.ProducerLinger(0)), zerolog.Nop(), nil,
		callbacks.Config{PublicBaseURL: srv.URL, Signatures: tw.WebhookTokens(0), Accounts: callbacks.NOCSubaccounts{Pool: db.PoolAs(t, pg.RoleCallbacks)}})
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(mux)
	b := &bundle{brokers: k.Brokers, srv: srv}

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
		if ev.CallSID != call.SID || string(r.Key) != eco || ev.AccountSID != subSID {
			t.Errorf("callback %+v for another call, account or key %q", ev, r.Key)
		}
		kinds[ev.Kind+":"+ev.CallStatus+ev.Digits]++
	}
	if len(recs) != 5 || kinds["gather:in-progress1"] != 1 || kinds["status:completed"] != 1 {
		t.Errorf("published %v, want all 5 callbacks with the gather's 1 and the completed status", kinds)
	}
	if rec, _ := sim.Call(call.SID); rec.Pressed != "1" {
		t.Errorf("call record %+v", rec)
	}
}

func TestSubaccountCallbacksNeedTheSubaccountsToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := twilio.WebhookURLs{Base: b.srv.URL}.Status(uuid.NewString(), "call-1")
	form := statusForm("ringing", 1) // AccountSid: subSID
	if resp, _ := b.postWith(t, u, u, form, true, authToken); resp.StatusCode != http.StatusForbidden {
		t.Errorf("subaccount callback signed with the main token: %d, want 403", resp.StatusCode)
	}
	if resp, _ := b.postWith(t, u, u, form, true, subToken); resp.StatusCode != http.StatusNoContent {
		t.Errorf("subaccount callback signed with its own token: %d, want 204", resp.StatusCode)
	}
	main := statusForm("ringing", 2)
	main.Set("AccountSid", mainSID)
	if resp, _ := b.postWith(t, u, u, main, true, authToken); resp.StatusCode != http.StatusNoContent {
		t.Errorf("main account callback signed with the main token: %d, want 204", resp.StatusCode)
	}
	if recs := b.publishedAtMost(t, 3); len(recs) != 2 {
		t.Fatalf("%d records published, want the 2 valid callbacks", len(recs))
	}
}

func TestARotatedSubaccountTokenIsReadAgain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := twilio.WebhookURLs{Base: b.srv.URL}.Status(uuid.NewString(), "call-1")
	if resp, _ := b.post(t, u, u, statusForm("initiated", 0), true); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("before rotation: %d", resp.StatusCode)
	}
	b.accounts.rotate(subSID, "rotatedToken42")
	b.tokens[subSID] = "rotatedToken42"
	if resp, _ := b.post(t, u, u, statusForm("ringing", 1), true); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("after rotation: %d, want the new token read and accepted", resp.StatusCode)
	}
	if b.accounts.reads != 2 {
		t.Fatalf("%d account reads, want 2 (one re-read)", b.accounts.reads)
	}
	// Forgeries do not make the gateway read the account again and again.
	for range 5 {
		if resp, _ := b.postWith(t, u, u, statusForm("completed", 2), true, "forged"); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("forged: %d", resp.StatusCode)
		}
	}
	if b.accounts.reads != 2 {
		t.Fatalf("%d account reads after forgeries, want still 2", b.accounts.reads)
	}
}

func TestCallbacksOfAccountsThatAreNotStrikesAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := twilio.WebhookURLs{Base: b.srv.URL}.Status(uuid.NewString(), "call-1")
	for name, sid := range map[string]string{
		"a subaccount of Strike's account no NOC uses": strayAcct,
		"a NOC subaccount another account owns":        otherSub,
		"an account Twilio does not know":              "AC00000000000000000000000000000404",
	} {
		form := statusForm("ringing", 1)
		form.Set("AccountSid", sid)
		resp, _ := b.postWith(t, u, u, form, true, b.tokens[sid])
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, resp.StatusCode)
		}
	}
	if b.accounts.reads > 2 {
		t.Errorf("%d account reads: an account no NOC uses must not be read", b.accounts.reads)
	}
	if recs := b.publishedAtMost(t, 1); len(recs) != 0 {
		t.Fatalf("%d records published, want none", len(recs))
	}
}

func TestNOCSubaccountsReadsNOCTenants(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `INSERT INTO noc_tenants (id, name, code, twilio_subaccount_sid)
		VALUES ('noc-a', 'NOC A', 'NOCA', $1), ('noc-b', 'NOC B', 'NOCB', NULL)`, subSID); err != nil {
		t.Fatal(err)
	}
	dir := callbacks.NOCSubaccounts{Pool: db.PoolAs(t, pg.RoleCallbacks)}
	for sid, want := range map[string]bool{subSID: true, strayAcct: false, mainSID: false} {
		if got, err := dir.IsNOCSubaccount(ctx, sid); err != nil || got != want {
			t.Errorf("IsNOCSubaccount(%s) = %v, %v; want %v", sid, got, err, want)
		}
	}
}

// flaky fails its first n produce calls, then produces through the real client.
type flaky struct {
	next  callbacks.Producer
	mu    sync.Mutex
	fails int
}

func (f *flaky) ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults {
	f.mu.Lock()
	fail := f.fails > 0
	if fail {
		f.fails--
	}
	f.mu.Unlock()
	if fail {
		return kgo.ProduceResults{{Record: rs[0], Err: errors.New("broker unreachable")}}
	}
	return f.next.ProduceSync(ctx, rs...)
}

// redirectOf returns the <Redirect> URL of a TwiML answer and checks the pause before it.
func redirectOf(t *testing.T, body string) string {
	t.Helper()
	var doc struct {
		Pause *struct {
			Length int `xml:"length,attr"`
		} `xml:"Pause"`
		Redirect *struct {
			Method string `xml:"method,attr"`
			URL    string `xml:",chardata"`
		} `xml:"Redirect"`
		Say []string `xml:"Say"`
	}
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("TwiML %q: %v", body, err)
	}
	if doc.Pause == nil || doc.Pause.Length < 1 || doc.Redirect == nil || doc.Redirect.Method != "POST" {
		t.Fatalf("TwiML %q, want a short pause and a POST redirect", body)
	}
	return doc.Redirect.URL
}

func TestAKeypressThatCannotBePublishedIsKept(t *testing.T) {
	t.Parallel()
	gatherForm := url.Values{"AccountSid": {subSID}, "CallSid": {callSID}, "CallStatus": {"in-progress"}, "Digits": {"1"}}
	// What Twilio posts to a <Redirect> URL: the call's fields, no Digits.
	redirectForm := url.Values{"AccountSid": {subSID}, "CallSid": {callSID}, "CallStatus": {"in-progress"}}

	t.Run("the redirect tries again and the 1 is published once the broker is back", func(t *testing.T) {
		t.Parallel()
		fl := &flaky{fails: 2}
		b := setup(t, setupOpts{out: func(cl *kgo.Client) callbacks.Producer { fl.next = cl; return fl }})
		eco := uuid.NewString()
		u := twilio.WebhookURLs{Base: b.srv.URL}.Gather(eco, "call-1", 1)
		_, body := b.post(t, u, u, gatherForm, true)
		next := redirectOf(t, body)
		if q := mustQuery(t, next); q.Get("digits") != "1" || q.Get("retry") != "1" || q.Get("eco_id") != eco {
			t.Fatalf("redirect %q, want the digits and retry 1 in its query", next)
		}
		// A forged redirect (digits changed, signed with a wrong token) is refused.
		forged := strings.Replace(next, "digits=1", "digits=2", 1)
		if resp, _ := b.postWith(t, forged, forged, redirectForm, true, "forged"); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("forged redirect: %d, want 403", resp.StatusCode)
		}
		_, body = b.post(t, next, next, redirectForm, true) // second failure
		next = redirectOf(t, body)
		if mustQuery(t, next).Get("retry") != "2" {
			t.Fatalf("second redirect %q, want retry 2", next)
		}
		_, body = b.post(t, next, next, redirectForm, true) // the broker is back
		if !strings.Contains(body, "recorded") {
			t.Fatalf("TwiML %q, want the answer recorded", body)
		}
		recs := b.publishedAtMost(t, 2)
		if len(recs) != 1 {
			t.Fatalf("%d records, want the 1 published once", len(recs))
		}
		var ev schemas.TelephonyCallback
		if err := b.v.Decode(schemas.TypeTelephonyCallback, recs[0].Value, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Digits != "1" || ev.Kind != schemas.CallbackGather || ev.GatherAttempt != 1 || ev.CallSID != callSID {
			t.Fatalf("published %+v", ev)
		}
	})
	t.Run("after three tries the caller is told", func(t *testing.T) {
		t.Parallel()
		fl := &flaky{fails: 100}
		b := setup(t, setupOpts{out: func(cl *kgo.Client) callbacks.Producer { fl.next = cl; return fl }})
		u := twilio.WebhookURLs{Base: b.srv.URL}.Gather(uuid.NewString(), "call-1", 1)
		_, body := b.post(t, u, u, gatherForm, true)
		for i := 1; i <= 3; i++ {
			next := redirectOf(t, body)
			_, body = b.post(t, next, next, redirectForm, true)
		}
		if !strings.Contains(body, "could not record") || strings.Contains(body, "<Redirect") {
			t.Fatalf("after 3 retries: TwiML %q, want the caller told", body)
		}
	})
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
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
	fill := callbacks.BoardFill{Pool: db.PoolAs(t, pg.RoleCallbacks)}
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
	b := setup(t, setupOpts{fill: fixedFill(true)})
	u := twilio.WebhookURLs{Base: b.srv.URL}.Gather(uuid.NewString(), "call-1", 1)
	_, body := b.post(t, u, u, url.Values{"AccountSid": {subSID}, "CallSid": {callSID}, "CallStatus": {"in-progress"}, "Digits": {"1"}}, true)
	if !strings.Contains(body, "already has the people it needs") {
		t.Errorf("TwiML %q, want the caller told the callout is filled", body)
	}
	if recs := b.published(t, 1); len(recs) != 1 {
		t.Errorf("%d records, want the late acceptance still published for the dialer to record", len(recs))
	}
}
