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
		{"404 is not found", rest(404, 20404), 404, ErrNotFound, false, "20404"},
		{"other 400 is rejected", rest(400, 21220), 400, ErrRejected, false, "21220"},
		{"undecodable 502 body is unavailable", errors.New("error decoding the response for an HTTP error code: 502"), 502, ErrUnavailable, true, "http_502"},
		{"connection refused is unavailable", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, 0, ErrUnavailable, true, "transport"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := classify("create call", testAccount, tt.err, tt.status)
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
	t.Run("context cancellation stays visible", func(t *testing.T) {
		e := classify("create call", testAccount, fmt.Errorf("post: %w", context.Canceled), 0)
		if !errors.Is(e, context.Canceled) {
			t.Fatal("context.Canceled not reachable")
		}
	})
}
