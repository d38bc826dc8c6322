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
	// ErrInvalidNumber: the To number itself is invalid or unreachable
	// (21211, 21214, 21217, 13223, 13224; see kindOfCode). Fail that contact
	// and move on; retrying cannot help.
	ErrInvalidNumber = errors.New("invalid or unreachable To number")
	// ErrAccount: a problem of the (sub)account or of Strike's configuration
	// of it, not of the dialled number (21215 geo permissions, 21216 blocked
	// by Twilio, 21219 trial account, 21609 invalid StatusCallback, 20404 on
	// the account path of CreateCall: a closed or unknown subaccount). Every
	// number of the roster would fail the same way: alert, do not mark
	// contacts invalid. Not retryable at once.
	ErrAccount = errors.New("account or configuration problem")
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
	// ErrUnavailable: a 5xx answer, an unreadable answer or a transport
	// error. Retryable for reads; on CreateCall it is ambiguous (the call may
	// exist) unless the request never left: see MayHaveCreated.
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
	// Op names the operation: "create call", "fetch call", "end call",
	// "find calls", "fetch account".
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

	// mayHaveCreated: a CreateCall whose request may have reached Twilio
	// and whose outcome is unknown (see MayHaveCreated).
	mayHaveCreated bool
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

// IsInvalidNumber reports whether err means the contact's number cannot be
// called. Account and configuration problems are never invalid numbers.
func IsInvalidNumber(err error) bool { return errors.Is(err, ErrInvalidNumber) }

// IsAccountProblem reports whether err is a problem of the (sub)account or
// its configuration rather than of the dialled number: rejected credentials
// or an inactive account (ErrCredentials), an invalid or unverified caller id
// (ErrInvalidCallerID) or another account/configuration error (ErrAccount).
// Every call for that account would fail alike until someone fixes it.
func IsAccountProblem(err error) bool {
	return errors.Is(err, ErrAccount) || errors.Is(err, ErrCredentials) || errors.Is(err, ErrInvalidCallerID)
}

// MayHaveCreated reports whether err is a CreateCall failure after which the
// call may exist at Twilio: a 5xx, a timeout, a connection lost after the
// request was sent, or an answer that could not be read. Twilio documents
// call creation as not idempotent, so CreateCall never retries these; the
// caller looks the call up (FindCalls) before placing it again. It is false
// for every other error, including the ones CreateCall retries itself (429,
// dial errors) and refusals (4xx), after which Twilio certainly created
// nothing.
func MayHaveCreated(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Op == opCreate && e.mayHaveCreated
}

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
		e.Kind = forOp(op, e.Kind)
		return e
	}
	switch {
	case status != 0:
		e.Kind = forOp(op, kindOfStatus(status))
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

// forOp refines a kind by operation: the Calls list resource of an account
// always exists, so a 404/20404 on CreateCall means the account path itself
// is unknown or closed (https://www.twilio.com/docs/errors/20404: "The
// requested resource was not found"), an account problem; on a call fetch
// or update it means the call is not there.
func forOp(op string, kind error) error {
	if op == opCreate && kind == ErrNotFound {
		return ErrAccount
	}
	return kind
}

// kindOfCode maps Twilio's error codes (https://www.twilio.com/docs/api/errors)
// to kinds. Number problems are only those of the number itself; whatever
// would fail for every number of the account is an account problem.
func kindOfCode(code int) error {
	switch code {
	case 21211, // Invalid 'To' Phone Number: not a phone number.
		21214, // 'To' phone number cannot be reached.
		21217, // Phone number does not appear to be valid.
		13223, // Dial: Invalid phone number format.
		13224: // Dial: Invalid phone number (Twilio cannot call it).
		return ErrInvalidNumber
	case 21215, // Geo Permission configuration is not permitting the call: a setting of the (sub)account.
		21216, // Call blocked by Twilio: high-risk or regulated destinations, or an account without a
		// Primary Customer Profile calling +1; the latter blocks every US contact, and marking a
		// whole roster invalid is the worse mistake than retrying one blocked number.
		21219, // 'To' number not verified: a trial account may call verified numbers only.
		21609: // Invalid StatusCallback URL: Strike's webhook configuration.
		return ErrAccount
	case 21210, // 'From' phone number not verified for the account.
		21212, // Invalid 'From' phone number.
		21213: // 'From' phone number is required.
		return ErrInvalidCallerID
	case codeAuthenticate, // 20003 Authenticate: credentials refused.
		codeAccountNotActive, // 20005 Account is not active (suspended or closed).
		21222, 21224:         // Invalid username / password (twilio-go's local check).
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
	case status >= 200 && status < 300:
		// A success whose body could not be read.
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
	case e.Kind == ErrRejected || e.Kind == ErrInvalidNumber || e.Kind == ErrInvalidCallerID || e.Kind == ErrAccount:
		return "local"
	}
	return "transport"
}
