package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/osprey-strike/strike/internal/childproc"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/producers/renderpoller"
)

// TestChildWaitsForSIGTERM is the shutdown baseline's child: a process of this same binary that
// does nothing but wait for SIGTERM and exit.
func TestChildWaitsForSIGTERM(t *testing.T) {
	if os.Getenv("STRIKE_LIFECYCLE_BASELINE_CHILD") == "" {
		t.Skip("child process of the shutdown benchmark")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	childproc.Announce("WAITING")
	<-ctx.Done()
	os.Exit(0)
}

// BenchmarkShutdown sends SIGTERM to a replica of each `strike run` component (a real process)
// while input flows to it, and measures the time to its exit; it then checks that no Kafka
// transaction is left open and the group has no member left. Baseline, same run: the same
// SIGTERM-to-exit of a child of the same binary that only waits for the signal (the cost of
// the signal, process exit and reaping). Target: < 1 s.
func BenchmarkShutdown(b *testing.B) {
	for _, c := range lcComponents() {
		b.Run(c.name, func(b *testing.B) {
			w := newLCWorld(b)
			if c.prepare != nil {
				c.prepare(w)
			}
			a := w.start(c, "a")
			w.settled(c, []*lcReplica{a})
			stopLoad := w.load(c, []*lcReplica{a})
			time.Sleep(300 * time.Millisecond) // batches in flight when the signal lands

			b.ResetTimer()
			sent := time.Now()
			a.child.Signal(b, syscall.SIGTERM)
			select {
			case <-a.child.Done():
			case <-time.After(60 * time.Second):
				b.Fatalf("%s did not exit within 60 s of SIGTERM", c.name)
			}
			took := time.Since(sent)
			b.StopTimer()
			stopLoad()

			if err := a.child.Err(); err != nil {
				b.Errorf("%s exited with %v after SIGTERM, want status 0", c.name, err)
			}
			if open := w.openTransactions(); len(open) > 0 {
				b.Errorf("transactions left open after SIGTERM: %v", open)
			}
			if c.group != "" {
				if n, state := w.members(c.group); n != 0 {
					b.Errorf("group %s has %d members (%s) after SIGTERM", c.group, n, state)
				}
			}
			b.ReportMetric(took.Seconds(), "shutdown_s")
			b.ReportMetric(baselineExit(b).Seconds(), "baseline_exit_s")
			if took >= time.Second {
				b.Errorf("%s took %v to exit after SIGTERM, want < 1 s", c.name, took)
			}
		})
	}
}

// baselineExit is SIGTERM-to-exit of a child that only waits for the signal.
func baselineExit(b *testing.B) time.Duration {
	c := childproc.Start(b, "TestChildWaitsForSIGTERM", "STRIKE_LIFECYCLE_BASELINE_CHILD=1")
	c.WaitFor(b, "WAITING", 30*time.Second)
	sent := time.Now()
	c.Signal(b, syscall.SIGTERM)
	<-c.Done()
	return time.Since(sent)
}

// BenchmarkFailover runs two replicas of each component (real processes), SIGKILLs the one that
// owns work, and measures the time from the kill until the survivor has processed the next
// record on every partition (the dead replica's partitions move to it only after the group
// notices the death: the session timeout, then a rebalance, then any transaction the dead
// replica left open must be aborted before read-committed offsets are readable). For the
// render-poller it also measures the Render leases: the time until every instance the dead
// replica polled has been polled by the survivor. The gateway has no group: the figure is the
// time until the other replica accepts the next request. Baseline: the session timeout (the
// least any group failover can take) and the lease TTL. Target: ≤ 10 s.
func BenchmarkFailover(b *testing.B) {
	for _, c := range lcComponents() {
		b.Run(c.name, func(b *testing.B) {
			w := newLCWorld(b)
			if c.prepare != nil {
				c.prepare(w)
			}
			victim := w.start(c, "victim")
			survivor := w.start(c, "survivor")
			reps := []*lcReplica{victim, survivor}
			w.settled(c, reps)
			var victimInstances []string
			if c.name == "render-poller" {
				victimInstances = w.leasesSpread(b, "lc-render-victim", "lc-render-survivor")
			}

			b.ResetTimer()
			killed := time.Now()
			victim.child.Kill(b)
			polls := w.renderPolls(victimInstances) // any later poll of these is the survivor's
			done := w.sendAll(c, reps)
			var took, leasesTook time.Duration
			for took == 0 || (victimInstances != nil && leasesTook == 0) {
				if took == 0 && done() {
					took = time.Since(killed)
				}
				if victimInstances != nil && leasesTook == 0 && w.polledAgain(victimInstances, polls) {
					leasesTook = time.Since(killed)
				}
				if time.Since(killed) > 120*time.Second {
					b.Fatalf("%s: no failover within 120 s of the SIGKILL", c.name)
				}
				time.Sleep(10 * time.Millisecond)
			}
			b.StopTimer()
			b.Logf("%s: failover %v (Render leases: %v)", c.name, took, leasesTook)
			b.ReportMetric(took.Seconds(), "failover_s")
			if c.group != "" {
				b.ReportMetric(kafkaclient.DefaultSessionTimeout.Seconds(), "baseline_session_timeout_s")
			}
			if victimInstances != nil {
				b.ReportMetric(leasesTook.Seconds(), "lease_failover_s")
				b.ReportMetric(renderpoller.DefaultLeaseTTL.Seconds(), "baseline_lease_ttl_s")
				took = max(took, leasesTook)
			}
			if took > 10*time.Second {
				b.Errorf("%s resumed %v after the SIGKILL, want ≤ 10 s", c.name, took)
			}
		})
	}
}

// load sends one input per partition every 20 ms until the returned stop is called.
func (w *lcWorld) load(c lcComponent, reps []*lcReplica) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				w.sendAll(c, reps)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// leasesSpread waits until both poller replicas hold leases, and returns
// the instances the victim holds.
func (w *lcWorld) leasesSpread(b *testing.B, victim, survivor string) []string {
	var held []string
	waitUntil(b, 60*time.Second, "Render leases spread over both replicas", func() bool {
		rows, err := w.db.Pool.Query(context.Background(),
			`SELECT instance_id, owner FROM render_poll_state WHERE lease_until > now()`)
		if err != nil {
			return false
		}
		defer rows.Close()
		held = held[:0]
		var n int
		survivorHas := false
		for rows.Next() {
			var id, owner string
			if rows.Scan(&id, &owner) != nil {
				return false
			}
			n++
			switch owner {
			case victim:
				held = append(held, id)
			case survivor:
				survivorHas = true
			}
		}
		return n == lcRenderInstances && len(held) > 0 && survivorHas
	})
	return held
}

// renderPolls counts the polls each instance has received from the simulator's point of view.
func (w *lcWorld) renderPolls(instances []string) map[string]int {
	out := map[string]int{}
	for _, id := range instances {
		st, err := w.render.Requests(id)
		must(w.t, err)
		out[id] = st.Polls
	}
	return out
}

// polledAgain reports whether every instance has been polled since the counts in before.
func (w *lcWorld) polledAgain(instances []string, before map[string]int) bool {
	for id, n := range w.renderPolls(instances) {
		if n <= before[id] {
			return false
		}
	}
	return true
}
