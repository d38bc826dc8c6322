package dialer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/twiliosim"
)

// BenchmarkStorm: 300 ECOs at once for one NOC, mixed priorities (P1, P2, P3 shuffled), while
// the NOC's subaccount allows 20 calls per second (CPS 1 with time scaled 20×: the queue is the
// same, it drains 20× faster). It reports the time to each priority's first calls beside the CPS
// floor (the k-th call cannot leave before k/CPS; repeat calls of higher priorities go first, so
// the later priorities' figures sit above their first-calls-only floor), the rate calls actually
// left at, and how many P3 first calls left before the last P1 first call (target 0, besides the
// limiter's first token).
func BenchmarkStorm(b *testing.B) {
	n := 300
	if s := os.Getenv("BENCH_STORM_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	const cps = 20
	var (
		mu     sync.Mutex
		first  = map[string]time.Time{} // eco id -> its first call's creation (wall clock)
		all    = make(chan struct{})
		placed int // every call, repeat calls included, until the last first call
	)
	e := newEnv(b, envOpts{cps: cps, sim: func(c *twiliosim.Config) {
		c.OnCallCreated = func(r twiliosim.CallRecord) {
			u, err := url.Parse(r.StatusCallback)
			if err != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if len(first) < n {
				placed++
			}
			if eco := u.Query().Get("eco_id"); eco != "" && first[eco].IsZero() {
				first[eco] = time.Now()
				if len(first) == n {
					close(all)
				}
			}
		}
	}})
	osp, _ := e.osp(2) // nobody answers: after each first call, repeat calls compete with first calls
	prios := make([]string, n)
	for i := range prios {
		prios[i] = fmt.Sprintf("P%d", i%3+1)
	}
	rand.Shuffle(n, func(i, j int) { prios[i], prios[j] = prios[j], prios[i] })
	prioOf := map[string]string{}
	recs := make([]*kgo.Record, 0, n)
	for _, p := range prios {
		ev := e.createdEvent(devdata.NOCNorthwind, osp)
		ev.Priority = p
		prioOf[ev.ECOID] = p
		recs = append(recs, e.createdRecord(ev))
	}
	must(b, e.producer.ProduceSync(context.Background(), recs...).FirstErr())

	b.ResetTimer()
	start := time.Now()
	e.startDialer("storm", nil)
	select {
	case <-all:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d first calls within 5 minutes", len(first), n)
	}
	b.StopTimer()

	mu.Lock()
	defer mu.Unlock()
	type call struct {
		at   time.Time
		prio string
	}
	total := placed
	var calls []call
	byPrio := map[string][]time.Duration{}
	for id, at := range first {
		calls = append(calls, call{at, prioOf[id]})
		byPrio[prioOf[id]] = append(byPrio[prioOf[id]], at.Sub(start))
	}
	slices.SortFunc(calls, func(a, b call) int { return a.at.Compare(b.at) })
	var lastP1 time.Time
	for _, c := range calls {
		if c.prio == "P1" {
			lastP1 = c.at
		}
	}
	early := 0
	for _, c := range calls[1:] { // the first call may leave before the rest are queued
		if c.prio == "P3" && c.at.Before(lastP1) {
			early++
		}
	}
	// The first call waits for the group to form and the batch to commit; the rest are paced.
	floor := func(k int) float64 { return calls[0].at.Sub(start).Seconds() + float64(k)/cps }
	nP := n / 3
	for _, p := range []string{"P1", "P2", "P3"} {
		ds := byPrio[p]
		slices.Sort(ds)
		b.ReportMetric(ds[len(ds)-1].Seconds(), "last_first_call_"+p+"_s")
	}
	b.ReportMetric(floor(nP-1), "floor_last_P1_s")
	b.ReportMetric(floor(2*nP-1), "floor_last_P2_s")
	b.ReportMetric(floor(n-1), "floor_last_P3_s")
	b.ReportMetric(float64(early), "P3_first_calls_before_last_P1")
	// The limiter is the floor: calls (first and repeat) left at the CPS, no faster, no slower.
	b.ReportMetric(float64(total-1)/calls[len(calls)-1].at.Sub(calls[0].at).Seconds(), "achieved_cps")
	b.ReportMetric(cps, "limit_cps")
	if early > 0 {
		b.Errorf("%d P3 first calls left before the last P1 first call", early)
	}
}
