package renderpoller_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/internal/rendersim"
	"github.com/osprey-strike/strike/producers/renderpoller"
	"github.com/osprey-strike/strike/schemas"
)

// okPolls counts each instance's successful polls on one replica.
func okPolls(p *renderpoller.Poller, insts []string) map[string]float64 {
	out := map[string]float64{}
	for _, id := range insts {
		out[id] = p.Polls(id, "ok")
	}
	return out
}

func TestTwoReplicasShareTwentyInstancesAndTakeOverFromADeadOne(t *testing.T) {
	t.Parallel()
	e := newEnv(t, rendersim.Config{})
	insts := e.addInstances(20, 100*time.Millisecond)
	a := e.startPoller(e.fastPoller("replica-a"), func(p *renderpoller.Poller) { p.AbandonLeasesOnStop() })
	b := e.startPoller(e.fastPoller("replica-b"), nil)

	eventually(t, 10*time.Second, "each replica to hold its fair share of 10", func() bool {
		return a.poller.Owned() == 10 && b.poller.Owned() == 10
	})
	// Steady state: over a window of many intervals, every instance is polled, and by exactly
	// one replica.
	a1, b1 := okPolls(a.poller, insts), okPolls(b.poller, insts)
	time.Sleep(1500 * time.Millisecond) // the observation window itself, not a wait for a signal
	a2, b2 := okPolls(a.poller, insts), okPolls(b.poller, insts)
	var ofA []string
	for _, id := range insts {
		da, db := a2[id]-a1[id], b2[id]-b1[id]
		switch {
		case da > 0 && db > 0:
			t.Errorf("instance %s polled by both replicas in steady state (%v and %v polls)", id, da, db)
		case da == 0 && db == 0:
			t.Errorf("instance %s not polled in 1.5 s at a 100 ms interval", id)
		case da > 0:
			ofA = append(ofA, id)
		}
		if da+db < 5 {
			t.Errorf("instance %s polled %v times in 1.5 s at a 100 ms interval", id, da+db)
		}
	}
	if len(ofA) != 10 {
		t.Fatalf("replica a polled %d instances, want 10", len(ofA))
	}

	// Kill a: its leases are not given back and must lapse. b must poll each of a's instances
	// within the bound LeaseTTL + LeaseTick + StartSpread + one poll.
	before := okPolls(b.poller, ofA)
	killed := time.Now()
	a.Stop(t)
	cfg := e.fastPoller("")
	bound := cfg.LeaseTTL + cfg.LeaseTick + cfg.StartSpread + time.Second
	eventually(t, 2*bound, "b to poll every instance of the dead replica", func() bool {
		now := okPolls(b.poller, ofA)
		for _, id := range ofA {
			if now[id] <= before[id] {
				return false
			}
		}
		return true
	})
	if took := time.Since(killed); took > bound {
		t.Errorf("takeover took %s, beyond the documented bound %s", took.Round(time.Millisecond), bound)
	} else {
		t.Logf("takeover of 10 instances took %s (bound %s)", took.Round(time.Millisecond), bound)
	}
	if b.poller.Owned() != 20 {
		t.Errorf("b holds %d instances, want all 20", b.poller.Owned())
	}
}

func TestFaultyInstancesBackOffAloneAndDoNotSlowTheOthers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, rendersim.Config{})
	insts := e.addInstances(6, 100*time.Millisecond)
	hanging, failing, limited := insts[0], insts[1], insts[2]
	healthy := insts[3:]
	must(t, e.sim.SetFaults(hanging, rendersim.Faults{Timeouts: rendersim.Always}))
	must(t, e.sim.SetFaults(failing, rendersim.Faults{ServerErrors: rendersim.Always}))
	must(t, e.sim.SetFaults(limited, rendersim.Faults{RateLimits: rendersim.Always, RetryAfter: "60"}))
	cfg := e.fastPoller("solo")
	cfg.MaxConcurrentPolls = 4 // fewer slots than instances: a hanging poll must not starve the rest
	r := e.startPoller(cfg, nil)

	eventually(t, 5*time.Second, "the replica to own all 6 instances", func() bool { return r.poller.Owned() == 6 })
	start := okPolls(r.poller, healthy)
	time.Sleep(2 * time.Second) // observation window
	end := okPolls(r.poller, healthy)
	for _, id := range healthy {
		// 20 intervals fit in the window; allow for scheduling noise on a shared machine.
		if n := end[id] - start[id]; n < 12 {
			t.Errorf("healthy instance %s polled %v times in 2 s at a 100 ms interval: the faulty ones slowed it", id, n)
		}
	}
	// The faulty ones backed off: far fewer attempts than the healthy ones.
	if n := r.poller.Polls(failing, "unavailable"); n == 0 || n > 6 {
		t.Errorf("failing instance: %v unavailable polls, want a few (exponential backoff)", n)
	}
	if n := r.poller.Polls(limited, "rate_limited"); n != 1 {
		t.Errorf("rate-limited instance: %v polls, want exactly 1 (Retry-After 60 s honoured)", n)
	}
	if n := r.poller.Polls(hanging, "unavailable"); n > 4 {
		t.Errorf("hanging instance: %v polls, want few (each takes the timeout, then backs off)", n)
	}
}

func TestNoChangeIsLostAcrossRestartsAndDuplicatesKeepTheirID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, rendersim.Config{})
	e.addInstance("acme-main", devdata.OSPAcme, "", 100*time.Millisecond)
	ecoEv := e.eco(devdata.OSPAcme) // a real job number, so its job's events carry the ECO
	job, _, err := e.sim.CreateJob("acme-main", rendersim.JobSpec{ExternalRef: ecoEv.JobNumber})
	must(t, err)
	_, _, err = e.sim.CreateJob("acme-main", rendersim.JobSpec{ExternalRef: "MANUAL-1"})
	must(t, err)

	// First replica sees the two creations, then crashes between producing the next poll's
	// events and saving its cursor.
	r1 := e.startPoller(e.fastPoller("r1"), nil)
	e.readChanges(2, 10*time.Second)
	eventually(t, 5*time.Second, "r1 to save its cursor", func() bool {
		list, err := e.admin().List(context.Background(), devdata.OSPAcme)
		return err == nil && len(list) == 1 && list[0].LastPollAt != nil
	})
	r1.Stop(t)

	var crashed *replica
	crashed = e.startPoller(e.fastPoller("r2"), func(p *renderpoller.Poller) {
		p.SetAfterProduce(func() { crashed.stop() })
	})
	_, err = e.sim.SetStatus("acme-main", job.ID, rendersim.StatusEnRoute)
	must(t, err)
	<-crashed.done // the hook cancelled it after the produce, before the cursor save
	crashed.once.Do(func() {})

	// Changes made while nobody polls.
	_, err = e.sim.SetStatus("acme-main", job.ID, rendersim.StatusOnSite)
	must(t, err)

	e.startPoller(e.fastPoller("r3"), nil)
	feed, err := e.sim.Changes("acme-main")
	must(t, err)
	// 2 creations + en_route (produced twice: before and after the crash) + on_site.
	got := e.readChanges(len(feed)+1, 10*time.Second)

	byID := map[string][]change{}
	for _, c := range got {
		byID[c.ce.ID] = append(byID[c.ce.ID], c)
		if want := ids.EventID(schemas.TypeRenderJobChanged, "acme-main", c.ev.RenderJobID, fmt.Sprint(c.ev.Version)); c.ce.ID != want || c.ev.ChangeID != want {
			t.Errorf("change %s v%d has ce_id %s change_id %s, want %s", c.ev.RenderJobID, c.ev.Version, c.ce.ID, c.ev.ChangeID, want)
		}
		if c.key != devdata.OSPAcme {
			t.Errorf("change keyed %q, want the OSP tenant", c.key)
		}
	}
	for _, f := range feed {
		id := ids.EventID(schemas.TypeRenderJobChanged, "acme-main", f.ID, fmt.Sprint(f.Version))
		cs := byID[id]
		if len(cs) == 0 {
			t.Errorf("change %s v%d (%s) was lost", f.ID, f.Version, f.Status)
			continue
		}
		for _, c := range cs {
			if c.ev.Status != f.Status || c.ev.Version != f.Version {
				t.Errorf("event %s: status %s v%d, want %s v%d", id, c.ev.Status, c.ev.Version, f.Status, f.Version)
			}
		}
	}
	if len(byID) != len(feed) {
		t.Errorf("%d distinct change ids for %d changes", len(byID), len(feed))
	}
	// Tenancy: the ECO's job carries both tenants and the ECO id; the manual job neither.
	for _, c := range got {
		switch c.ev.ExternalRef {
		case ecoEv.JobNumber:
			if c.ev.ECOID != ecoEv.ECOID || c.ev.NOCTenantID != devdata.NOCNorthwind || c.ev.JobNumber != ecoEv.JobNumber {
				t.Errorf("ECO job change = %+v, want eco_id %s and noc %s", c.ev, ecoEv.ECOID, devdata.NOCNorthwind)
			}
		default:
			if c.ev.ECOID != "" || c.ev.NOCTenantID != "" {
				t.Errorf("manual job change carries ECO fields: %+v", c.ev)
			}
		}
	}
	// A clean restart (r1 → r2) did not repeat anything: only the crashed poll's change has a
	// duplicate.
	for id, cs := range byID {
		if len(cs) > 1 && cs[0].ev.Status != rendersim.StatusEnRoute {
			t.Errorf("change %s (%s) delivered %d times; only the crashed poll's change may repeat", id, cs[0].ev.Status, len(cs))
		}
	}
}

func TestExpiredAndRevokedTokensAreRefreshedWithoutAFailedPoll(t *testing.T) {
	t.Parallel()
	e := newEnv(t, rendersim.Config{TokenTTL: time.Minute})
	e.addInstance("acme-main", devdata.OSPAcme, "", 100*time.Millisecond)
	r := e.startPoller(e.fastPoller("solo"), nil)
	eventually(t, 5*time.Second, "a first successful poll", func() bool { return r.poller.Polls("acme-main", "ok") > 0 })
	issued := e.stats("acme-main").TokensIssued

	// The token's lifetime passes (the adapter reads the same manual clock).
	e.clock.Advance(2 * time.Minute)
	eventually(t, 5*time.Second, "a new token after expiry", func() bool { return e.stats("acme-main").TokensIssued > issued })
	issued = e.stats("acme-main").TokensIssued

	// The server revokes a still-valid token: one 401, a refresh, the call retried.
	must(t, e.sim.SetFaults("acme-main", rendersim.Faults{ExpiredTokens: 1}))
	eventually(t, 5*time.Second, "a refresh after a revoked token", func() bool { return e.stats("acme-main").TokensIssued > issued })
	ok := r.poller.Polls("acme-main", "ok")
	eventually(t, 5*time.Second, "polls to continue", func() bool { return r.poller.Polls("acme-main", "ok") > ok+2 })
	if n := r.poller.Polls("acme-main", "unauthorized"); n != 0 {
		t.Errorf("%v polls failed as unauthorized; the adapter should have refreshed the token", n)
	}
}

func TestDisabledAndUpdatedInstancesAreFollowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, rendersim.Config{})
	e.addInstance("acme-main", devdata.OSPAcme, "", 100*time.Millisecond)
	r := e.startPoller(e.fastPoller("solo"), nil)
	eventually(t, 5*time.Second, "the instance to be taken", func() bool { return r.poller.Owned() == 1 })

	off := false
	must(t, e.admin().Update(context.Background(), "acme-main", renderpoller.InstanceUpdate{Enabled: &off}))
	eventually(t, 5*time.Second, "the disabled instance to be given up", func() bool { return r.poller.Owned() == 0 })

	// Re-enabled with a rotated secret at Render: the new secret is used.
	on, newSecret := true, "sEcReT-rotated-at-render"
	e.mu.Lock()
	e.secrets = append(e.secrets, newSecret)
	e.mu.Unlock()
	must(t, e.sim.RemoveInstance("acme-main"))
	must(t, e.sim.AddInstance("acme-main", "acme-main-client", newSecret))
	sec := secretOf(newSecret)
	must(t, e.admin().Update(context.Background(), "acme-main", renderpoller.InstanceUpdate{Enabled: &on, Secret: &sec}))
	before := r.poller.Polls("acme-main", "ok")
	eventually(t, 5*time.Second, "polls with the new secret", func() bool { return r.poller.Polls("acme-main", "ok") > before+2 })
	// The simulator restarted under the same URL: the old cursor is refused and the feed is
	// read from its start.
	if n := r.poller.Polls("acme-main", "invalid_cursor"); n != 1 {
		t.Errorf("%v invalid_cursor polls, want exactly 1 (then the feed is read from its start)", n)
	}
	e.assertNoSecret("log output", e.logs.String())
}
