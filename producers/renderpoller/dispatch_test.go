package renderpoller_test

import (
	"context"
	"testing"
	"time"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/rendersim"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/producers/renderpoller"
	"github.com/osprey-strike/strike/schemas"
)

func fastDispatch() renderpoller.DispatchConfig {
	return renderpoller.DispatchConfig{
		Tick: 50 * time.Millisecond, CallTimeout: 3 * time.Second, ClaimTTL: 5 * time.Second,
		BackoffInitial: 100 * time.Millisecond, BackoffMax: 400 * time.Millisecond, Render: fastRender(),
	}
}

// jobsByRef counts the simulator's jobs per external reference.
func jobsByRef(t *testing.T, e *env, instance string) map[string]int {
	t.Helper()
	jobs, err := e.sim.Jobs(instance)
	must(t, err)
	out := map[string]int{}
	for _, j := range jobs {
		out[j.ExternalRef]++
	}
	return out
}

func TestDispatchCreatesEachECOsJobExactlyOnceAcrossRedeliveryAndLostAnswers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, rendersim.Config{})
	e.addInstance("acme-main", devdata.OSPAcme, "", 100*time.Millisecond)
	// The first create is carried out but its answer is cut off: the adapter reports it as
	// malformed, the dispatch retries, and Render answers 409 with the job it already has.
	must(t, e.sim.SetFaults("acme-main", rendersim.Faults{Truncated: 1}))
	eco := e.eco(devdata.OSPAcme)
	e.produceECO(eco) // the same eco.created delivered twice
	cfg := fastDispatch()
	cfg.Group = "strike-render-dispatch-1"
	d1 := e.startDispatcher(cfg)

	got := e.readDispatches(2, 15*time.Second)
	if got[0].Result != schemas.DispatchFailed || got[0].Attempt != 1 || got[0].Error == "" {
		t.Errorf("first attempt = %+v, want failed attempt 1 with an error", got[0])
	}
	if got[1].Result != schemas.DispatchExisting || got[1].Attempt != 2 || got[1].RenderJobID == "" {
		t.Errorf("second attempt = %+v, want the existing job found on attempt 2", got[1])
	}
	for _, d := range got {
		if d.ECOID != eco.ECOID || d.NOCTenantID != devdata.NOCNorthwind || d.OSPTenantID != devdata.OSPAcme || d.JobNumber != eco.JobNumber {
			t.Errorf("dispatch event %+v does not carry the ECO's ids", d)
		}
	}
	d1.Stop(t)

	// The whole topic redelivered to a new group: the queue already has the ECO, nothing is
	// created again and no further attempt is made.
	cfg.Group = "strike-render-dispatch-2"
	d2 := e.startDispatcher(cfg)
	e.produceECO(eco)
	eventually(t, 10*time.Second, "the second dispatcher to read the 3 redelivered events", func() bool { return d2.disp.Enqueued() >= 3 })
	time.Sleep(300 * time.Millisecond) // several dispatch ticks: a (wrong) new attempt would show
	d2.Stop(t)
	var attempts int
	must(t, e.db.Pool.QueryRow(context.Background(), `SELECT attempts FROM render_dispatches WHERE eco_id = $1`, eco.ECOID).Scan(&attempts))
	if attempts != 2 {
		t.Errorf("%d attempts after redelivery, want still 2", attempts)
	}
	if n := jobsByRef(t, e, "acme-main")[eco.JobNumber]; n != 1 {
		t.Fatalf("Render has %d jobs for %s, want exactly 1", n, eco.JobNumber)
	}
	if all := e.readDispatches(2, time.Second); len(all) != 2 {
		t.Errorf("%d dispatch events after redelivery, want still 2", len(all))
	}

	// The poller publishes the job's changes with the ECO's ids (the field status on the board).
	e.startPoller(e.fastPoller("solo"), nil)
	ch := e.readChanges(1, 10*time.Second)
	if c := ch[0].ev; c.ECOID != eco.ECOID || c.NOCTenantID != devdata.NOCNorthwind || c.Status != rendersim.StatusDispatched {
		t.Errorf("change of the dispatched job = %+v, want the ECO's ids and status dispatched", c)
	}
}

func TestDispatchRetriesAFailingInstanceWithoutHoldingUpOtherOSPs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, rendersim.Config{})
	e.addInstance("acme-main", devdata.OSPAcme, "", time.Second)
	e.addInstance("bolt-main", devdata.OSPBolt, "", time.Second)
	must(t, e.sim.SetFaults("acme-main", rendersim.Faults{ServerErrors: rendersim.Always}))
	// Cedar has no Render instance; link it so Northwind can give it work.
	ten := tenancy.Store{Pool: e.db.Pool}
	must(t, ten.UpsertLink(context.Background(), tenancy.Link{NOCTenantID: devdata.NOCNorthwind, OSPTenantID: devdata.OSPCedar, Status: tenancy.LinkActive}))
	must(t, ten.SetRoster(context.Background(), devdata.OSPCedar, devdata.RegionMetro, "", []tenancy.Contact{{Position: 1, Name: "On Call", Phone: "+15550199000"}}))
	d := e.startDispatcher(fastDispatch())

	acme := e.eco(devdata.OSPAcme)
	bolt := e.eco(devdata.OSPBolt)
	cedar := e.eco(devdata.OSPCedar)
	eventually(t, 10*time.Second, "Bolt's job to be created while Acme's instance fails", func() bool {
		return jobsByRef(t, e, "bolt-main")[bolt.JobNumber] == 1
	})
	eventually(t, 10*time.Second, "several failed attempts for Acme", func() bool { return d.disp.DispatchResults("failed") >= 3 })

	must(t, e.sim.SetFaults("acme-main", rendersim.Faults{}))
	eventually(t, 10*time.Second, "Acme's job once its instance recovers", func() bool {
		return jobsByRef(t, e, "acme-main")[acme.JobNumber] == 1
	})
	eventually(t, 5*time.Second, "the created result to be recorded", func() bool { return d.disp.DispatchResults("created") == 2 })

	byECO := map[string][]schemas.RenderDispatch{}
	for _, ev := range e.readDispatches(int(d.disp.DispatchResults("failed"))+3, 10*time.Second) {
		byECO[ev.ECOID] = append(byECO[ev.ECOID], ev)
	}
	if evs := byECO[cedar.ECOID]; len(evs) != 1 || evs[0].Result != schemas.DispatchNoInstance {
		t.Errorf("Cedar's dispatch events = %+v, want exactly one no_instance", evs)
	}
	evs := byECO[acme.ECOID]
	for i, ev := range evs {
		if ev.Attempt != i+1 {
			t.Errorf("Acme attempt %d numbered %d", i+1, ev.Attempt)
		}
		if i < len(evs)-1 && (ev.Result != schemas.DispatchFailed || ev.Error == "") {
			t.Errorf("Acme attempt %d = %+v, want failed with an error", i+1, ev)
		}
	}
	if last := evs[len(evs)-1]; last.Result != schemas.DispatchCreated {
		t.Errorf("Acme's last attempt = %+v, want created", last)
	}
	if d.disp.DispatchResults("no_instance") != 1 {
		t.Errorf("no_instance counted %v times, want once (no retry loop)", d.disp.DispatchResults("no_instance"))
	}
}
