package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/osprey-strike/strike/internal/secrets"
)

// request is one logical API call; do may send it several times.
type request struct {
	op     string // "list jobs", for errors and logs
	method string
	path   string // appended to the base URL, already escaped
	query  url.Values
	body   []byte
	header http.Header
}

func (r request) where() string { return r.method + " " + r.path }

// reply is an answer the caller decodes.
type reply struct {
	status int
	body   []byte
}

// do sends req with a bearer token and returns the first 2xx answer or one whose status is
// in pass. It retries transient failures (5xx, 408, timeouts, network errors, 429) with
// exponential backoff up to MaxRetries times, and refreshes the token once per call if the
// server refuses it with 401. Errors are final, classified and free of credentials.
func (c *Client) do(ctx context.Context, req request, pass ...int) (reply, error) {
	refreshed := false
	attempts := 0
	op := func() (reply, error) {
		attempts++
		for {
			tok, err := c.token(ctx)
			if err != nil {
				return reply{}, err
			}
			rep, err := c.send(ctx, req, tok)
			if err != nil {
				return reply{}, err
			}
			if rep.status == http.StatusUnauthorized {
				if refreshed {
					return reply{}, backoff.Permanent(fmt.Errorf("%w: %s: fresh token refused (HTTP 401)", ErrUnauthorized, req.where()))
				}
				refreshed = true
				c.invalidate(tok)
				c.log.Debug().Str("op", req.op).Msg("render token refused before its expiry; refreshing")
				continue
			}
			return c.classify(req, rep, pass)
		}
	}
	rep, err := backoff.Retry(ctx, op,
		backoff.WithBackOff(c.newBackoff()),
		backoff.WithMaxTries(uint(c.cfg.MaxRetries)+1),
		backoff.WithMaxElapsedTime(0), // bounded by MaxRetries and ctx instead
		backoff.WithNotify(func(err error, wait time.Duration) {
			c.log.Warn().Str("op", req.op).Int("attempt", attempts).Dur("retry_in", wait).
				Str("error", c.scrubText(err.Error())).Msg("render request failed; retrying")
		}),
	)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (after %d attempts)", cerr, attempts)
		} else if attempts > 1 {
			err = fmt.Errorf("%w (after %d attempts)", err, attempts)
		}
		return reply{}, c.fail(req.op, err)
	}
	return rep, nil
}

func (c *Client) newBackoff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = c.cfg.BackoffInitial
	b.MaxInterval = c.cfg.BackoffMax
	b.Multiplier = 2
	b.RandomizationFactor = 0.5
	return b
}

// send makes one HTTP attempt under the per-attempt timeout and reads the whole body.
func (c *Client) send(ctx context.Context, req request, tok secrets.Secret) (reply, error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	u := c.base + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	hreq, err := http.NewRequestWithContext(actx, req.method, u, bytes.NewReader(req.body))
	if err != nil {
		return reply{}, backoff.Permanent(fmt.Errorf("%w: %s: cannot build request", ErrRejected, req.where()))
	}
	for k, v := range req.header {
		hreq.Header[k] = v
	}
	hreq.Header.Set("Authorization", "Bearer "+tok.Reveal())
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("User-Agent", "strike-render/1")
	if req.body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(hreq)
	if err != nil {
		return reply{}, c.transportError(ctx, actx, req, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		if ctx.Err() == nil && actx.Err() != nil {
			return reply{}, fmt.Errorf("%w: %s: timed out reading the answer after %s", ErrUnavailable, req.where(), c.cfg.Timeout)
		}
		if cerr := ctx.Err(); cerr != nil {
			return reply{}, backoff.Permanent(fmt.Errorf("%s: %w", req.where(), cerr))
		}
		return reply{}, backoff.Permanent(malformed("%s: HTTP %d answer truncated (%d bytes read): %v", req.where(), resp.StatusCode, len(body), err))
	}
	if len(body) > maxBody {
		return reply{}, backoff.Permanent(malformed("%s: answer larger than %d bytes", req.where(), maxBody))
	}
	if retryable(resp.StatusCode) || resp.StatusCode == http.StatusTooManyRequests {
		// keep the headers that matter for classification
		return reply{status: resp.StatusCode, body: body}, c.statusError(ctx, req, resp, body)
	}
	return reply{status: resp.StatusCode, body: body}, nil
}

func retryable(status int) bool {
	return status >= 500 || status == http.StatusRequestTimeout
}

// statusError classifies 5xx, 408 and 429 (the answers whose headers matter).
func (c *Client) statusError(ctx context.Context, req request, resp *http.Response, body []byte) error {
	if resp.StatusCode == http.StatusTooManyRequests {
		return c.rateLimited(ctx, req.where(), resp.Header)
	}
	code := errorCode(body)
	return fmt.Errorf("%w: %s: HTTP %d %s", ErrUnavailable, req.where(), resp.StatusCode, code)
}

// rateLimited turns a 429 into a retryable error that waits Retry-After, or a permanent one
// when Render asks for a longer wait than MaxRetryAfter or than the context has left.
func (c *Client) rateLimited(ctx context.Context, where string, h http.Header) error {
	d, ok := parseRetryAfter(h, time.Now())
	e := &rateLimitError{retryAfter: d}
	if !ok {
		e.err = fmt.Errorf("%w: %s: HTTP 429", ErrRateLimited, where)
		return e // ordinary backoff
	}
	e.err = fmt.Errorf("%w: %s: HTTP 429, retry after %s", ErrRateLimited, where, d)
	if d > c.cfg.MaxRetryAfter {
		return backoff.Permanent(e)
	}
	if dl, has := ctx.Deadline(); has && time.Until(dl) < d {
		return backoff.Permanent(e)
	}
	return e
}

// As lets backoff.Retry find the Retry-After duration and wait exactly that long.
func (e *rateLimitError) As(target any) bool {
	if t, ok := target.(**backoff.RetryAfterError); ok && e.retryAfter > 0 {
		*t = &backoff.RetryAfterError{Duration: e.retryAfter}
		return true
	}
	return false
}

// transportError classifies a failure to get an answer at all.
func (c *Client) transportError(ctx, actx context.Context, req request, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return backoff.Permanent(fmt.Errorf("%s: %w", req.where(), cerr))
	}
	if actx.Err() != nil {
		return fmt.Errorf("%w: %s: timed out after %s", ErrUnavailable, req.where(), c.cfg.Timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL carries nothing secret, but is long and says nothing new
	}
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, req.where(), err)
}

// classify accepts 2xx and pass statuses and turns every other 4xx into a final error.
func (c *Client) classify(req request, rep reply, pass []int) (reply, error) {
	if rep.status >= 200 && rep.status < 300 || slices.Contains(pass, rep.status) {
		return rep, nil
	}
	code := errorCode(rep.body)
	switch {
	case rep.status == http.StatusNotFound:
		return reply{}, backoff.Permanent(fmt.Errorf("%w: %s: HTTP 404 %s", ErrNotFound, req.where(), code))
	case rep.status == http.StatusBadRequest && code == "invalid_cursor":
		return reply{}, backoff.Permanent(fmt.Errorf("%w: %s: HTTP 400 invalid_cursor", ErrInvalidCursor, req.where()))
	case rep.status == http.StatusForbidden:
		return reply{}, backoff.Permanent(fmt.Errorf("%w: %s: HTTP 403 %s", ErrUnauthorized, req.where(), code))
	}
	return reply{}, backoff.Permanent(fmt.Errorf("%w: %s: HTTP %d %s", ErrRejected, req.where(), rep.status, code))
}

// sentinels are the kinds a redacted error still matches.
var sentinels = []error{ErrMalformed, ErrUnauthorized, ErrNotFound, ErrRateLimited, ErrUnavailable,
	ErrInvalidCursor, ErrRejected, context.Canceled, context.DeadlineExceeded}

// fail wraps a final error with the operation and makes sure no credential is in its text.
// Errors are built without credentials in the first place; this is the second layer.
func (c *Client) fail(op string, err error) error {
	err = fmt.Errorf("%s: %w", op, err)
	msg := err.Error()
	if clean := c.scrubText(msg); clean != msg {
		r := &redactedError{msg: clean}
		for _, s := range sentinels {
			if errors.Is(err, s) {
				r.kind = s
				break
			}
		}
		return r
	}
	return err
}

// scrubText replaces the client secret and the current token in s.
func (c *Client) scrubText(s string) string {
	for _, v := range []string{c.cfg.ClientSecret.Reveal(), c.currentToken().Reveal()} {
		if v != "" {
			s = strings.ReplaceAll(s, v, secrets.Redacted)
		}
	}
	return s
}
