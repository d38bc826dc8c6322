package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

const (
	opCreate       = "create call"
	opFetch        = "fetch call"
	opEnd          = "end call"
	opList         = "find calls"
	opFetchAccount = "fetch account"
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
// account's CPS limiter. Twilio documents call creation as not idempotent, so
// it retries (exponential backoff bounded by ctx and Config.RetryMaxElapsed)
// only when Twilio certainly created nothing: a rate limit (429/20429) or a
// failure to reach Twilio at all (DNS, connection refused). A 5xx, a timeout,
// a connection lost after the request was sent or an unreadable answer
// returns at once with an error for which MayHaveCreated is true. A
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
	call, err := do(ctx, c, opCreate, account, true, func(api *openapi.ApiService) (Call, error) {
		return asCall(api.CreateCall(params))
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
	return do(ctx, c, opFetch, account, false, func(api *openapi.ApiService) (Call, error) {
		return asCall(api.FetchCall(callSID, params))
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
	call, err := do(ctx, c, opEnd, account, false, func(api *openapi.ApiService) (Call, error) {
		return asCall(api.UpdateCall(callSID, params))
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

// findCallsPage is how many calls FindCalls reads: one page of Twilio's
// default size.
const findCallsPage = 50

// FindCalls lists the calls of subaccountSID ("" = main account) to to from
// from that Twilio created at or after since, newest first: at most one page
// of 50, read with the Calls list resource
// (GET /2010-04-01/Accounts/{Sid}/Calls.json?To=&From=&PageSize=50, which
// Twilio returns newest first). Twilio's date_created has a resolution of one
// second, so since is truncated to the second before comparing. A caller uses
// it after CreateCall failed with MayHaveCreated, to learn whether the call
// exists before placing it again. Retried like FetchCall.
func (c *Client) FindCalls(ctx context.Context, subaccountSID, to, from string, since time.Time) ([]Call, error) {
	account := c.account(subaccountSID)
	if to == "" || from == "" {
		return nil, &Error{Kind: ErrRejected, Op: opList, AccountSID: account, Err: errors.New("To and From are required")}
	}
	params := &openapi.ListCallParams{}
	params.SetPathAccountSid(account)
	params.SetTo(to)
	params.SetFrom(from)
	params.SetPageSize(findCallsPage)
	calls, err := do(ctx, c, opList, account, false, func(api *openapi.ApiService) ([]Call, error) {
		page, err := api.PageCall(params, "", "")
		if err != nil {
			return nil, err
		}
		out := make([]Call, 0, len(page.Calls))
		for i := range page.Calls {
			call, err := callFromAPI(&page.Calls[i])
			if err != nil {
				return nil, unreadable{err}
			}
			out = append(out, call)
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	cutoff := since.Truncate(time.Second)
	found := calls[:0]
	for _, call := range calls {
		// A call without a creation date is kept: better to see a call that
		// may be ours than to place it twice.
		if call.DateCreated.IsZero() || !call.DateCreated.Before(cutoff) {
			found = append(found, call)
		}
	}
	slices.SortStableFunc(found, func(a, b Call) int { return b.DateCreated.Compare(a.DateCreated) })
	return found, nil
}

// FetchAccount reads an account resource (GET /2010-04-01/Accounts/{Sid}.json,
// https://www.twilio.com/docs/iam/api/account) with Strike's main
// credentials: the main account or one of its subaccounts, whose auth token
// signs that subaccount's webhooks. An unknown account is ErrNotFound.
// Retried like FetchCall; a credentials error here raises the alert gauge of
// the main account but puts no account on hold.
func (c *Client) FetchAccount(ctx context.Context, sid string) (Account, error) {
	if !IsSID("AC", sid) {
		return Account{}, &Error{Kind: ErrRejected, Op: opFetchAccount, AccountSID: sid, Err: errors.New("invalid account SID")}
	}
	return do(ctx, c, opFetchAccount, sid, false, func(api *openapi.ApiService) (Account, error) {
		a, err := api.FetchAccount(sid)
		if err != nil {
			return Account{}, err
		}
		acct, err := accountFromAPI(a)
		if err != nil {
			return Account{}, unreadable{err}
		}
		return acct, nil
	})
}

// asCall converts a twilio-go call answer; a success that cannot be
// converted is an unreadable answer.
func asCall(a *openapi.ApiV2010Call, err error) (Call, error) {
	if err != nil {
		return Call{}, err
	}
	call, cerr := callFromAPI(a)
	if cerr != nil {
		return Call{}, unreadable{cerr}
	}
	return call, nil
}

// unreadable marks a 2xx answer whose body could not be understood.
type unreadable struct{ err error }

func (u unreadable) Error() string { return "unreadable answer: " + u.err.Error() }
func (u unreadable) Unwrap() error { return u.err }

func (c *Client) account(sub string) string {
	if sub == "" {
		return c.cfg.AccountSID
	}
	return sub
}

// do runs one API operation with twilio-go, retrying what retryable says
// is transient. limited makes each attempt (retries too: Twilio counts them)
// wait on the account's CPS limiter first.
func do[R any](ctx context.Context, c *Client, op, account string, limited bool,
	fn func(*openapi.ApiService) (R, error)) (R, error) {
	var (
		zero     R
		last     *Error
		attempts int
	)
	operation := func() (R, error) {
		attempts++
		if limited {
			if err := c.wait(ctx, account); err != nil {
				if ctx.Err() == nil {
					// rate.Limiter refuses up front when the token would
					// come after ctx's deadline: report it as that.
					err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
				}
				return zero, backoff.Permanent(fmt.Errorf("twilio: %s (account %s): waiting for CPS limiter: %w", op, account, err))
			}
		}
		api, rt := c.api(ctx, account)
		res, err := fn(api)
		var bad unreadable
		if err == nil || errors.As(err, &bad) {
			c.credentialsOK(op, account)
		}
		if err == nil {
			return res, nil
		}
		var e *Error
		if errors.As(err, &bad) {
			e = &Error{Kind: ErrUnavailable, Op: op, AccountSID: account, Status: rt.status, Err: err}
		} else {
			e = classify(op, account, err, rt.status)
		}
		retry := IsRetryable(e)
		if op == opCreate {
			retry, e.mayHaveCreated = createOutcome(e, err, rt)
		}
		last = e
		c.metrics.errors.WithLabelValues(e.codeLabel()).Inc()
		if errors.Is(e, ErrCredentials) {
			c.credentialsFailed(op, account, e)
		}
		if !retry {
			return zero, backoff.Permanent(e)
		}
		if ctx.Err() != nil {
			// The caller gave up while this attempt was answered: say both.
			return zero, backoff.Permanent(fmt.Errorf("twilio: %s (account %s): %w after %d attempts; last error: %w",
				op, account, context.Cause(ctx), attempts, e))
		}
		return zero, e
	}
	res, err := backoff.Retry(ctx, operation,
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
		return res, nil
	}
	// backoff returns the context's cause, not the last Twilio error, when
	// ctx ends between attempts: keep both.
	if last != nil && !errors.As(err, new(*Error)) {
		return zero, fmt.Errorf("twilio: %s (account %s): %w after %d attempts; last error: %w", op, account, err, attempts, last)
	}
	return zero, err
}

// createOutcome decides, for a failed CreateCall attempt, whether to retry
// it (Twilio certainly created nothing and may accept it later) and whether
// the call may exist. Twilio's Call resource
// (https://www.twilio.com/docs/voice/api/call-resource) creates a call per
// POST, with no idempotency key, so only outcomes that prove nothing was
// created are retried:
//   - 429/20429 (https://www.twilio.com/docs/errors/20429): refused, nothing
//     created;
//   - no byte sent: DNS failure, connection refused (dial errors), or no
//     connection ever obtained for the request.
//
// Other 4xx answers are refusals: nothing created, not retried. A 5xx, an
// unreadable 2xx, or a transport failure after the request may have been
// sent (timeout, reset, EOF before the answer) may have created the call.
func createOutcome(e *Error, cause error, rt *requestTransport) (retry, mayHaveCreated bool) {
	switch {
	case errors.Is(e, ErrRateLimited):
		return true, false
	case e.Status >= 500 || (e.Status >= 200 && e.Status < 300):
		return false, true
	case e.Status != 0:
		return false, false
	case isDialError(cause) || !rt.sent.Load():
		// Retry under the same context only: a context that ended before
		// anything was sent created nothing either.
		return true, false
	}
	return false, true
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

// credentialsFailed raises the account's alert and, for call operations,
// holds its calls. Reading an account (FetchAccount, for webhook tokens) uses
// the main credentials on the account's own path: the alert is the main
// account's, and no call is held for it.
func (c *Client) credentialsFailed(op, account string, e *Error) {
	if op == opFetchAccount {
		account = c.cfg.AccountSID
	}
	c.metrics.credAlert.WithLabelValues(account).Set(1)
	c.log.Error().Str("op", op).Str("account_sid", account).Int("code", e.Code).Int("status", e.Status).
		Msg("twilio rejected credentials; calls for this account stop")
	if c.cfg.CredentialsHold < 0 || op == opFetchAccount {
		return
	}
	c.mu.Lock()
	c.holds[account] = c.now().Add(c.cfg.CredentialsHold)
	c.mu.Unlock()
}

func (c *Client) credentialsOK(op, account string) {
	if op == opFetchAccount {
		account = c.cfg.AccountSID
	}
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
