package twiliosim_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/internal/twiliosim"
)

const (
	mainSID   = "AC00000000000000000000000000000001"
	subA      = "AC0000000000000000000000000000000a"
	subB      = "AC0000000000000000000000000000000b"
	authToken = "simMainToken123"
	subToken  = "simSubToken456"
	fromNOC   = "+15550000001"
)

// hit is one webhook the receiver got.
type hit struct {
	Path, Method string
	Query        url.Values
	Form         url.Values // query and body merged (r.Form)
	Post         url.Values // body only: what the signature covers
	URL          string     // as the receiver sees itself: its public URL
	Signature    string
	Idempotency  string
	ValidSig     bool // under the token of the webhook's AccountSid
	At           time.Time
}

// receiver stands in for Strike's gateway: it checks each webhook's
// signature, serves the callout TwiML at /twiml and answers gather results
// at /gather like the dialer will (1 or 2 ends the call, another key is
// prompted again up to 3 times). Status callbacks go to /status.
type receiver struct {
	srv *httptest.Server
	// tokens gives the auth token of an account, as Strike's gateway reads it.
	tokens func(account string) string

	mu   sync.Mutex
	hits []hit
	more chan struct{} // closed and replaced on every hit
}

func newReceiver(t *testing.T, tokens func(string) string) *receiver {
	t.Helper()
	rc := &receiver{tokens: tokens, more: make(chan struct{})}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	full := rc.srv.URL + r.URL.RequestURI()
	var params map[string]string
	if r.Method == http.MethodPost {
		params = twilio.FormParams(r.PostForm)
	}
	h := hit{
		Path: r.URL.Path, Method: r.Method, Query: r.URL.Query(), Form: r.Form, Post: r.PostForm, URL: full,
		Signature:   r.Header.Get(twilio.SignatureHeader),
		Idempotency: r.Header.Get("I-Twilio-Idempotency-Token"),
		At:          time.Now(),
	}
	h.ValidSig = twilio.ValidateRequest(rc.tokens(r.Form.Get("AccountSid")), full, params, h.Signature)
	rc.mu.Lock()
	rc.hits = append(rc.hits, h)
	close(rc.more)
	rc.more = make(chan struct{})
	rc.mu.Unlock()
	if !h.ValidSig {
		http.Error(w, "bad signature", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	switch r.URL.Path {
	case "/twiml":
		_, _ = w.Write([]byte(twilio.GatherTwiML("ACME-NOCA-00042-2026", "Exchange 7", rc.srv.URL+"/gather?attempt=1", 1)))
	case "/redirect":
		_, _ = w.Write([]byte(twilio.PauseRedirectTwiML(time.Second, rc.srv.URL+"/after?x=1")))
	case "/after":
		_, _ = w.Write([]byte(twilio.SayTwiML("Redirected.")))
	case "/gather":
		attempt, _ := strconv.Atoi(r.URL.Query().Get("attempt"))
		switch d := r.Form.Get("Digits"); {
		case d == "1":
			_, _ = w.Write([]byte(twilio.SayTwiML("Accepted. Thank you.")))
		case d == "2":
			_, _ = w.Write([]byte(twilio.SayTwiML("Declined.")))
		case attempt < 3:
			next := rc.srv.URL + "/gather?attempt=" + strconv.Itoa(attempt+1)
			_, _ = w.Write([]byte(twilio.GatherTwiML("ACME-NOCA-00042-2026", "Exchange 7", next, attempt+1)))
		default:
			_, _ = w.Write([]byte(twilio.SayTwiML("Goodbye.")))
		}
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// hitsFor returns the hits at path for a call, in arrival order.
func (rc *receiver) hitsFor(path, callSID string) []hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []hit
	for _, h := range rc.hits {
		if h.Path == path && h.Form.Get("CallSid") == callSID {
			out = append(out, h)
		}
	}
	return out
}

// waitFor blocks until pred holds over the hits of a call at path.
func (rc *receiver) waitFor(t *testing.T, path, callSID string, pred func([]hit) bool) []hit {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		rc.mu.Lock()
		more := rc.more
		rc.mu.Unlock()
		if hs := rc.hitsFor(path, callSID); pred(hs) {
			return hs
		}
		select {
		case <-more:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s hits of %s; have %+v", path, callSID, rc.hitsFor(path, callSID))
		}
	}
}

// untilStatus waits for the status callback whose CallStatus is terminal.
func (rc *receiver) untilTerminal(t *testing.T, callSID string) []hit {
	t.Helper()
	return rc.waitFor(t, "/status", callSID, func(hs []hit) bool {
		for _, h := range hs {
			if twilio.IsTerminal(h.Form.Get("CallStatus")) {
				return true
			}
		}
		return false
	})
}

// env is a Sim behind an httptest server, a receiver and an adapter Client
// pointed at the Sim.
type env struct {
	sim *twiliosim.Sim
	api *httptest.Server
	rc  *receiver
	tw  *twilio.Client
	reg *prometheus.Registry
}

// fast is a TimeScale that turns a 25 s ring into 25 ms.
const fast = 0.001

func newEnv(t *testing.T, cfg twiliosim.Config, tweak func(*twilio.Config)) *env {
	t.Helper()
	e := &env{reg: prometheus.NewRegistry()}
	e.rc = newReceiver(t, func(account string) string {
		if account == mainSID || e.sim == nil {
			return authToken
		}
		return e.sim.AuthToken(account)
	})
	cfg.AccountSID, cfg.AuthToken = mainSID, authToken
	if cfg.Subaccounts == nil {
		cfg.Subaccounts = []string{subA, subB}
	}
	sim, err := twiliosim.New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	e.sim = sim
	e.api = httptest.NewServer(sim.Handler())
	t.Cleanup(e.api.Close)
	t.Cleanup(func() { _ = sim.Close() }) // runs first: webhooks finish before the receiver closes
	tc := twilio.Config{AccountSID: mainSID, AuthToken: authToken, BaseURL: e.api.URL, CPS: -1,
		RetryInitialInterval: time.Millisecond, RetryMaxInterval: 5 * time.Millisecond}
	if tweak != nil {
		tweak(&tc)
	}
	e.tw, err = twilio.New(tc, zerolog.Nop(), e.reg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// request is a callout call to number with the receiver's webhooks.
func (e *env) request(sub, number string) twilio.CallRequest {
	return twilio.CallRequest{
		SubaccountSID: sub, To: number, From: fromNOC, Timeout: 25 * time.Second,
		StatusCallbackURL: e.rc.srv.URL + "/status", TwiMLURL: e.rc.srv.URL + "/twiml",
	}
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// metricValue reads a counter or gauge with the given label from reg.
func metricValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					if m.Counter != nil {
						return m.GetCounter().GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}
