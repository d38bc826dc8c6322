package gateway

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// failureLimiter counts failed authentications per key (a client address, or a token's hash)
// with a token bucket per key (golang.org/x/time/rate): burst failures, then one more per
// refill. A request whose key has no failure left is refused with 429 before its token is looked
// up, so a locked key cannot keep probing, not even with a valid token.
//
// The map is bounded: a key whose bucket is full again is indistinguishable from a new key and is
// dropped by the sweep; when the map is still at maxKeys, an arbitrary key makes room (an
// attacker with more than maxKeys addresses may reset some of them, memory stays bounded).
type failureLimiter struct {
	limit   rate.Limit
	burst   int
	maxKeys int
	now     func() time.Time

	mu        sync.Mutex
	keys      map[string]*rate.Limiter
	lastSweep time.Time
}

func newFailureLimiter(burst int, refill time.Duration, maxKeys int, now func() time.Time) *failureLimiter {
	return &failureLimiter{limit: rate.Every(refill), burst: burst, maxKeys: maxKeys, now: now,
		keys: map[string]*rate.Limiter{}}
}

// blocked reports whether key has no failure left, and when the next one is allowed.
func (f *failureLimiter) blocked(key string) (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.keys[key]
	if !ok {
		return 0, false
	}
	tokens := l.TokensAt(f.now())
	if tokens >= 1 {
		return 0, false
	}
	return time.Duration((1 - tokens) / float64(f.limit) * float64(time.Second)), true
}

// fail records one failed authentication for key.
func (f *failureLimiter) fail(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	l, ok := f.keys[key]
	if !ok {
		if len(f.keys) >= f.maxKeys {
			f.makeRoom(now)
		}
		l = rate.NewLimiter(f.limit, f.burst)
		f.keys[key] = l
	}
	l.AllowN(now, 1)
}

// makeRoom drops every key whose bucket is full again (at most one full sweep a second), then,
// if the map is still full, one arbitrary key.
func (f *failureLimiter) makeRoom(now time.Time) {
	if now.Sub(f.lastSweep) >= time.Second {
		f.lastSweep = now
		for k, l := range f.keys {
			if l.TokensAt(now) >= float64(f.burst) {
				delete(f.keys, k)
			}
		}
	}
	for k := range f.keys {
		if len(f.keys) < f.maxKeys {
			break
		}
		delete(f.keys, k)
	}
}

func (f *failureLimiter) size() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.keys)
}

// authLimits are the failure limiters of the API: per client address and per presented token.
type authLimits struct {
	byAddr, byToken *failureLimiter
}

// clientAddr is the address failed authentications are counted against: the connection's peer,
// or the rightmost address of ClientIPHeader when the API sits behind a proxy that sets it.
func clientAddr(r *http.Request, header string) string {
	if header != "" {
		if v := r.Header.Values(header); len(v) > 0 {
			parts := strings.Split(v[len(v)-1], ",")
			if ip := net.ParseIP(strings.TrimSpace(parts[len(parts)-1])); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func tokenKey(token string) string { return string(HashToken(token)) }

// check returns a 429 problem and its Retry-After when the address or the token is locked.
func (l authLimits) check(addr, token string) (*Problem, time.Duration) {
	wait, blocked := l.byAddr.blocked(addr)
	if token != "" {
		if w, b := l.byToken.blocked(tokenKey(token)); b {
			blocked, wait = true, max(wait, w)
		}
	}
	if !blocked {
		return nil, 0
	}
	return problem(http.StatusTooManyRequests, ProbTooManyFailures, "Too many failed attempts",
		"Too many requests without a valid token came from this address or with this token. Wait for Retry-After seconds."), wait
}

func (l authLimits) fail(addr, token string) {
	l.byAddr.fail(addr)
	if token != "" {
		l.byToken.fail(tokenKey(token))
	}
}

func retryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))))
}
