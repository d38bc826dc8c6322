package render

import (
	"errors"
	"time"
)

// Errors of the adapter; match them with errors.Is. Transient failures (ErrUnavailable,
// ErrRateLimited) are already retried inside the client before they are returned.
var (
	// ErrMalformed: the answer was not the contract's shape (bad or truncated JSON, missing
	// or invalid fields, a page-token loop, too many pages). The read fails as a whole.
	ErrMalformed = errors.New("render: malformed response")
	// ErrUnauthorized: the client id or secret was refused, or a fresh token was refused too.
	ErrUnauthorized = errors.New("render: unauthorized")
	// ErrNotFound: no such job.
	ErrNotFound = errors.New("render: not found")
	// ErrRateLimited: 429 and the Retry-After does not fit in the context or MaxRetryAfter,
	// or retries ran out; RetryAfter(err) tells how long Render asked to wait.
	ErrRateLimited = errors.New("render: rate limited")
	// ErrUnavailable: 5xx, timeouts or network errors after every retry.
	ErrUnavailable = errors.New("render: unavailable")
	// ErrInvalidCursor: Render refused the stored cursor (400 invalid_cursor). The caller
	// decides whether to restart from "" (duplicates are dropped by their deterministic ids).
	ErrInvalidCursor = errors.New("render: invalid cursor")
	// ErrRejected: any other 4xx: the request itself is wrong and retrying will not help.
	ErrRejected = errors.New("render: request rejected")
)

// rateLimitError carries Retry-After alongside ErrRateLimited.
type rateLimitError struct {
	err        error
	retryAfter time.Duration
}

func (e *rateLimitError) Error() string { return e.err.Error() }
func (e *rateLimitError) Unwrap() error { return e.err }

// RetryAfter returns how long Render asked the client to wait when err is a rate limit with a
// Retry-After, so a poller can back that instance off for exactly that long.
func RetryAfter(err error) (time.Duration, bool) {
	var rl *rateLimitError
	if errors.As(err, &rl) && rl.retryAfter > 0 {
		return rl.retryAfter, true
	}
	return 0, false
}

// redactedError replaces an error whose text contained a credential. It unwraps only to the
// adapter's sentinel (and context errors), never to the original text.
type redactedError struct {
	msg  string
	kind error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.kind }
