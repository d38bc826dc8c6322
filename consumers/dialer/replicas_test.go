package dialer_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/internal/twiliosim"
	"github.com/osprey-strike/strike/schemas"
)

// TestThreeReplicasCallbackReachesTheOwner runs three dialers in one group. Acceptance needs the
// gather callback (a reconciliation from the Calls API can only say "completed", a voicemail),
// so every ECO being accepted shows that each callback reached the replica owning its ECO. The
// ring-downs start on one replica and the other two join while the phones ring: the moved
// ring-downs are restored from strike.callout.state.v1 and finish on their new owners.
func TestThreeReplicasCallbackReachesTheOwner(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.startDialer("r1", nil)
	type eco struct {
		id     string
		phones []string
	}
	var ecos []eco
	for range 12 {
		osp, ph := e.osp(2)
		e.sim.SetBehaviour(ph[1], accept(2*time.Second))
		ecos = append(ecos, eco{e.created(osp, engagement(1, 0, 1200, 20), 1), ph})
	}
	// Join while the first contacts' phones ring (20 s of virtual ring = 1 s).
	e.await(ecos[len(ecos)-1].id, 30*time.Second, "first call placed", func(evs []event) bool {
		return len(of[schemas.CallPlaced](t, evs, schemas.TypeCalloutCallPlaced)) >= 1
	})
	e.startDialer("r2", nil)
	e.startDialer("r3", nil)
	for _, x := range ecos {
		evs := e.awaitFinal(x.id)
		if a := acceptedBy(t, evs); a.Contact.Position != 2 {
			t.Errorf("ECO %s accepted by position %d, want 2", x.id, a.Contact.Position)
		}
		seq := e.callSequence(x.phones)
		// A rebalance may repeat a call whose placement was in flight, never more.
		if len(seq) < 2 || len(seq) > 3 || seq[len(seq)-1] != 2 {
			t.Errorf("ECO %s calls %v, want [1 2] (one repeat at most)", x.id, seq)
		}
	}
}

// TestCPSLimitPerSubaccount: with 1 call per second per subaccount, Northwind's burst of ECOs
// is spaced out, and Harbor's ECO, created behind them, is not delayed by Northwind's queue.
func TestCPSLimitPerSubaccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cps: 1})
	e.startDialer("a", nil)
	ctx := context.Background()
	var north, northIDs []string
	for range 4 {
		osp, ph := e.osp(1)
		e.sim.SetBehaviour(ph[0], accept(time.Second))
		north = append(north, ph[0])
		northIDs = append(northIDs, e.created(osp, engagement(1, 0, 1200, 10), 1))
	}
	// Harbor's OSP: linked to Harbor only.
	osp, ph := e.osp(1)
	must(t, e.tenancy.UpsertLink(ctx, tenancy.Link{NOCTenantID: devdata.NOCHarbor, OSPTenantID: osp, Status: tenancy.LinkActive}))
	e.sim.SetBehaviour(ph[0], accept(time.Second))
	hid := e.createdFor(devdata.NOCHarbor, osp)
	e.awaitFinal(hid)
	for _, id := range northIDs {
		e.awaitFinal(id)
	}

	calls := e.sim.Calls()
	slices.SortFunc(calls, func(a, b twiliosim.CallRecord) int { return a.Created.Compare(b.Created) })
	var northTimes []time.Time
	var harbor time.Time
	for _, c := range calls {
		switch {
		case slices.Contains(north, c.To):
			northTimes = append(northTimes, c.Created)
			if c.AccountSID != devdata.NOCs[0].TwilioSubaccountSID {
				t.Errorf("Northwind call under %s", c.AccountSID)
			}
		case c.To == ph[0]:
			harbor = c.Created
		}
	}
	if len(northTimes) != 4 {
		t.Fatalf("%d Northwind calls, want 4", len(northTimes))
	}
	// 1 CPS on the wall clock is `speed` seconds of virtual time; allow scheduling slack.
	minGap := time.Duration(0.8 * speed * float64(time.Second))
	for i := 1; i < len(northTimes); i++ {
		if gap := northTimes[i].Sub(northTimes[i-1]); gap < minGap {
			t.Errorf("Northwind calls %d and %d %v apart (virtual), want >= %v: the CPS limit did not hold", i-1, i, gap, minGap)
		}
	}
	if !harbor.Before(northTimes[len(northTimes)-1]) {
		t.Errorf("Harbor's call at %v waited behind Northwind's queue (last Northwind call %v)", harbor, northTimes[len(northTimes)-1])
	}
}
