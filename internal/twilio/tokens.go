package twilio

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// DefaultRereadInterval is the least time between two re-reads of one
// subaccount's token after a signature failed with the cached one.
const DefaultRereadInterval = 30 * time.Second

// ErrForeignAccount: a webhook names an account that is neither Strike's
// main account nor one of its subaccounts.
var ErrForeignAccount = errors.New("account is not Strike's")

// AccountFetcher reads an account resource; *Client implements it.
type AccountFetcher interface {
	FetchAccount(ctx context.Context, sid string) (Account, error)
}

// WebhookTokensConfig configures WebhookTokens.
type WebhookTokensConfig struct {
	// MainAccountSID and MainAuthToken are Strike's main credentials; the
	// main account's webhooks are signed with this token.
	MainAccountSID, MainAuthToken string
	// RereadInterval bounds re-reads per subaccount after signature failures,
	// so forged webhooks cannot make Strike hammer Twilio's Accounts
	// resource; 0 = DefaultRereadInterval.
	RereadInterval time.Duration
	// Now is the clock; nil = time.Now.
	Now func() time.Time
}

// WebhookTokens knows the auth token each webhook must be signed with.
// Twilio signs a call's webhooks with the auth token of the account that owns
// the call (https://www.twilio.com/docs/usage/webhooks/webhooks-security): the
// main token for the main account, the subaccount's own token for a
// subaccount. A subaccount's token is read with the main credentials from the
// Accounts resource (FetchAccount), accepted only if the subaccount's
// owner_account_sid is the main account, and cached per SID. When a signature
// fails with the cached token the account is read again once (its token may
// have been rotated), at most once per RereadInterval per SID. Nothing is
// configured or stored per NOC. Safe for concurrent use.
//
// The cache holds one entry per SID asked about; callers ask only about SIDs
// they already know (the NOC subaccounts in PostgreSQL), which bounds it.
type WebhookTokens struct {
	fetch AccountFetcher
	cfg   WebhookTokensConfig
	group singleflight.Group

	mu      sync.Mutex
	entries map[string]*tokenEntry
}

type tokenEntry struct {
	token string
	err   error     // a definite refusal (foreign or unknown account), cached like a token
	read  time.Time // when the entry was read
	// reread is when the entry was last read again after a signature
	// failure; zero if never.
	reread time.Time
}

// NewWebhookTokens builds the resolver over fetch (usually the *Client).
func NewWebhookTokens(fetch AccountFetcher, cfg WebhookTokensConfig) (*WebhookTokens, error) {
	if fetch == nil || !IsSID("AC", cfg.MainAccountSID) || cfg.MainAuthToken == "" {
		return nil, errors.New("twilio: webhook tokens need an account reader and the main account SID and token")
	}
	if cfg.RereadInterval <= 0 {
		cfg.RereadInterval = DefaultRereadInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &WebhookTokens{fetch: fetch, cfg: cfg, entries: map[string]*tokenEntry{}}, nil
}

// WebhookTokens is a resolver over c's own main credentials.
func (c *Client) WebhookTokens(rereadInterval time.Duration) *WebhookTokens {
	w, err := NewWebhookTokens(c, WebhookTokensConfig{MainAccountSID: c.cfg.AccountSID, MainAuthToken: c.cfg.AuthToken,
		RereadInterval: rereadInterval})
	if err != nil {
		panic(err) // New validated both
	}
	return w
}

// MainAccountSID is Strike's main account.
func (w *WebhookTokens) MainAccountSID() string { return w.cfg.MainAccountSID }

// Token is the auth token that signs accountSID's webhooks. Errors:
// ErrForeignAccount (not owned by the main account), ErrNotFound (Twilio
// does not know it), or a failure to read it (ErrUnavailable, ...).
func (w *WebhookTokens) Token(ctx context.Context, accountSID string) (string, error) {
	if accountSID == w.cfg.MainAccountSID {
		return w.cfg.MainAuthToken, nil
	}
	w.mu.Lock()
	e, ok := w.entries[accountSID]
	w.mu.Unlock()
	if ok && (e.err == nil || w.cfg.Now().Sub(e.read) < w.cfg.RereadInterval) {
		return e.token, e.err
	}
	e, err := w.read(ctx, accountSID, false)
	if err != nil {
		return "", err
	}
	return e.token, e.err
}

// Validate reports whether signature is Twilio's signature, under the token
// of accountSID, of a webhook to url with params (see ValidateRequest). A
// subaccount whose signature fails with the cached token is read again once,
// if its last re-read is older than RereadInterval, and the signature checked
// with the token read. The error is non-nil when the token could not be
// known: ErrForeignAccount and ErrNotFound mean the account is not Strike's
// (refuse), other errors that Twilio could not be asked (try later).
func (w *WebhookTokens) Validate(ctx context.Context, accountSID, url string, params map[string]string, signature string) (bool, error) {
	tok, err := w.Token(ctx, accountSID)
	if err != nil {
		return false, err
	}
	if signature != "" && ValidateRequest(tok, url, params, signature) {
		return true, nil
	}
	if accountSID == w.cfg.MainAccountSID || signature == "" {
		return false, nil
	}
	fresh, ok, err := w.reread(ctx, accountSID, tok)
	if err != nil || !ok {
		return false, err
	}
	return ValidateRequest(fresh, url, params, signature), nil
}

// reread reads accountSID again if its token is still stale and its last
// re-read is old enough. ok is false when no new token is available.
func (w *WebhookTokens) reread(ctx context.Context, accountSID, stale string) (string, bool, error) {
	now := w.cfg.Now()
	w.mu.Lock()
	e, ok := w.entries[accountSID]
	switch {
	case ok && e.err == nil && e.token != stale:
		// Someone else re-read it meanwhile.
		w.mu.Unlock()
		return e.token, true, nil
	case ok && !e.reread.IsZero() && now.Sub(e.reread) < w.cfg.RereadInterval:
		w.mu.Unlock()
		return "", false, nil
	case ok:
		e.reread = now // claim this re-read before reading, so concurrent failures do not read too
	}
	w.mu.Unlock()
	fresh, err := w.read(ctx, accountSID, true)
	if err != nil {
		return "", false, err
	}
	if fresh.err != nil {
		return "", false, fresh.err
	}
	return fresh.token, fresh.token != stale, nil
}

// read fetches accountSID once for all concurrent callers and caches the
// outcome. Definite refusals are cached; failures to ask are not.
func (w *WebhookTokens) read(ctx context.Context, accountSID string, isReread bool) (*tokenEntry, error) {
	v, err, _ := w.group.Do(accountSID, func() (any, error) {
		acct, err := w.fetch.FetchAccount(ctx, accountSID)
		now := w.cfg.Now()
		e := &tokenEntry{read: now}
		switch {
		case errors.Is(err, ErrNotFound):
			e.err = fmt.Errorf("twilio: account %s: %w", accountSID, err)
		case err != nil:
			return nil, err
		case acct.OwnerAccountSID != w.cfg.MainAccountSID:
			e.err = fmt.Errorf("twilio: account %s is owned by %s: %w", accountSID, acct.OwnerAccountSID, ErrForeignAccount)
		case acct.AuthToken == "":
			return nil, &Error{Kind: ErrUnavailable, Op: opFetchAccount, AccountSID: accountSID, Err: errors.New("account has no auth token")}
		default:
			e.token = acct.AuthToken
		}
		w.mu.Lock()
		if old, ok := w.entries[accountSID]; ok {
			e.reread = old.reread
		}
		if isReread {
			e.reread = now
		}
		w.entries[accountSID] = e
		w.mu.Unlock()
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*tokenEntry), nil
}
