package callbacks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/osprey-strike/strike/internal/logging"
	"github.com/osprey-strike/strike/internal/twilio"
)

// NOC numbers: each NOC's Strike number (its caller id, in its subaccount or Strike's main
// account) must send its incoming calls to the inbound webhook for call-ins to reach Strike.
// That is Strike-owned configuration (DESIGN §1: no NOC configures a webhook), so the webhooks
// component sets it itself, at start and then periodically, and only writes when it differs.

// DefaultNumberSyncInterval is how often the numbers are checked again: a NOC added or given a
// new caller id is configured within it.
const DefaultNumberSyncInterval = 10 * time.Minute

// NOCNumber is a NOC's Strike number and the Twilio account it belongs to.
type NOCNumber struct {
	NOC, Account, Number string
}

// NumberLister lists the NOCs' Strike numbers; NOCSubaccounts implements it.
type NumberLister interface {
	Numbers(ctx context.Context, mainAccountSID string) ([]NOCNumber, error)
}

// VoiceConfigurer sets a number's VoiceUrl; *twilio.Client implements it.
type VoiceConfigurer interface {
	ConfigureVoiceURL(ctx context.Context, account, number, voiceURL string) (bool, error)
}

// Numbers implements NumberLister from noc_tenants: a NOC without a subaccount calls from
// Strike's main account.
func (n NOCSubaccounts) Numbers(ctx context.Context, mainAccountSID string) ([]NOCNumber, error) {
	rows, err := n.Pool.Query(ctx, `SELECT id, coalesce(twilio_subaccount_sid, $1), caller_id FROM noc_tenants
		WHERE caller_id IS NOT NULL ORDER BY id`, mainAccountSID)
	if err != nil {
		return nil, fmt.Errorf("list NOC numbers: %w", err)
	}
	defer rows.Close()
	var out []NOCNumber
	for rows.Next() {
		var x NOCNumber
		if err := rows.Scan(&x.NOC, &x.Account, &x.Number); err != nil {
			return nil, fmt.Errorf("list NOC numbers: %w", err)
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// SyncNumbers points every NOC's Strike number at the inbound webhook. A number that cannot be
// configured (not in its account, Twilio unreachable) is logged with its NOC and reported; the
// others are still done.
func (h *Handler) SyncNumbers(ctx context.Context, numbers NumberLister, tw VoiceConfigurer, mainAccountSID string) error {
	list, err := numbers.Numbers(ctx, mainAccountSID)
	if err != nil {
		h.log.Error().Err(err).Msg("cannot list the NOCs' Strike numbers; call-in configuration not checked")
		return err
	}
	url := twilio.WebhookURLs{Base: h.cfg.PublicBaseURL}.Inbound()
	var errs []error
	for _, n := range list {
		changed, err := tw.ConfigureVoiceURL(ctx, n.Account, n.Number, url)
		log := h.log.With().Str(logging.FieldNOC, n.NOC).Str("account_sid", n.Account).Logger()
		switch {
		case err != nil:
			log.Error().Err(err).Msg("cannot point the NOC's Strike number at the inbound webhook; call-ins to it fail")
			errs = append(errs, fmt.Errorf("NOC %s: %w", n.NOC, err))
		case changed:
			log.Info().Str("voice_url", url).Msg("NOC's Strike number now sends its incoming calls to Strike")
		}
	}
	return errors.Join(errs...)
}

// RunNumberSync runs SyncNumbers now and then every interval until ctx ends. Failures are
// logged (by SyncNumbers) and tried again at the next round: the webhooks keep serving.
func (h *Handler) RunNumberSync(ctx context.Context, numbers NumberLister, tw VoiceConfigurer, mainAccountSID string, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		_ = h.SyncNumbers(ctx, numbers, tw, mainAccountSID)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
