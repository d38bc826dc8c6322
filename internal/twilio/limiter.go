package twilio

import (
	"math"
	"sync"

	"golang.org/x/time/rate"
)

// limiterSet holds one token bucket per account/subaccount SID, created on
// first use. Each CreateCall waits only on the bucket of its own account, so
// a storm of calls for one NOC queues behind that NOC's limit and never
// delays another NOC (DESIGN §3). The set grows with the number of NOC
// subaccounts, which is small and bounded.
type limiterSet struct {
	cps       float64
	burst     int
	overrides map[string]float64

	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func newLimiterSet(cps float64, burst int, overrides map[string]float64) *limiterSet {
	o := make(map[string]float64, len(overrides))
	for k, v := range overrides {
		o[k] = v
	}
	return &limiterSet{cps: cps, burst: burst, overrides: o, m: make(map[string]*rate.Limiter)}
}

// get returns the limiter of account, creating it if needed.
func (s *limiterSet) get(account string) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.m[account]
	if !ok {
		cps, ok := s.overrides[account]
		if !ok {
			cps = s.cps
		}
		l = rate.NewLimiter(toLimit(cps), s.burst)
		s.m[account] = l
	}
	return l
}

// toLimit maps the config convention (negative = unlimited) to rate.Limit.
func toLimit(cps float64) rate.Limit {
	if cps < 0 || math.IsInf(cps, 1) {
		return rate.Inf
	}
	return rate.Limit(cps)
}
