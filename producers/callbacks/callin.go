package callbacks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/osprey-strike/strike/internal/projection"
	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/schemas"
)

// Call-in acceptance (issue 13): a roster contact who missed the call dials the NOC's Strike
// number back. The number's VoiceUrl is InboundPath (Strike-owned configuration, like every
// webhook); the request is signed like the others, with the token of the account that owns the
// number. Strike recognises the caller's number, lists the open ECOs of that NOC they were
// called for, and lets them choose one with a key; the choice is published as a callin
// callback, on which the dialer holds a place for them while they hear the job; their 1 is then
// an ordinary gather result for the call id in/<CallSid>, which the dialer counts only if their
// place is still held and the ECO not yet filled.

// maxOffers is how many ECOs a caller can choose among (one key each).
const maxOffers = 9

// Offer is an open ECO a caller was called for.
type Offer struct {
	ECOID, JobNumber, Site, Summary string
}

// CallIns finds what a caller may accept. NOCCallIns implements it over the sink's projections.
type CallIns interface {
	// Offers lists, newest first, at most maxOffers open ECOs of the NOC whose Strike number
	// is to (in Twilio account account) on which from was called.
	Offers(ctx context.Context, account, to, from string) ([]Offer, error)
}

func (h *Handler) inbound(w http.ResponseWriter, r *http.Request) {
	cb, ok := h.inboundCall(w, r, "inbound")
	if !ok {
		return
	}
	offers, ok := h.offers(w, r, cb)
	if !ok {
		return
	}
	if len(offers) == 0 {
		h.metrics.received.WithLabelValues("inbound", "no_offer").Inc()
		writeTwiML(w, twilio.SayTwiML("There is no open callout for your number. Goodbye."))
		return
	}
	ids := make([]string, len(offers))
	var menu strings.Builder
	menu.WriteString("This is Strike. ")
	for i, o := range offers {
		ids[i] = o.ECOID
		fmt.Fprintf(&menu, "For job %s at %s, press %d. ", o.JobNumber, o.Site, i+1)
	}
	h.metrics.received.WithLabelValues("inbound", "offered").Inc()
	writeTwiML(w, twilio.PromptTwiML(menu.String(), twilio.WebhookURLs{Base: h.cfg.PublicBaseURL}.InboundChoose(ids)))
}

func (h *Handler) choose(w http.ResponseWriter, r *http.Request) {
	cb, ok := h.inboundCall(w, r, "choose")
	if !ok {
		return
	}
	ids := strings.Split(r.URL.Query().Get("ecos"), ",")
	k, err := strconv.Atoi(cb.Digits)
	if err != nil || k < 1 || k > len(ids) || len(ids) > maxOffers {
		h.metrics.received.WithLabelValues("choose", "bad_choice").Inc()
		writeTwiML(w, twilio.SayTwiML("That is not one of the choices. Goodbye."))
		return
	}
	chosen := ids[k-1]
	// Read the offers again: the ECO may have been filled or ended while the menu played.
	offers, ok := h.offers(w, r, cb)
	if !ok {
		return
	}
	var offer *Offer
	for i := range offers {
		if offers[i].ECOID == chosen {
			offer = &offers[i]
		}
	}
	if offer == nil {
		h.metrics.received.WithLabelValues("choose", "closed").Inc()
		writeTwiML(w, twilio.SayTwiML("That callout is no longer open. Thank you. Goodbye."))
		return
	}
	callID := schemas.CallInID(cb.CallSID)
	ev := h.event(cb, chosen, callID, schemas.CallbackCallIn)
	ev.From = cb.From
	// The hold is published before the caller hears the job, so it precedes their key in the
	// ECO's partition: the dialer holds the place before it sees the 1.
	if err := h.publish(r.Context(), ev, "hold"); err != nil {
		writeTwiML(w, twilio.SayTwiML("Sorry, we could not take your call now. Please call again. Goodbye."))
		return
	}
	prompt := fmt.Sprintf("Job %s at %s. %s. Press 1 to accept, 2 to decline.", offer.JobNumber, offer.Site, offer.Summary)
	urls := twilio.WebhookURLs{Base: h.cfg.PublicBaseURL}
	// No key: the redirect reaches the gather route as its last attempt, which passes "no
	// answer" on, so the dialer gives the held place back at once instead of at the hold's end.
	writeTwiML(w, twilio.CallInPromptTwiML(prompt, urls.Gather(chosen, callID, 1), urls.Gather(chosen, callID, maxGatherAttempts)))
}

// inboundCall checks an incoming call's webhook (signature, caller and number) and parses it.
// It answers the refusals itself.
func (h *Handler) inboundCall(w http.ResponseWriter, r *http.Request, kind string) (twilio.Callback, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		h.refuse(w, kind, "bad_form", http.StatusBadRequest)
		return twilio.Callback{}, false
	}
	if !h.signed(w, r, kind) {
		return twilio.Callback{}, false
	}
	cb, err := twilio.ParseCallback(r.PostForm)
	if err != nil || !twilio.IsSID("CA", cb.CallSID) || cb.From == "" || cb.To == "" {
		h.refuse(w, kind, "bad_fields", http.StatusBadRequest)
		return twilio.Callback{}, false
	}
	return cb, true
}

func (h *Handler) offers(w http.ResponseWriter, r *http.Request, cb twilio.Callback) ([]Offer, bool) {
	if h.cfg.CallIns == nil {
		writeTwiML(w, twilio.SayTwiML("This number does not take calls. Goodbye."))
		return nil, false
	}
	offers, err := h.cfg.CallIns.Offers(r.Context(), cb.AccountSID, cb.To, cb.From)
	if err != nil {
		h.log.Error().Err(err).Str("call_sid", cb.CallSID).Msg("look up a caller's open callouts")
		writeTwiML(w, twilio.SayTwiML("Sorry, we cannot look up your callouts now. Please call again. Goodbye."))
		return nil, false
	}
	h.log.Info().Str("call_sid", cb.CallSID).Int("offers", len(offers)).Msg("call-in")
	return offers, true
}

// NOCCallIns reads the sink's projections: the NOC is the one whose caller id was dialled in
// that account (its subaccount, or Strike's main account for a NOC without one); its open ECOs
// are read as that NOC (row-level security, like the API), and only those with a call attempt
// to the caller's number are offered.
type NOCCallIns struct {
	Pool           *pgxpool.Pool
	MainAccountSID string
}

// Offers implements CallIns.
func (n NOCCallIns) Offers(ctx context.Context, account, to, from string) ([]Offer, error) {
	var noc string
	err := n.Pool.QueryRow(ctx, `SELECT id FROM noc_tenants
		WHERE caller_id = $1 AND coalesce(twilio_subaccount_sid, $3) = $2`, to, account, n.MainAccountSID).Scan(&noc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil // not a NOC's number: nothing to offer
	}
	if err != nil {
		return nil, fmt.Errorf("find the NOC of %s: %w", to, err)
	}
	open, err := projection.OpenECOsCalling(ctx, n.Pool, noc, from, maxOffers)
	if err != nil {
		return nil, fmt.Errorf("read open callouts of %s for a caller: %w", noc, err)
	}
	out := make([]Offer, len(open))
	for i, o := range open {
		if _, err := uuid.Parse(o.ECOID); err != nil {
			return nil, fmt.Errorf("ECO id %q: %w", o.ECOID, err)
		}
		out[i] = Offer{ECOID: o.ECOID, JobNumber: o.JobNumber, Site: o.Site, Summary: o.Summary}
	}
	return out, nil
}
