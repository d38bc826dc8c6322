package twilio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/twilio/twilio-go/client"
)

func TestClassify(t *testing.T) {
	rest := func(status, code int) error {
		return &client.TwilioRestError{Status: status, Code: code, Message: "m"}
	}
	tests := []struct {
		name      string
		err       error
		status    int
		want      error
		retryable bool
		label     string
	}{
		{"invalid To is an invalid number", rest(400, 21211), 400, ErrInvalidNumber, false, "21211"},
		{"unreachable To is an invalid number", rest(400, 21214), 400, ErrInvalidNumber, false, "21214"},
		{"not a valid number is an invalid number", rest(400, 21217), 400, ErrInvalidNumber, false, "21217"},
		{"dial invalid format is an invalid number", rest(400, 13223), 400, ErrInvalidNumber, false, "13223"},
		{"invalid From is a caller id problem", rest(400, 21212), 400, ErrInvalidCallerID, false, "21212"},
		{"authenticate is credentials", rest(401, 20003), 401, ErrCredentials, false, "20003"},
		{"403 without code is credentials", rest(403, 0), 403, ErrCredentials, false, "http_403"},
		{"inactive account is credentials", rest(401, 20005), 401, ErrCredentials, false, "20005"},
		{"429 is rate limited", rest(429, 20429), 429, ErrRateLimited, true, "20429"},
		{"500 is unavailable", rest(500, 20500), 500, ErrUnavailable, true, "20500"},
		{"503 is unavailable", rest(503, 0), 503, ErrUnavailable, true, "http_503"},
		{"other 400 is rejected", rest(400, 21220), 400, ErrRejected, false, "21220"},
		{"undecodable 502 body is unavailable", errors.New("error decoding the response for an HTTP error code: 502"), 502, ErrUnavailable, true, "http_502"},
		{"connection refused is unavailable", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, 0, ErrUnavailable, true, "transport"},
		{"geo permissions are the account's", rest(400, 21215), 400, ErrAccount, false, "21215"},
		{"a Twilio block is the account's", rest(400, 21216), 400, ErrAccount, false, "21216"},
		{"unverified To on a trial account is the account's", rest(400, 21219), 400, ErrAccount, false, "21219"},
		{"an invalid StatusCallback is configuration", rest(400, 21609), 400, ErrAccount, false, "21609"},
		{"unknown or closed subaccount on create is the account's", rest(404, 20404), 404, ErrAccount, false, "20404"},
		{"missing From is a caller id problem", rest(400, 21213), 400, ErrInvalidCallerID, false, "21213"},
		{"unverified From is a caller id problem", rest(400, 21210), 400, ErrInvalidCallerID, false, "21210"},
		{"unreachable number (Dial) is an invalid number", rest(400, 13224), 400, ErrInvalidNumber, false, "13224"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := classify(opCreate, testAccount, tt.err, tt.status)
			if !errors.Is(e, tt.want) {
				t.Fatalf("kind = %v, want %v", e.Kind, tt.want)
			}
			if IsRetryable(e) != tt.retryable {
				t.Fatalf("IsRetryable = %v, want %v", IsRetryable(e), tt.retryable)
			}
			if got := e.codeLabel(); got != tt.label {
				t.Fatalf("label = %q, want %q", got, tt.label)
			}
			var tre *client.TwilioRestError
			if errors.As(tt.err, &tre) && !errors.As(error(e), &tre) {
				t.Fatal("TwilioRestError not reachable with errors.As")
			}
		})
	}
	t.Run("a missing call is not found", func(t *testing.T) {
		if e := classify(opFetch, testAccount, rest(404, 20404), 404); !errors.Is(e, ErrNotFound) || IsAccountProblem(e) {
			t.Fatalf("kind = %v, want ErrNotFound", e.Kind)
		}
	})
	t.Run("context cancellation stays visible", func(t *testing.T) {
		e := classify("create call", testAccount, fmt.Errorf("post: %w", context.Canceled), 0)
		if !errors.Is(e, context.Canceled) {
			t.Fatal("context.Canceled not reachable")
		}
	})
}

// TestAccountProblemsAreNotInvalidNumbers: problems of the (sub)account, its
// configuration or its caller id never mark a contact's number invalid, and
// number problems are never account problems.
func TestAccountProblemsAreNotInvalidNumbers(t *testing.T) {
	rest := func(status, code int) error {
		return &client.TwilioRestError{Status: status, Code: code, Message: "m"}
	}
	for _, code := range []int{21215, 21216, 21219, 21609, 20003, 20005, 20404, 21210, 21212, 21213} {
		status := 400
		switch code {
		case 20003, 20005:
			status = 401
		case 20404:
			status = 404
		}
		e := classify(opCreate, testAccount, rest(status, code), status)
		if IsInvalidNumber(e) || !IsAccountProblem(e) {
			t.Errorf("%d: IsInvalidNumber = %v, IsAccountProblem = %v; want false, true", code, IsInvalidNumber(e), IsAccountProblem(e))
		}
	}
	for _, code := range []int{21211, 21214, 21217, 13223, 13224} {
		e := classify(opCreate, testAccount, rest(400, code), 400)
		if !IsInvalidNumber(e) || IsAccountProblem(e) {
			t.Errorf("%d: IsInvalidNumber = %v, IsAccountProblem = %v; want true, false", code, IsInvalidNumber(e), IsAccountProblem(e))
		}
	}
}
