// Package callbacks is the gateway's Twilio webhook side: it accepts status callbacks, gather
// results and incoming calls to a NOC's Strike number (call-ins, callin.go) only with a valid
// X-Twilio-Signature and publishes each to
// strike.telephony.callbacks.v1 keyed by ECO id, where the dialer replica that owns the ECO's
// partition reads it. It holds no ring-down state (DESIGN §3): the dialer decides what a
// callback means.
//
// Twilio signs a call's webhooks with the auth token of the account that owns the call
// (https://www.twilio.com/docs/usage/webhooks/webhooks-security): Strike's main token for the
// main account, a NOC subaccount's own token for that subaccount's calls. Each webhook is
// therefore checked with the token of the account in its AccountSid field, which must be
// Strike's main account or a NOC's subaccount (noc_tenants.twilio_subaccount_sid); any other
// account is refused before its token is looked up.
package callbacks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/internal/logging"
	"github.com/osprey-strike/strike/internal/projection"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/schemas"
)

// maxGatherAttempts is how many times a caller is prompted before an invalid key is passed on
// as is (the dialer then treats the call as unanswered).
const maxGatherAttempts = 3

// maxBody bounds a webhook body; Twilio's are a few hundred bytes.
const maxBody = 16 << 10

// A keypress that cannot be published is kept: the caller hears a short pause while Twilio is
// redirected to the gather URL again, with the digits and a retry count in its query (Twilio
// signs the redirected request's URL, query included, so neither can be forged), up to
// maxPublishRetries times; only then is the caller told it could not be recorded.
const (
	maxPublishRetries = 3
	publishRetryPause = time.Second
)

// Producer publishes records; *kgo.Client satisfies it.
type Producer interface {
	ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults
}

// FillChecker tells whether an ECO already has the people it asked for. The answer may lag: the
// dialer decides, and records a late acceptance as such; this only picks what the caller hears.
type FillChecker interface {
	Filled(ctx context.Context, ecoID string) (bool, error)
}

// Signatures checks a webhook's X-Twilio-Signature with the auth token of the account that owns
// the call; *twilio.WebhookTokens implements it (main token for the main account, a
// subaccount's own token read from Twilio's Accounts resource).
type Signatures interface {
	// MainAccountSID is Strike's main Twilio account.
	MainAccountSID() string
	// Validate reports whether signature is valid for a webhook of accountSID to url with
	// params. Its error says the account's token could not be known: twilio.ErrForeignAccount or
	// twilio.ErrNotFound when the account is not Strike's, any other error when Twilio could
	// not be asked.
	Validate(ctx context.Context, accountSID, url string, params map[string]string, signature string) (bool, error)
}

// Subaccounts says whether an account SID is the Twilio subaccount of a NOC Strike serves.
type Subaccounts interface {
	IsNOCSubaccount(ctx context.Context, sid string) (bool, error)
}

// Config configures the handlers.
type Config struct {
	// PublicBaseURL is Strike's base URL as Twilio reaches it (the load balancer's, in
	// production). Twilio signs the exact URL it posted to, so validation rebuilds it from this
	// base, never from the Host header. Required.
	PublicBaseURL string
	// Signatures validates each webhook with its account's token. Required.
	Signatures Signatures
	// Accounts knows the NOC subaccounts (NOCSubaccounts). Required.
	Accounts Subaccounts
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Fill, when set, lets a caller who presses 1 for an ECO that is already filled hear so.
	Fill FillChecker
	// CallIns, when set, lets a contact who dials the NOC's Strike number back accept an open
	// ECO they were called for (callin.go); without it such a call is told the number takes
	// no calls.
	CallIns CallIns
}

// Handler serves the webhook routes.
type Handler struct {
	cfg     Config
	out     Producer
	log     zerolog.Logger
	metrics *metrics
}

// New validates cfg and builds the handler.
func New(out Producer, log zerolog.Logger, reg prometheus.Registerer, cfg Config) (*Handler, error) {
	if cfg.PublicBaseURL == "" || cfg.Signatures == nil || cfg.Accounts == nil {
		return nil, errors.New("callbacks: PublicBaseURL, Signatures and Accounts are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Handler{cfg: cfg, out: out, log: log.With().Str(logging.FieldComponent, "twilio-webhooks").Logger(),
		metrics: newMetrics(reg)}, nil
}

// Mount adds the routes to mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST "+twilio.StatusPath, h.status)
	mux.HandleFunc("POST "+twilio.GatherPath, h.gather)
	mux.HandleFunc("POST "+twilio.InboundPath, h.inbound)
	mux.HandleFunc("POST "+twilio.InboundChoosePath, h.choose)
}

// verified checks the signature and parses the callback. It writes the error answer itself
// and returns ok=false when the request must be refused.
func (h *Handler) verified(w http.ResponseWriter, r *http.Request, kind string) (twilio.Callback, string, string, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		h.refuse(w, kind, "bad_form", http.StatusBadRequest)
		return twilio.Callback{}, "", "", false
	}
	if !h.signed(w, r, kind) {
		return twilio.Callback{}, "", "", false
	}
	ecoID, callID := r.URL.Query().Get("eco_id"), r.URL.Query().Get("call_id")
	if _, err := uuid.Parse(ecoID); err != nil || callID == "" || len(callID) > 200 {
		h.refuse(w, kind, "bad_query", http.StatusBadRequest)
		return twilio.Callback{}, "", "", false
	}
	cb, err := twilio.ParseCallback(r.PostForm)
	if err != nil {
		h.log.Warn().Err(err).Str(logging.FieldECO, ecoID).Msg("signed callback with invalid fields refused")
		h.refuse(w, kind, "bad_fields", http.StatusBadRequest)
		return twilio.Callback{}, "", "", false
	}
	return cb, ecoID, callID, true
}

// signed checks the signature with the token of the webhook's account, refusing accounts that
// are neither Strike's main account nor a known NOC subaccount. It answers the refusals itself.
func (h *Handler) signed(w http.ResponseWriter, r *http.Request, kind string) bool {
	ctx := r.Context()
	account := r.PostForm.Get("AccountSid")
	sig := r.Header.Get(twilio.SignatureHeader)
	if sig == "" || !twilio.IsSID("AC", account) {
		h.refuse(w, kind, "bad_signature", http.StatusForbidden)
		return false
	}
	if account != h.cfg.Signatures.MainAccountSID() {
		known, err := h.cfg.Accounts.IsNOCSubaccount(ctx, account)
		if err != nil {
			h.log.Error().Err(err).Str("account_sid", account).Msg("cannot tell whether the webhook's account is a NOC's")
			h.refuse(w, kind, "account_lookup_failed", http.StatusServiceUnavailable)
			return false
		}
		if !known {
			// Not Strike's: its token is never looked up.
			h.refuse(w, kind, "unknown_account", http.StatusForbidden)
			return false
		}
	}
	url := h.cfg.PublicBaseURL + r.URL.Path
	if r.URL.RawQuery != "" {
		url += "?" + r.URL.RawQuery // a number's VoiceUrl has no query, and Twilio signs it as is
	}
	ok, err := h.cfg.Signatures.Validate(ctx, account, url, twilio.FormParams(r.PostForm), sig)
	switch {
	case errors.Is(err, twilio.ErrForeignAccount) || errors.Is(err, twilio.ErrNotFound):
		h.log.Warn().Err(err).Str("account_sid", account).Msg("webhook of an account that is not Strike's refused")
		h.refuse(w, kind, "unknown_account", http.StatusForbidden)
		return false
	case err != nil:
		// Twilio could not tell us the token: Twilio retries nothing, but its debugger shows the
		// 503 and the dialer's reconciliation fetches the call.
		h.log.Error().Err(err).Str("account_sid", account).Msg("cannot read the webhook's account token")
		h.refuse(w, kind, "token_unavailable", http.StatusServiceUnavailable)
		return false
	case !ok:
		// Forged, tampered or mis-addressed: nothing is published.
		h.refuse(w, kind, "bad_signature", http.StatusForbidden)
		return false
	}
	return true
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	cb, ecoID, callID, ok := h.verified(w, r, schemas.CallbackStatus)
	if !ok {
		return
	}
	ev := h.event(cb, ecoID, callID, schemas.CallbackStatus)
	if cb.SequenceNumber >= 0 {
		seq := cb.SequenceNumber
		ev.SequenceNumber = &seq
	}
	if err := h.publish(r.Context(), ev, strconv.Itoa(cb.SequenceNumber)+"/"+cb.CallStatus); err != nil {
		// Twilio retries a failed status callback only on connection errors; a 5xx at least
		// shows in its debugger, and the dialer's reconciliation fetches the call anyway.
		http.Error(w, "could not record the callback", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) gather(w http.ResponseWriter, r *http.Request) {
	cb, ecoID, callID, ok := h.verified(w, r, schemas.CallbackGather)
	if !ok {
		return
	}
	q := r.URL.Query()
	attempt, _ := strconv.Atoi(q.Get("attempt"))
	attempt = max(attempt, 1)
	retry := 0
	if q.Has("retry") {
		// Twilio followed our <Redirect> after a publish failed: the digits are in the signed
		// query (a redirected request carries no Digits field).
		var err error
		retry, err = strconv.Atoi(q.Get("retry"))
		cb.Digits = q.Get("digits")
		if err != nil || retry < 1 || retry > maxPublishRetries || !validDigits(cb.Digits) {
			h.refuse(w, schemas.CallbackGather, "bad_query", http.StatusBadRequest)
			return
		}
	}
	valid := cb.Digits == "1" || cb.Digits == "2"
	if !valid && attempt < maxGatherAttempts && retry == 0 {
		// Ask again; nothing to tell the dialer yet.
		next := twilio.WebhookURLs{Base: h.cfg.PublicBaseURL}.Gather(ecoID, callID, attempt+1)
		h.metrics.received.WithLabelValues(schemas.CallbackGather, "reprompted").Inc()
		writeTwiML(w, twilio.RepromptTwiML(next))
		return
	}
	ev := h.event(cb, ecoID, callID, schemas.CallbackGather)
	ev.GatherAttempt = attempt
	if strings.HasPrefix(callID, schemas.CallInPrefix) {
		ev.From = cb.From // a call-in's caller, for a late acceptance's record
	}
	if err := h.publish(r.Context(), ev, strconv.Itoa(attempt)+"/"+cb.Digits); err != nil {
		if retry < maxPublishRetries {
			// Keep the key: try again on the redirected request. Every try has the same ce_id, so
			// a publish that did succeed despite the error is dropped by the dialer as a copy.
			next := twilio.WebhookURLs{Base: h.cfg.PublicBaseURL}.GatherRetry(ecoID, callID, attempt, cb.Digits, retry+1)
			h.metrics.received.WithLabelValues(schemas.CallbackGather, "publish_retry").Inc()
			writeTwiML(w, twilio.PauseRedirectTwiML(publishRetryPause, next))
			return
		}
		writeTwiML(w, twilio.SayTwiML("Sorry, we could not record your answer. You will be called again. Goodbye."))
		return
	}
	switch cb.Digits {
	case "1":
		// The dialer decides whether this acceptance fills the ECO or comes too late, and
		// records a late one as such. The caller hears "already filled" when the board says so
		// and a neutral confirmation otherwise (including when the board cannot be read).
		if h.cfg.Fill != nil {
			if filled, err := h.cfg.Fill.Filled(r.Context(), ecoID); err == nil && filled {
				writeTwiML(w, twilio.SayTwiML("Thank you. This callout already has the people it needs; you are not required. Goodbye."))
				return
			}
		}
		writeTwiML(w, twilio.SayTwiML("Thank you. Your answer has been recorded. Strike will confirm the job to you."))
	case "2":
		writeTwiML(w, twilio.SayTwiML("You declined this callout. Goodbye."))
	default:
		writeTwiML(w, twilio.SayTwiML("No valid answer received. Goodbye."))
	}
}

func (h *Handler) event(cb twilio.Callback, ecoID, callID, kind string) schemas.TelephonyCallback {
	ev := schemas.TelephonyCallback{
		ECOID: ecoID, CallID: callID, Kind: kind, CallSID: cb.CallSID, AccountSID: cb.AccountSID,
		CallStatus: cb.CallStatus, Digits: cb.Digits, SIPResponseCode: cb.SipResponseCode,
		CallDurationSeconds: int(cb.CallDuration / time.Second), ReceivedAt: h.cfg.Now().UTC(),
	}
	if !cb.Timestamp.IsZero() {
		ev.TwilioTimestamp = cb.Timestamp.UTC().Format(time.RFC3339)
	}
	return ev
}

// publish produces ev keyed by its ECO. idPart makes the ce_id of a callback Twilio sent twice
// equal, so the dialer can drop the copy.
func (h *Handler) publish(ctx context.Context, ev schemas.TelephonyCallback, idPart string) error {
	value, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode callback: %w", err)
	}
	rec := cloudevents.Record(topics.TelephonyCallbacks, ev.ECOID, cloudevents.Event{
		ID:   ids.EventID(schemas.TypeTelephonyCallback, ev.CallSID, ev.Kind, idPart),
		Type: schemas.TypeTelephonyCallback, Source: "strike/gateway", Subject: ev.ECOID, Time: ev.ReceivedAt,
	}, value)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := h.out.ProduceSync(ctx, rec).FirstErr(); err != nil {
		h.metrics.received.WithLabelValues(ev.Kind, "publish_failed").Inc()
		h.log.Error().Err(err).Str(logging.FieldECO, ev.ECOID).Str("call_sid", ev.CallSID).Msg("publish callback")
		return err
	}
	h.metrics.received.WithLabelValues(ev.Kind, "published").Inc()
	return nil
}

func (h *Handler) refuse(w http.ResponseWriter, kind, why string, status int) {
	h.metrics.received.WithLabelValues(kind, why).Inc()
	http.Error(w, http.StatusText(status), status)
}

// validDigits reports whether d is what a Gather can send: 1 to 32 keys.
func validDigits(d string) bool {
	if d == "" || len(d) > 32 {
		return false
	}
	for _, r := range d {
		if !('0' <= r && r <= '9' || r == '*' || r == '#') {
			return false
		}
	}
	return true
}

func writeTwiML(w http.ResponseWriter, doc string) {
	w.Header().Set("Content-Type", "application/xml")
	_, _ = w.Write([]byte(doc))
}

type metrics struct {
	received *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{received: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "strike_twilio_webhooks_total",
		Help: "Twilio webhooks by kind (status, gather, inbound, choose) and outcome (published, reprompted, bad_signature, unknown_account, account_lookup_failed, token_unavailable, bad_query, bad_fields, bad_form, publish_failed, publish_retry; call-ins: offered, no_offer, bad_choice, closed).",
	}, []string{"kind", "outcome"})}
	if reg != nil {
		reg.MustRegister(m.received)
	}
	return m
}

// BoardFill reads the sink's ECO board: filled when accepted_count has reached people_needed.
type BoardFill struct {
	Pool *pgxpool.Pool
}

// Filled implements FillChecker through internal/projection, which owns the board's SQL. An ECO
// the board does not know yet is not filled.
func (b BoardFill) Filled(ctx context.Context, ecoID string) (bool, error) {
	return projection.Filled(ctx, b.Pool, ecoID)
}

// NOCSubaccounts knows the NOC subaccounts from noc_tenants.twilio_subaccount_sid.
type NOCSubaccounts struct {
	Pool *pgxpool.Pool
}

// IsNOCSubaccount implements Subaccounts.
func (n NOCSubaccounts) IsNOCSubaccount(ctx context.Context, sid string) (bool, error) {
	var known bool
	err := n.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM noc_tenants WHERE twilio_subaccount_sid = $1)`, sid).Scan(&known)
	if err != nil {
		return false, fmt.Errorf("look up NOC subaccount %s: %w", sid, err)
	}
	return known, nil
}
