package render

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfterSeconds keeps a hostile Retry-After from overflowing a Duration.
const maxRetryAfterSeconds = 1 << 31

// parseRetryAfter reads a Retry-After header (RFC 9110 §10.2.3): delay-seconds or an HTTP
// date. A date is measured against the answer's Date header when present, so clock skew
// between Strike and Render does not distort it; a date in the past means "now".
func parseRetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, maxRetryAfterSeconds)) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		now = d
	}
	return max(at.Sub(now), 0), true
}
