package gateway

import (
	"strconv"
	"testing"
	"time"
)

// The failure limiter's map stays bounded however many addresses fail, and keys whose bucket
// has refilled are swept first, so a locked key is not evicted while idle ones remain.
func TestFailureLimiterStaysBounded(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	f := newFailureLimiter(2, time.Second, 100, func() time.Time { return now })
	f.fail("attacker")
	f.fail("attacker")
	if _, blocked := f.blocked("attacker"); !blocked {
		t.Fatal("two failures with burst 2: not blocked")
	}
	for i := range 99 {
		f.fail("idle-" + strconv.Itoa(i))
	}
	now = now.Add(1500 * time.Millisecond) // the idle keys' buckets are full again; attacker's is not
	f.fail("attacker")
	for i := range 1000 {
		f.fail("new-" + strconv.Itoa(i))
		if n := f.size(); n > 100 {
			t.Fatalf("after %d new keys the limiter holds %d keys, want at most 100", i+1, n)
		}
		if i == 0 {
			if _, blocked := f.blocked("attacker"); !blocked {
				t.Fatal("the sweep dropped a locked key while idle ones were there")
			}
		}
	}
}
