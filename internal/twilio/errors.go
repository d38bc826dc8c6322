package twilio

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/twilio/twilio-go/client"
)

// Error kinds. Every error returned by Client methods is an *Error whose
// Kind is one of these, so callers decide with errors.Is and still reach the
// *client.TwilioRestError with errors.As — except when ctx ends first: then
// errors.Is(err, context.Canceled or context.DeadlineExceeded) holds and,
// if an attempt had failed before, the last *Error is wrapped too.
var (
	// ErrInvalidNumber: the To number is invalid, unreachable or not
	// permitted (21211, 21214, 21215, 21216, 21217, 13223, 13224). Fail that
	// contact and move on; retrying cannot help.
	ErrInvalidNumber = errors.New("invalid or unreachable To number")
	// ErrInvalidCallerID: the From number (the NOC's caller id) is invalid
	// or not owned/verified (21210, 21212, 21213). A configuration problem of
	// the NOC's Twilio context, not of the contact; not retryable.
	ErrInvalidCallerID = errors.New("invalid From (caller id) number")
	// ErrCredentials: Twilio rejected the credentials for this account or
	// the account is not active (401/403, 20003, 20005). Stop calling for
	// that account: the alert gauge is set and CreateCall fails fast for
	// Config.CredentialsHold.
	ErrCredentials = errors.New("credentials rejected")
	// ErrRateLimited: Twilio answered 429 (20429). Retryable.
	ErrRateLimited = errors.New("rate limited")
	// ErrUnavailable: a 5xx answer or a transport error. Retryable. Note that
	// a 500 or a timeout on CreateCall is ambiguous: the call may exist.
	ErrUnavailable = errors.New("service unavailable")
	// ErrNotFound: the account or call does not exist (404, 20404).
	ErrNotFound = errors.New("not found")
	// ErrRejected: any other refusal (4xx) or an invalid request detected
	// before sending. Not retryable.
	ErrRejected = errors.New("request rejected")
)

// Twilio error codes the adapter treats specially.
const (
	codeAuthenticate      = 20003
	codeAccountNotActive  = 20005
	codeNotFound          = 20404
	codeTooManyRequests   = 20429
	codeCallNotInProgress = 21220
)

// Error is a classified failure of one adapter operation.
type Error struct {
	// Kind is one of the Err* sentinels.
	Kind error
	// Op names the operation: "create call", "fetch call", "end call".
	Op string
	// AccountSID is the account or subaccount the request was made under.
	AccountSID string
	// Code is Twilio's error code, 0 when there was none.
	Code int
	// Status is the HTTP status, 0 when no response arrived.
	Status int
	// Err is the underlying error: a *client.TwilioRestError, a transport
	// error or a local validation error.
	Err error
}

// Error renders op, account, kind and cause; it never includes credentials.
func (e *Error) Error() string {
	return fmt.Sprintf("twilio: %s (account %s): %v: %v", e.Op, e.AccountSID, e.Kind, e.Err)
}

// Unwrap exposes both the kind and the cause to errors.Is/errors.As.
func (e *Error) Unwrap() []error { return []error{e.Kind, e.Err} }

// IsRetryable reports whether err is worth retrying later: a rate limit, a
// 5xx or a transport error.
func IsRetryable(err error) bool {
	return errors.Is(err, ErrRateLimited) || errors.Is(err, ErrUnavailable)
}

// IsInvalidNumber reports whether err means the contact's number cannot be called.
func IsInvalidNumber(err error) bool { return errors.Is(err, ErrInvalidNumber) }

// IsCredentials reports whether err means Strike's credentials were refused
// for the account.
func IsCredentials(err error) bool { return errors.Is(err, ErrCredentials) }

// classify turns a twilio-go error into an *Error. status is the HTTP status
// the transport saw (0 if none), used when twilio-go could not decode a
// Twilio error body (e.g. a bare 502 from a proxy).
func classify(op, account string, err error, status int) *Error {
	e := &Error{Op: op, AccountSID: account, Err: err, Status: status}
	var tre *client.TwilioRestError
	if errors.As(err, &tre) {
		e.Code = tre.Code
		if tre.Status != 0 {
			e.Status = tre.Status
		}
		e.Kind = kindOfCode(tre.Code)
		if e.Kind == nil {
			e.Kind = kindOfStatus(e.Status)
		}
		return e
	}
	switch {
	case status != 0:
		e.Kind = kindOfStatus(status)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		// The caller gave up; not Twilio's fault, and not worth retrying
		// under the same context. Reported as unavailable so a caller that
		// retries later with a fresh context may.
		e.Kind = ErrUnavailable
	default:
		e.Kind = ErrUnavailable // transport error: connection refused, reset, timeout
	}
	return e
}

func kindOfCode(code int) error {
	switch code {
	case 21211, 21214, 21215, 21216, 21217, 21219, 13223, 13224:
		return ErrInvalidNumber
	case 21210, 21212, 21213:
		return ErrInvalidCallerID
	case codeAuthenticate, codeAccountNotActive, 21222, 21224:
		return ErrCredentials
	case codeTooManyRequests:
		return ErrRateLimited
	case codeNotFound:
		return ErrNotFound
	}
	return nil
}

func kindOfStatus(status int) error {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ErrCredentials
	case status == http.StatusTooManyRequests:
		return ErrRateLimited
	case status == http.StatusNotFound:
		return ErrNotFound
	case status >= 500:
		return ErrUnavailable
	case status == 0:
		return ErrUnavailable
	}
	return ErrRejected
}

// codeLabel is the value of the {code} label of strike_twilio_errors_total:
// Twilio's error code, else "http_<status>", else "transport".
func (e *Error) codeLabel() string {
	switch {
	case e.Code != 0:
		return strconv.Itoa(e.Code)
	case e.Status != 0:
		return "http_" + strconv.Itoa(e.Status)
	case e.Kind == ErrRejected || e.Kind == ErrInvalidNumber || e.Kind == ErrInvalidCallerID:
		return "local"
	}
	return "transport"
}
