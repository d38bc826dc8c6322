package ringdown

import (
	"fmt"
	"slices"
	"testing"

	"github.com/osprey-strike/strike/schemas"
)

// callIn is a call-in from phone choosing this ECO; it returns the call id and the outcome.
func (d *driver) callIn(phone string) (string, schemas.CallIn) {
	d.t.Helper()
	sid := fmt.Sprintf("CA%032x", 0xc0ffee+len(d.sids))
	id := schemas.CallInID(sid)
	d.sids[id] = sid
	d.apply(d.m.ApplyCallback(d.s, schemas.TelephonyCallback{ECOID: d.s.ECO.ECOID, CallID: id, Kind: schemas.CallbackCallIn,
		CallSID: sid, From: phone}, d.now))
	for _, e := range d.out.Events {
		if c, ok := e.Value.(schemas.CallIn); ok {
			return id, c
		}
	}
	d.t.Fatalf("call-in: no callin event")
	return "", schemas.CallIn{}
}

func TestCallIn(t *testing.T) {
	t.Parallel()
	r := roster(3)
	t.Run("a held place accepts with a 1 and the live call is hung up", func(t *testing.T) {
		d := newDriver(t, eco(1, 2, 0), r, nil)
		d.place() // c1 ringing
		id, ev := d.callIn(r[2].Phone)
		if ev.Outcome != schemas.CallInHeld || ev.Contact == nil || ev.Contact.Position != 3 || ev.HoldUntil.IsZero() {
			t.Fatalf("call-in %+v: want held for c3", ev)
		}
		d.gather(id, "1")
		if d.s.Phase != PhaseAccepted || len(d.s.Accepted) != 1 || d.s.Accepted[0].Contact.Position != 3 {
			t.Fatalf("phase %s accepted %+v; want c3", d.s.Phase, d.s.Accepted)
		}
		if !slices.Contains(d.ended, "c1:canceled") {
			t.Fatalf("ended %v: want c1's call hung up", d.ended)
		}
	})
	t.Run("a held place is not offered to a new placed call until released", func(t *testing.T) {
		d := newDriver(t, eco(1, 1, 0), r, nil)
		c1 := d.place()
		d.callIn(r[2].Phone)
		d.status(c1, "no-answer", 0)
		if len(d.s.Calls) != 0 || len(d.placed) != 1 {
			t.Fatalf("placed %v while a call-in holds the only place", d.placed)
		}
		d.tickTo(d.s.Steer.Holds[0].Until)
		if len(d.s.Steer.Holds) != 0 || !slices.Equal(d.placed, []string{"r0p1c1", "r0p1c2"}) {
			t.Fatalf("after the hold expired: holds %v placed %v; want c2 called", d.s.Steer.Holds, d.placed)
		}
	})
	t.Run("a dispatcher skipping a caller who holds a place gives it back; their 1 does not count", func(t *testing.T) {
		d := newDriver(t, eco(1, 1, 0), r, nil)
		d.place()
		id, _ := d.callIn(r[2].Phone)
		d.wantApplied(d.control(schemas.CalloutControl{Actor: ospActor, Action: schemas.ControlSkip, ContactPosition: 3}))
		if len(d.s.Steer.Holds) != 0 {
			t.Fatalf("holds %+v after the caller was skipped", d.s.Steer.Holds)
		}
		d.gather(id, "1")
		if len(d.s.Accepted) != 0 || d.s.Phase != PhaseRinging {
			t.Fatalf("a skipped caller's 1 counted: %+v", d.s.Accepted)
		}
	})
	t.Run("a 2 gives the place back", func(t *testing.T) {
		d := newDriver(t, eco(1, 1, 0), r, nil)
		c1 := d.place()
		id, _ := d.callIn(r[2].Phone)
		d.status(c1, "busy", 0)
		d.gather(id, "2")
		if len(d.s.Steer.Holds) != 0 || len(d.s.Calls) != 1 || d.events[len(d.events)-1] != "callin" {
			t.Fatalf("holds %v calls %d events %v; want released and c2 called", d.s.Steer.Holds, len(d.s.Calls), d.events)
		}
	})
	for _, first := range []string{"placed call", "call-in"} {
		t.Run("last place raced, "+first+" first: exactly one wins", func(t *testing.T) {
			d := newDriver(t, eco(1, 1, 0), r, nil)
			c1 := d.place()
			in, ev := d.callIn(r[2].Phone)
			if ev.Outcome != schemas.CallInHeld {
				t.Fatalf("call-in %+v: want held", ev)
			}
			order := []string{c1, in}
			if first == "call-in" {
				order = []string{in, c1}
			}
			d.gather(order[0], "1")
			d.gather(order[1], "1")
			if len(d.s.Accepted) != 1 || d.s.Phase != PhaseAccepted {
				t.Fatalf("%d acceptances, phase %s; want exactly one", len(d.s.Accepted), d.s.Phase)
			}
			want := 1
			if first == "call-in" {
				want = 3
			}
			if got := d.s.Accepted[0].Contact.Position; got != want {
				t.Fatalf("c%d accepted, want c%d (the first 1 in order)", got, want)
			}
			if d.lates != 1 {
				t.Fatalf("%d late acceptances, want the loser's one", d.lates)
			}
		})
	}
	for _, first := range []string{"stop", "call-in"} {
		t.Run("a stop racing a call-in's 1, "+first+" first: exactly one takes effect", func(t *testing.T) {
			d := newDriver(t, eco(1, 1, 0), r, nil)
			d.place()
			in, _ := d.callIn(r[2].Phone)
			stop := func() schemas.ControlOutcome {
				return d.control(schemas.CalloutControl{Actor: nocActor, Action: schemas.ControlStop})
			}
			var o schemas.ControlOutcome
			if first == "stop" {
				o = stop()
				d.gather(in, "1")
			} else {
				d.gather(in, "1")
				o = stop()
			}
			switch {
			case first == "stop" && o.Outcome == schemas.ControlApplied && d.s.Phase == PhaseCancelled && len(d.s.Accepted) == 0 && d.lates == 1:
			case first == "call-in" && o.Reason == schemas.RefusedFinished && d.s.Phase == PhaseAccepted && len(d.s.Accepted) == 1:
			default:
				t.Fatalf("stop %s/%s, phase %s, %d accepted, %d late", o.Outcome, o.Reason, d.s.Phase, len(d.s.Accepted), d.lates)
			}
		})
	}
	t.Run("refusals", func(t *testing.T) {
		for _, tt := range []struct {
			name, phone, reason string
			before              func(d *driver)
		}{
			{"finished ECO", r[2].Phone, schemas.RefusedFinished, func(d *driver) { d.gather(d.place(), "1") }},
			{"not on the roster", "+15550199999", schemas.CallInNotOnRoster, nil},
			{"the only place already held", r[2].Phone, schemas.CallInNoPlace, func(d *driver) { d.callIn(r[1].Phone) }},
		} {
			d := newDriver(t, eco(1, 1, 0), r, nil)
			if tt.before != nil {
				tt.before(d)
			}
			id, ev := d.callIn(tt.phone)
			if ev.Outcome != schemas.CallInRefused || ev.Reason != tt.reason {
				t.Fatalf("%s: call-in %+v, want refused/%s", tt.name, ev, tt.reason)
			}
			accepted := len(d.s.Accepted)
			d.gather(id, "1")
			if len(d.s.Accepted) != accepted {
				t.Fatalf("%s: a refused call-in's 1 counted", tt.name)
			}
		}
	})
}
