package rendersim

import "time"

// Always makes a counted fault fire on every request until it is switched off.
const Always = -1

// Faults are the failures an instance injects. Counted fields fire on the next N API requests
// (the jobs endpoints; the token endpoint only has TokenServerErrors) and count down to zero;
// Always fires forever. SetFaults(instance, Faults{}) switches everything off.
//
// Order per API request: token check (ExpiredTokens), then Timeouts, RateLimits, ServerErrors,
// then the request is carried out, SlowPages delays a list page, and Malformed or Truncated
// spoil the response.
type Faults struct {
	ServerErrors      int           // answer 500
	TokenServerErrors int           // the token endpoint answers 500
	Timeouts          int           // hang until the client gives up or the server closes
	RateLimits        int           // answer 429 with RetryAfter
	RetryAfter        string        // Retry-After value on 429s: seconds ("1") or an HTTP date; "" sends none
	Malformed         int           // answer 200 with invalid JSON
	Truncated         int           // declare the full length, send half the body, drop the connection
	ExpiredTokens     int           // reject a still-valid token with 401 invalid_token and revoke it
	SlowPages         time.Duration // delay every list page by this (real time)
	DuplicatePages    bool          // serve every list page twice in a row
	PageTokenLoop     bool          // list pages point back to an earlier page forever
}

// take consumes one firing of a counted fault.
func take(n *int) bool {
	switch {
	case *n == Always:
		return true
	case *n > 0:
		*n--
		return true
	}
	return false
}

// Stats counts what an instance received. Times are from the simulator's Clock.
type Stats struct {
	TokenRequests int
	TokensIssued  int
	Polls         int // list requests without a page token: the start of a poll
	Pages         int // every list request, including Polls
	Creates       int
	Gets          int
	Unauthorized  int // API requests refused for a missing, unknown or expired token
	Faults        int // faults injected
	FirstPoll     time.Time
	LastPoll      time.Time
	PollTimes     []time.Time // start times of the most recent polls (at most maxPollTimes), oldest first
}

const maxPollTimes = 256
