package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

const (
	opCreate = "create call"
	opFetch  = "fetch call"
	opEnd    = "end call"
)

// Client places, fetches and ends calls through twilio-go. It is safe for
// concurrent use.
type Client struct {
	cfg      Config
	base     *url.URL // nil: real Twilio
	log      zerolog.Logger
	metrics  *metrics
	limiters *limiterSet
	now      func() time.Time // wall clock for credential holds; tests replace it

	mu    sync.Mutex
	holds map[string]time.Time // account SID -> fail fast until
}

// New validates cfg, applies defaults and registers metrics on reg (nil
// registers nothing).
func New(cfg Config, log zerolog.Logger, reg prometheus.Registerer) (*Client, error) {
	base, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Client{
		cfg:      cfg,
		base:     base,
		log:      log.With().Str("component", "twilio").Logger(),
		metrics:  m,
		limiters: newLimiterSet(cfg.CPS, cfg.Burst, cfg.CPSOverrides),
		holds:    make(map[string]time.Time),
		now:      time.Now,
	}, nil
}

// CreateCall places a call under req.SubaccountSID after waiting on that
// account's CPS limiter, retrying rate limits, 5xx and transport errors with
// exponential backoff bounded by ctx and Config.RetryMaxElapsed. A
// credentials error returns at once (ErrCredentials), raises the alert gauge
// and makes later CreateCalls for the account fail fast for
// Config.CredentialsHold.
func (c *Client) CreateCall(ctx context.Context, req CallRequest) (Call, error) {
	account := c.account(req.SubaccountSID)
	if err := req.validate(); err != nil {
		e := &Error{Op: opCreate, AccountSID: account, Err: err}
		e.Kind = kindOfLocal(err)
		c.metrics.errors.WithLabelValues(e.codeLabel()).Inc()
		return Call{}, e
	}
	if until, held := c.held(account); held {
		return Call{}, &Error{Kind: ErrCredentials, Op: opCreate, AccountSID: account,
			Err: fmt.Errorf("calls for this account are on hold until %s after a credentials error", until.Format(time.RFC3339))}
	}
	params := req.params(account)
	call, err := do(ctx, c, opCreate, account, true, func(api *openapi.ApiService) (*openapi.ApiV2010Call, error) {
		return api.CreateCall(params)
	})
	if err != nil {
		return Call{}, err
	}
	c.log.Debug().Str("account_sid", account).Str("call_sid", call.SID).Str("status", call.Status).Msg("twilio call created")
	return call, nil
}

// FetchCall reads the call's current state; the dialer uses it to reconcile a
// callback that never came. Retries like CreateCall but takes no CPS token.
func (c *Client) FetchCall(ctx context.Context, subaccountSID, callSID string) (Call, error) {
	account := c.account(subaccountSID)
	if !IsSID("CA", callSID) {
		return Call{}, &Error{Kind: ErrRejected, Op: opFetch, AccountSID: account, Err: fmt.Errorf("invalid call SID %q", callSID)}
	}
	params := &openapi.FetchCallParams{}
	params.SetPathAccountSid(account)
	return do(ctx, c, opFetch, account, false, func(api *openapi.ApiService) (*openapi.ApiV2010Call, error) {
		return api.FetchCall(callSID, params)
	})
}

// EndCall hangs up a call in any state. It sends Status=completed, which
// Twilio applies to queued and ringing calls as well (they end as
// "canceled") and to answered calls (they end as "completed"); "canceled"
// alone would leave an answered call up. A call that has already ended
// (Twilio 21220) is not an error: ending is idempotent.
func (c *Client) EndCall(ctx context.Context, subaccountSID, callSID string) error {
	account := c.account(subaccountSID)
	if !IsSID("CA", callSID) {
		return &Error{Kind: ErrRejected, Op: opEnd, AccountSID: account, Err: fmt.Errorf("invalid call SID %q", callSID)}
	}
	params := &openapi.UpdateCallParams{}
	params.SetPathAccountSid(account)
	params.SetStatus(StatusCompleted)
	call, err := do(ctx, c, opEnd, account, false, func(api *openapi.ApiService) (*openapi.ApiV2010Call, error) {
		return api.UpdateCall(callSID, params)
	})
	var e *Error
	if errors.As(err, &e) && e.Code == codeCallNotInProgress {
		c.log.Debug().Str("account_sid", account).Str("call_sid", callSID).Msg("twilio call already ended")
		return nil
	}
	if err != nil {
		return err
	}
	c.log.Debug().Str("account_sid", account).Str("call_sid", callSID).Str("status", call.Status).Msg("twilio call ended")
	return nil
}

func (c *Client) account(sub string) string {
	if sub == "" {
		return c.cfg.AccountSID
	}
	return sub
}

// do runs one API operation with twilio-go, retrying what IsRetryable says
// is transient. limited makes each attempt (retries too: Twilio counts them)
// wait on the account's CPS limiter first.
func do(ctx context.Context, c *Client, op, account string, limited bool,
	fn func(*openapi.ApiService) (*openapi.ApiV2010Call, error)) (Call, error) {
	var (
		last     *Error
		attempts int
	)
	operation := func() (Call, error) {
		attempts++
		if limited {
			if err := c.wait(ctx, account); err != nil {
				if ctx.Err() == nil {
					// rate.Limiter refuses up front when the token would
					// come after ctx's deadline: report it as that.
					err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
				}
				return Call{}, backoff.Permanent(fmt.Errorf("twilio: %s (account %s): waiting for CPS limiter: %w", op, account, err))
			}
		}
		api, rt := c.api(ctx, account)
		res, err := fn(api)
		if err == nil {
			c.credentialsOK(account)
			call, cerr := callFromAPI(res)
			if cerr != nil {
				return Call{}, backoff.Permanent(&Error{Kind: ErrUnavailable, Op: op, AccountSID: account, Status: rt.status, Err: cerr})
			}
			return call, nil
		}
		e := classify(op, account, err, rt.status)
		last = e
		c.metrics.errors.WithLabelValues(e.codeLabel()).Inc()
		if errors.Is(e, ErrCredentials) {
			c.credentialsFailed(account, e)
		}
		if !IsRetryable(e) || ctx.Err() != nil {
			return Call{}, backoff.Permanent(e)
		}
		return Call{}, e
	}
	call, err := backoff.Retry(ctx, operation,
		backoff.WithBackOff(&backoff.ExponentialBackOff{
			InitialInterval:     c.cfg.RetryInitialInterval,
			RandomizationFactor: backoff.DefaultRandomizationFactor,
			Multiplier:          backoff.DefaultMultiplier,
			MaxInterval:         c.cfg.RetryMaxInterval,
		}),
		backoff.WithMaxElapsedTime(c.cfg.RetryMaxElapsed),
		backoff.WithNotify(func(err error, next time.Duration) {
			var e *Error
			errors.As(err, &e)
			ev := c.log.Warn().Str("op", op).Str("account_sid", account).Int("attempt", attempts).Dur("retry_in", next)
			if e != nil {
				ev = ev.Int("code", e.Code).Int("status", e.Status)
			}
			ev.Msg("twilio request failed; retrying")
		}))
	if err == nil {
		return call, nil
	}
	// backoff returns the context's cause, not the last Twilio error, when
	// ctx ends between attempts: keep both.
	if last != nil && !errors.As(err, new(*Error)) {
		return Call{}, fmt.Errorf("twilio: %s (account %s): %w after %d attempts; last error: %w", op, account, err, attempts, last)
	}
	return Call{}, err
}

// api builds the per-request twilio-go service: twilio-go's own
// *client.Client with Strike's main credentials, the account as default path
// AccountSid, an HTTP client bound to ctx, and the simulator base URL if set.
// Building it costs a handful of small allocations.
func (c *Client) api(ctx context.Context, account string) (*openapi.ApiService, *requestTransport) {
	next := c.cfg.HTTPClient.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	rt := &requestTransport{ctx: ctx, next: next}
	hc := *c.cfg.HTTPClient
	hc.Transport = rt
	tc := &client.Client{
		Credentials: client.NewCredentials(c.cfg.AccountSID, c.cfg.AuthToken),
		HTTPClient:  &hc,
	}
	tc.SetAccountSid(account)
	var base client.BaseClient = tc
	if c.base != nil {
		base = &rebaseClient{Client: tc, base: c.base}
	}
	rh := client.NewRequestHandler(base)
	rh.Edge, rh.Region = c.cfg.Edge, c.cfg.Region
	return openapi.NewApiService(rh), rt
}

// wait takes one token from account's limiter and records the wait.
func (c *Client) wait(ctx context.Context, account string) error {
	start := time.Now()
	err := c.limiters.get(account).Wait(ctx)
	c.metrics.cpsWait.Observe(time.Since(start).Seconds())
	return err
}

// held reports whether account is on a credentials hold.
func (c *Client) held(account string) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	until, ok := c.holds[account]
	if !ok {
		return time.Time{}, false
	}
	if now := c.now(); now.After(until) {
		// Let this one request through to probe whether the credentials
		// work again; everyone else keeps failing fast for another hold
		// period. Success clears the hold, failure re-arms it.
		c.holds[account] = now.Add(c.cfg.CredentialsHold)
		return time.Time{}, false
	}
	return until, true
}

func (c *Client) credentialsFailed(account string, e *Error) {
	c.metrics.credAlert.WithLabelValues(account).Set(1)
	c.log.Error().Str("account_sid", account).Int("code", e.Code).Int("status", e.Status).
		Msg("twilio rejected credentials; calls for this account stop")
	if c.cfg.CredentialsHold < 0 {
		return
	}
	c.mu.Lock()
	c.holds[account] = c.now().Add(c.cfg.CredentialsHold)
	c.mu.Unlock()
}

func (c *Client) credentialsOK(account string) {
	c.mu.Lock()
	_, wasHeld := c.holds[account]
	delete(c.holds, account)
	c.mu.Unlock()
	if wasHeld {
		c.log.Info().Str("account_sid", account).Msg("twilio credentials accepted again")
	}
	c.metrics.credAlert.WithLabelValues(account).Set(0)
}

func kindOfLocal(err error) error {
	for _, k := range []error{ErrInvalidNumber, ErrInvalidCallerID} {
		if errors.Is(err, k) {
			return k
		}
	}
	return ErrRejected
}
