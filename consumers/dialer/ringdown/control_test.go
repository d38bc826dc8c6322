package ringdown

import (
	"fmt"
	"slices"
	"testing"

	"github.com/osprey-strike/strike/schemas"
)

var (
	nocActor = schemas.Actor{Kind: "noc", TenantID: "noc-a", Role: "operator", User: schemas.Requester{Name: "Noor"}}
	ospActor = schemas.Actor{Kind: "osp", TenantID: "osp-a", Role: "operator", User: schemas.Requester{Name: "Dana"}}
)

// control applies a control and returns its outcome event.
func (d *driver) control(c schemas.CalloutControl) schemas.ControlOutcome {
	d.t.Helper()
	d.ctl++
	if c.ControlID == "" {
		c.ControlID = fmt.Sprintf("00000000-0000-4000-8000-%012d", d.ctl)
	}
	c.ECOID, c.NOCTenantID, c.OSPTenantID = d.s.ECO.ECOID, d.s.ECO.NOCTenantID, d.s.ECO.OSPTenantID
	d.apply(d.m.ApplyControl(d.s, c, d.now))
	for _, e := range d.out.Events {
		if o, ok := e.Value.(schemas.ControlOutcome); ok {
			return o
		}
	}
	d.t.Fatalf("control %+v: no outcome event (events %v)", c, d.out.Events)
	return schemas.ControlOutcome{}
}

func (d *driver) wantApplied(o schemas.ControlOutcome) {
	d.t.Helper()
	if o.Outcome != schemas.ControlApplied || o.Reason != "" {
		d.t.Fatalf("outcome %s/%s (%s), want applied", o.Outcome, o.Reason, o.Detail)
	}
}

func TestControls(t *testing.T) {
	t.Parallel()
	t.Run("stop ends the callout and hangs up the live call", func(t *testing.T) {
		d := newDriver(t, eco(1, 2, 1), roster(3), nil)
		id := d.place()
		d.wantApplied(d.control(schemas.CalloutControl{Actor: nocActor, Action: schemas.ControlStop, Reason: "crew on site"}))
		if d.s.Phase != PhaseCancelled || len(d.s.Calls) != 0 {
			t.Fatalf("phase %s, %d live calls; want cancelled, none", d.s.Phase, len(d.s.Calls))
		}
		if !slices.ContainsFunc(d.out.Commands, func(c Command) bool { return c.Kind == CmdEnd && c.Call.SID == d.sids[id] }) {
			t.Fatalf("live call not hung up: %+v", d.out.Commands)
		}
		// callout.cancelled, then the live call's end (the people not reached get their
		// contact.skipped entries in between).
		if i := slices.Index(d.events, "cancelled"); i < 0 || d.events[len(d.events)-1] != "call.ended" {
			t.Fatalf("events %v: want callout.cancelled", d.events)
		}
	})
	t.Run("people needed raised places a second call at once", func(t *testing.T) {
		d := newDriver(t, eco(1, 1, 0), roster(3), nil)
		d.place()
		o := d.control(schemas.CalloutControl{Actor: nocActor, Action: schemas.ControlPeopleNeeded, PeopleNeeded: 2})
		d.wantApplied(o)
		if o.PeopleNeeded != 2 || len(d.s.Calls) != 2 || !slices.Equal(d.placed, []string{"r0p1c1", "r0p1c2"}) {
			t.Fatalf("people %d, live %d, placed %v; want 2 live calls c1 c2", o.PeopleNeeded, len(d.s.Calls), d.placed)
		}
	})
	t.Run("people needed lowered to the accepted count fills the ECO", func(t *testing.T) {
		d := newDriver(t, eco(2, 1, 0), roster(3), nil)
		a := d.place()
		d.place()
		d.gather(a, "1")
		d.wantApplied(d.control(schemas.CalloutControl{Actor: nocActor, Action: schemas.ControlPeopleNeeded, PeopleNeeded: 1}))
		if d.s.Phase != PhaseAccepted || len(d.s.Calls) != 0 {
			t.Fatalf("phase %s with %d live calls; want accepted, none", d.s.Phase, len(d.s.Calls))
		}
	})
	t.Run("people needed lowered hangs up the surplus call", func(t *testing.T) {
		d := newDriver(t, eco(2, 1, 0), roster(3), nil)
		d.place()
		d.place()
		d.wantApplied(d.control(schemas.CalloutControl{Actor: nocActor, Action: schemas.ControlPeopleNeeded, PeopleNeeded: 1}))
		if len(d.s.Calls) != 1 || d.s.Calls[0].Contact.Position != 1 || !slices.Contains(d.ended, "c2:canceled") {
			t.Fatalf("live %+v ended %v; want c1 live, c2 hung up", d.s.Calls, d.ended)
		}
	})
	t.Run("passes extended run another pass", func(t *testing.T) {
		d := newDriver(t, eco(1, 1, 0), roster(2), nil)
		d.wantApplied(d.control(schemas.CalloutControl{Actor: nocActor, Action: schemas.ControlPasses, LoopCount: 2}))
		d.noAnswer()
		d.noAnswer()
		d.noAnswer()
		if !slices.Equal(d.placed, []string{"r0p1c1", "r0p1c2", "r0p2c1", "r0p2c2"}) || d.s.Phase != PhaseRinging {
			t.Fatalf("placed %v phase %s; want a second pass", d.placed, d.s.Phase)
		}
	})
	t.Run("passes shortened end the round after this pass", func(t *testing.T) {
		d := newDriver(t, eco(1, 3, 0), roster(2), nil)
		d.wantApplied(d.control(schemas.CalloutControl{Actor: nocActor, Action: schemas.ControlPasses, LoopCount: 1}))
		d.noAnswer()
		d.noAnswer()
		if d.s.Phase != PhaseExhausted || len(d.placed) != 2 {
			t.Fatalf("phase %s placed %v; want exhausted after one pass", d.s.Phase, d.placed)
		}
	})
	t.Run("skip hangs up the contact's live call and passes over them", func(t *testing.T) {
		d := newDriver(t, eco(1, 2, 0), roster(3), nil)
		d.place()
		o := d.control(schemas.CalloutControl{Actor: ospActor, Action: schemas.ControlSkip, ContactPosition: 1})
		d.wantApplied(o)
		if o.Contact == nil || o.Contact.Position != 1 || !slices.Contains(d.ended, "c1:canceled") {
			t.Fatalf("outcome %+v ended %v; want c1 skipped and hung up", o, d.ended)
		}
		d.noAnswer() // c2
		d.noAnswer() // c3
		d.noAnswer() // pass 2: c2, c1 passed over
		if !slices.Equal(d.placed, []string{"r0p1c1", "r0p1c2", "r0p1c3", "r0p2c2", "r0p2c3"}) {
			t.Fatalf("placed %v; want c1 never again", d.placed)
		}
	})
	t.Run("call next goes before the roster order, once per pass", func(t *testing.T) {
		d := newDriver(t, eco(1, 1, 0), roster(4), nil)
		d.wantApplied(d.control(schemas.CalloutControl{Actor: ospActor, Action: schemas.ControlCallNext, ContactPosition: 3}))
		d.noAnswer() // c1 was already live
		d.noAnswer() // c3, called next
		d.noAnswer() // c2
		d.noAnswer() // c4: c3 is not called again in this pass
		if !slices.Equal(d.placed, []string{"r0p1c1", "r0p1c3", "r0p1c2", "r0p1c4"}) || d.s.Phase != PhaseExhausted {
			t.Fatalf("placed %v phase %s", d.placed, d.s.Phase)
		}
		if id := d.s.Ended[1].ID; CallIDPosition(id) != 3 || id == CallID(d.s.ECO.ECOID, 0, 1, 3) {
			t.Fatalf("call-next id %q: want position 3 and an id of its own", id)
		}
	})
	t.Run("an ad-hoc number is called next and can accept", func(t *testing.T) {
		d := newDriver(t, eco(1, 1, 0), roster(2), nil)
		o := d.control(schemas.CalloutControl{Actor: ospActor, Action: schemas.ControlAddNumber, Phone: "+15550109999", Name: "Sam (ad hoc)"})
		d.wantApplied(o)
		d.noAnswer() // c1
		id := d.place()
		if c := d.live().Contact; c.Phone != "+15550109999" || c.Position != 3 {
			t.Fatalf("next call to %+v, want the ad-hoc number at position 3", c)
		}
		d.gather(id, "1")
		if d.s.Phase != PhaseAccepted || d.s.Accepted[0].Contact.Name != "Sam (ad hoc)" {
			t.Fatalf("phase %s accepted %+v", d.s.Phase, d.s.Accepted)
		}
	})
	t.Run("a control applied once even if delivered twice", func(t *testing.T) {
		d := newDriver(t, eco(1, 1, 0), roster(3), nil)
		c := schemas.CalloutControl{ControlID: "00000000-0000-4000-8000-0000000000aa", Actor: nocActor, Action: schemas.ControlPeopleNeeded, PeopleNeeded: 2}
		d.control(c)
		c.ECOID, c.NOCTenantID, c.OSPTenantID = d.s.ECO.ECOID, d.s.ECO.NOCTenantID, d.s.ECO.OSPTenantID
		out, err := d.m.ApplyControl(d.s, c, d.now)
		if err != nil || len(out.Events) != 0 || len(out.Commands) != 0 || out.Changed {
			t.Fatalf("second delivery: %+v %v; want nothing", out, err)
		}
	})
}

func TestControlRefusals(t *testing.T) {
	t.Parallel()
	finished := func(d *driver) {
		id := d.place()
		d.gather(id, "1")
	}
	tests := []struct {
		name   string
		before func(d *driver)
		ctl    schemas.CalloutControl
		reason string
	}{
		{"stop from the OSP (engagement intent is the NOC's)", nil,
			schemas.CalloutControl{Actor: ospActor, Action: schemas.ControlStop}, schemas.RefusedWrongKind},
		{"people needed from the OSP", nil,
			schemas.CalloutControl{Actor: ospActor, Action: schemas.ControlPeopleNeeded, PeopleNeeded: 2}, schemas.RefusedWrongKind},
		{"passes from the OSP", nil,
			schemas.CalloutControl{Actor: ospActor, Action: schemas.ControlPasses, LoopCount: 3}, schemas.RefusedWrongKind},
		{"skip from the NOC (people are the OSP's)", nil,
			schemas.CalloutControl{Actor: nocActor, Action: schemas.ControlSkip, ContactPosition: 1}, schemas.RefusedWrongKind},
		{"call next from the NOC", nil,
			schemas.CalloutControl{Actor: nocActor, Action: schemas.ControlCallNext, ContactPosition: 2}, schemas.RefusedWrongKind},
		{"ad-hoc number from the NOC", nil,
			schemas.CalloutControl{Actor: nocActor, Action: schemas.ControlAddNumber, Phone: "+15550109999"}, schemas.RefusedWrongKind},
		{"another NOC", nil,
			schemas.CalloutControl{Actor: schemas.Actor{Kind: "noc", TenantID: "noc-b", User: schemas.Requester{Name: "Eve"}}, Action: schemas.ControlStop}, schemas.RefusedWrongTenant},
		{"stop after the ECO filled", finished,
			schemas.CalloutControl{Actor: nocActor, Action: schemas.ControlStop}, schemas.RefusedFinished},
		{"skip after the ECO filled", finished,
			schemas.CalloutControl{Actor: ospActor, Action: schemas.ControlSkip, ContactPosition: 2}, schemas.RefusedFinished},
		{"people needed above Strike's bound", nil,
			schemas.CalloutControl{Actor: nocActor, Action: schemas.ControlPeopleNeeded, PeopleNeeded: 21}, schemas.RefusedOutOfBounds},
		{"passes above Strike's bound", nil,
			schemas.CalloutControl{Actor: nocActor, Action: schemas.ControlPasses, LoopCount: 6}, schemas.RefusedOutOfBounds},
		{"passes below the running pass", func(d *driver) { d.noAnswer(); d.noAnswer(); d.noAnswer() },
			schemas.CalloutControl{Actor: nocActor, Action: schemas.ControlPasses, LoopCount: 1}, schemas.RefusedPassRunning},
		{"people needed below those accepted", func(d *driver) { d.gather(d.place(), "1"); d.gather(d.place(), "1") },
			schemas.CalloutControl{Actor: nocActor, Action: schemas.ControlPeopleNeeded, PeopleNeeded: 1}, schemas.RefusedBelowAccepted},
		{"skip of an unknown position", nil,
			schemas.CalloutControl{Actor: ospActor, Action: schemas.ControlSkip, ContactPosition: 9}, schemas.RefusedUnknown},
		{"call next of someone who accepted", func(d *driver) { d.gather(d.place(), "1") },
			schemas.CalloutControl{Actor: ospActor, Action: schemas.ControlCallNext, ContactPosition: 3}, schemas.RefusedAccepted},
		{"call next of someone whose phone is ringing now", func(d *driver) { d.place() },
			schemas.CalloutControl{Actor: ospActor, Action: schemas.ControlCallNext, ContactPosition: 1}, schemas.RefusedCalling},
		{"an ad-hoc number already on the roster", nil,
			schemas.CalloutControl{Actor: ospActor, Action: schemas.ControlAddNumber, Phone: roster(3)[1].Phone}, schemas.RefusedDuplicate},
		{"an ad-hoc number without a number", nil,
			schemas.CalloutControl{Actor: ospActor, Action: schemas.ControlAddNumber}, schemas.RefusedInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			people := 1
			if tt.reason == schemas.RefusedBelowAccepted || tt.name == "call next of someone who accepted" {
				people = 3
			}
			d := newDriver(t, eco(people, 2, 0), roster(3), nil)
			if tt.before != nil {
				tt.before(d)
			}
			before := *d.s
			o := d.control(tt.ctl)
			if o.Outcome != schemas.ControlRefused || o.Reason != tt.reason || o.Detail == "" {
				t.Fatalf("outcome %s/%s (%q), want refused/%s with a detail", o.Outcome, o.Reason, o.Detail, tt.reason)
			}
			if d.s.Phase != before.Phase || len(d.s.Calls) != len(before.Calls) || len(d.out.Commands) != 0 || len(d.out.Events) != 1 {
				t.Fatalf("a refused control changed the ring-down: phase %s→%s, commands %+v, events %v", before.Phase, d.s.Phase, d.out.Commands, d.out.Events)
			}
		})
	}
}
