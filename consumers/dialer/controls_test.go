package dialer_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/osprey-strike/strike/internal/calloutcontrol"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/twiliosim"
	"github.com/osprey-strike/strike/schemas"
)

var (
	noor = schemas.Actor{Kind: "noc", TenantID: devdata.NOCNorthwind, Role: "operator", User: schemas.Requester{Name: "Noor", UserID: "u-noor"}}
)

func dispatcher(osp string) schemas.Actor {
	return schemas.Actor{Kind: "osp", TenantID: osp, Role: "operator", User: schemas.Requester{Name: "Dana", UserID: "u-dana"}}
}

// control produces a control onto strike.callout.controls.v1 as the gateway does and returns
// its id.
func (e *env) control(eco, osp string, c schemas.CalloutControl) string {
	e.t.Helper()
	c.ControlID, c.ECOID, c.NOCTenantID, c.OSPTenantID, c.RequestedAt = uuid.NewString(), eco, devdata.NOCNorthwind, osp, time.Now().UTC()
	rec, err := calloutcontrol.Record(e.validator, &c, "test", time.Now())
	must(e.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(e.t, e.producer.ProduceSync(ctx, rec).FirstErr())
	return c.ControlID
}

// outcome waits for the outcome of control id.
func (e *env) outcome(eco, id string) schemas.ControlOutcome {
	e.t.Helper()
	var o schemas.ControlOutcome
	e.await(eco, 30*time.Second, "the outcome of control "+id, func(evs []event) bool {
		for _, ev := range evs {
			if ev.Type == schemas.TypeCalloutControlOutcome {
				_ = json.Unmarshal(ev.Value, &o)
				if o.ControlID == id {
					return true
				}
			}
		}
		return false
	})
	return o
}

func (e *env) awaitPlaced(eco string, n int) {
	e.t.Helper()
	e.await(eco, 30*time.Second, "a placed call", func(evs []event) bool {
		return len(of[schemas.CallPlaced](e.t, evs, schemas.TypeCalloutCallPlaced)) >= n
	})
}

func counted(t testing.TB, evs []event) (inTime, late int) {
	for _, a := range of[schemas.CalloutAccepted](t, evs, schemas.TypeCalloutAccepted) {
		if a.Late {
			late++
		} else {
			inTime++
		}
	}
	return inTime, late
}

// TestControlScenarios runs controls against the real dialer, simulator and gateway webhooks:
// each control is produced as the gateway produces it and applied in order with the
// ring-down's own events.
func TestControlScenarios(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.startDialer("a", nil)

	t.Run("NOC stops a running callout: the live call is hung up", func(t *testing.T) {
		t.Parallel()
		osp, ph := e.osp(3)
		id := e.created(osp, engagement(2, 0, 1200, 30), 1)
		e.awaitPlaced(id, 1)
		o := e.outcome(id, e.control(id, osp, schemas.CalloutControl{Actor: noor, Action: schemas.ControlStop, Reason: "crew found"}))
		if o.Outcome != schemas.ControlApplied || o.Actor.User.Name != "Noor" {
			t.Fatalf("outcome %+v, want applied by Noor", o)
		}
		evs := e.awaitFinal(id)
		c := of[schemas.CalloutCancelled](t, evs, schemas.TypeCalloutCancelled)
		if len(c) != 1 || c[0].CancelledBy != "Noor" {
			t.Fatalf("cancelled %+v, want one by Noor", c)
		}
		assertSeq(t, e, ph, 1)
	})
	t.Run("OSP skips, calls a named person next and adds an ad-hoc number who accepts", func(t *testing.T) {
		t.Parallel()
		osp, ph := e.osp(4)
		adhoc := "+15559990001"
		e.sim.SetBehaviour(adhoc, accept(time.Second))
		id := e.created(osp, engagement(1, 0, 1200, 10), 1)
		e.awaitPlaced(id, 1)
		d := dispatcher(osp)
		for _, c := range []schemas.CalloutControl{
			{Actor: d, Action: schemas.ControlSkip, ContactPosition: 2},
			{Actor: d, Action: schemas.ControlCallNext, ContactPosition: 4},
			{Actor: d, Action: schemas.ControlAddNumber, Phone: adhoc, Name: "Sam (ad hoc)"},
		} {
			if o := e.outcome(id, e.control(id, osp, c)); o.Outcome != schemas.ControlApplied {
				t.Fatalf("%s: %+v, want applied", c.Action, o)
			}
		}
		a := acceptedBy(t, e.awaitFinal(id))
		if a.Contact.Phone != adhoc || a.Contact.Name != "Sam (ad hoc)" {
			t.Fatalf("accepted by %+v, want the ad-hoc number", a.Contact)
		}
		// c1 was ringing; then c4 (called next), then the ad-hoc number; c2 is never called.
		if got := e.callSequence(append(slices.Clone(ph), adhoc)); !slices.Equal(got, []int{1, 4, 5}) {
			t.Fatalf("calls %v, want [1 4 5]", got)
		}
	})
	t.Run("NOC raises people needed and extends passes", func(t *testing.T) {
		t.Parallel()
		osp, ph := e.osp(2)
		e.sim.SetBehaviour(ph[1], twiliosim.Sequence{twiliosim.NoAnswer{}, accept(time.Second)})
		e.sim.SetBehaviour(ph[0], twiliosim.Sequence{twiliosim.NoAnswer{}, twiliosim.NoAnswer{}, accept(time.Second)})
		id := e.created(osp, engagement(1, 0, 1200, 10), 1)
		e.awaitPlaced(id, 1)
		for _, c := range []schemas.CalloutControl{
			{Actor: noor, Action: schemas.ControlPeopleNeeded, PeopleNeeded: 2},
			{Actor: noor, Action: schemas.ControlPasses, LoopCount: 3},
		} {
			if o := e.outcome(id, e.control(id, osp, c)); o.Outcome != schemas.ControlApplied {
				t.Fatalf("%s: %+v, want applied", c.Action, o)
			}
		}
		evs := e.awaitFinal(id)
		if in, _ := counted(t, evs); in != 2 {
			t.Fatalf("%d acceptances, want 2 (people needed raised to 2)", in)
		}
		if p := of[schemas.CallPlaced](t, evs, schemas.TypeCalloutCallPlaced); p[len(p)-1].Pass != 3 {
			t.Fatalf("last call in pass %d, want 3 (passes extended from 1)", p[len(p)-1].Pass)
		}
	})
	t.Run("a control for a finished ECO is refused", func(t *testing.T) {
		t.Parallel()
		osp, ph := e.osp(2)
		e.sim.SetBehaviour(ph[0], accept(time.Second))
		id := e.created(osp, engagement(1, 0, 1200, 10), 1)
		e.awaitFinal(id)
		o := e.outcome(id, e.control(id, osp, schemas.CalloutControl{Actor: dispatcher(osp), Action: schemas.ControlCallNext, ContactPosition: 2}))
		if o.Outcome != schemas.ControlRefused || o.Reason != schemas.RefusedFinished {
			t.Fatalf("outcome %+v, want refused: eco_finished", o)
		}
		assertSeq(t, e, ph, 1)
	})
	t.Run("a control of the wrong tenant kind is refused", func(t *testing.T) {
		t.Parallel()
		osp, _ := e.osp(2)
		id := e.created(osp, engagement(1, 0, 1200, 30), 1)
		e.awaitPlaced(id, 1)
		o := e.outcome(id, e.control(id, osp, schemas.CalloutControl{Actor: dispatcher(osp), Action: schemas.ControlStop}))
		if o.Outcome != schemas.ControlRefused || o.Reason != schemas.RefusedWrongKind || o.Detail == "" {
			t.Fatalf("outcome %+v, want refused: wrong_tenant_kind with a reason", o)
		}
	})
	t.Run("a stop racing an acceptance: exactly one of them takes effect", func(t *testing.T) {
		t.Parallel()
		// The stop is sent as the contact presses 1, at several offsets, so both orders occur.
		for _, lead := range []time.Duration{-300 * time.Millisecond, 0, 300 * time.Millisecond} {
			osp, ph := e.osp(1)
			press := make(chan struct{})
			e.sim.SetBehaviour(ph[0], accept(2*time.Second))
			id := e.created(osp, engagement(1, 0, 1200, 30), 1)
			e.awaitPlaced(id, 1)
			go func() {
				defer close(press)
				time.Sleep(2*time.Second/speed + 600*time.Millisecond/speed + lead) // about when the key is pressed
			}()
			<-press
			ctl := e.control(id, osp, schemas.CalloutControl{Actor: noor, Action: schemas.ControlStop})
			o := e.outcome(id, ctl)
			evs := e.awaitFinal(id)
			in, _ := counted(t, evs)
			cancelled := len(of[schemas.CalloutCancelled](t, evs, schemas.TypeCalloutCancelled))
			switch {
			case o.Outcome == schemas.ControlApplied && in == 0 && cancelled == 1:
			case o.Outcome == schemas.ControlRefused && o.Reason == schemas.RefusedFinished && in == 1 && cancelled == 0:
			default:
				t.Fatalf("lead %v: stop %s/%s, %d acceptances, %d cancels; want exactly one to win", lead, o.Outcome, o.Reason, in, cancelled)
			}
		}
	})
}
