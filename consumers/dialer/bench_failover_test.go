package dialer_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/osprey-strike/strike/consumers/dialer"
)

// BenchmarkFailover SIGKILLs a dialer replica (a real process) while its ring-downs ring, with
// the dialer's production group timings (session timeout 6 s, heartbeat 0.5 s, transaction
// timeout 5 s), and measures how long until every one of its ring-downs moves again on the
// survivor: the time from the kill to each ECO's next callout event. Baseline: the session
// timeout, the least any group failover can take. Target: ≤ 10 s.
func BenchmarkFailover(b *testing.B) {
	e := newEnv(b, envOpts{})
	e.startDialerWith("survivor", func(c *dialer.Config) { c.KafkaOpts = productionGroupOpts() }, nil)
	victim := e.startChild("victim", -1, "STRIKE_CHILD_TIMING=production")
	var ecos []string
	for range 8 {
		osp, _ := e.osp(2) // nobody answers: every ring-down keeps calling
		ecos = append(ecos, e.created(osp, engagement(5, 0, 1200, 60), 1))
	}
	for _, id := range ecos {
		e.await(id, 60*time.Second, "a call placed", func(evs []event) bool { return len(evs) >= 2 })
	}
	time.Sleep(2 * time.Second) // both replicas settled with their partitions

	b.ResetTimer()
	killed := time.Now()
	victim.signal(b, syscall.SIGKILL)
	<-victim.done
	var worst time.Duration
	for _, id := range ecos {
		evs := e.await(id, 60*time.Second, "an event after the kill", func(evs []event) bool {
			return evs[len(evs)-1].Read.After(killed)
		})
		for _, ev := range evs {
			if ev.Read.After(killed) {
				worst = max(worst, ev.Read.Sub(killed))
				break
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(worst.Seconds(), "failover_s")
	b.ReportMetric(dialer.DefaultSessionTimeout.Seconds(), "baseline_session_timeout_s")
	if worst > 10*time.Second {
		b.Errorf("ring-downs resumed %v after the SIGKILL, want ≤ 10 s", worst)
	}
}
