package dialer_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/internal/twiliosim"
	"github.com/osprey-strike/strike/schemas"
)

// Issue 13's OSP-owned people data on the simulator: away windows and substitutes, entries for
// everyone who was not called, and rotation of the starting point.

// editRoster rewrites osp's metro-north roster with change applied, as an OSP admin's PUT does.
func (e *env) editRoster(osp string, change func(r *tenancy.Roster)) {
	e.t.Helper()
	ctx := context.Background()
	r, err := e.tenancy.GetRoster(ctx, osp, devdata.RegionMetro)
	must(e.t, err)
	change(&r)
	must(e.t, e.tenancy.PutRoster(ctx, r))
}

// freshPhone is a number no roster has.
func freshPhone() string { return fmt.Sprintf("+1666%07d", phoneSeq.Add(1)) }

// awayNow is a window around the virtual now (the dialer's clock).
func (e *env) awayNow(reason string, sub *tenancy.Person) []tenancy.Away {
	now := e.clock.Now()
	return []tenancy.Away{{From: now.Add(-time.Hour), Until: now.Add(24 * time.Hour), Reason: reason, Substitute: sub}}
}

// personEntries is each roster position's record in an ECO's events: "called:<result>" per
// call ended and the reason of each skip.
func personEntries(t testing.TB, evs []event) map[int][]string {
	out := map[int][]string{}
	for _, ev := range evs {
		switch ev.Type {
		case schemas.TypeCalloutCallEnded:
			ce := of[schemas.CallEnded](t, []event{ev}, ev.Type)[0]
			out[ce.Contact.Position] = append(out[ce.Contact.Position], "called:"+ce.Result)
		case schemas.TypeCalloutContactSkipped:
			sk := of[schemas.ContactSkipped](t, []event{ev}, ev.Type)[0]
			out[sk.Contact.Position] = append(out[sk.Contact.Position], sk.Reason)
		}
	}
	return out
}

func startedOf(t testing.TB, evs []event) schemas.CalloutStarted {
	t.Helper()
	st := of[schemas.CalloutStarted](t, evs, schemas.TypeCalloutStarted)
	if len(st) == 0 {
		t.Fatal("no callout.started")
	}
	return st[0]
}

func TestRosterScenarios(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.startECOProcessor()
	e.startDialer("a", nil)
	eng := engagement(1, 0, 1200, 10)

	t.Run("a substitute is called in place of an unavailable person", func(t *testing.T) {
		t.Parallel()
		osp, ph := e.osp(3)
		sub := freshPhone()
		e.editRoster(osp, func(r *tenancy.Roster) {
			r.Contacts[0].Away = e.awayNow(tenancy.AwayLeave, &tenancy.Person{Name: "Sam Substitute", Phone: sub})
		})
		e.sim.SetBehaviour(sub, accept(2*time.Second))
		e.sim.SetBehaviour(ph[0], accept(time.Second)) // would accept if called: must not be
		evs := e.awaitFinal(e.created(osp, eng, 1))
		a := acceptedBy(t, evs)
		if a.Contact.Phone != sub || a.Contact.Name != "Sam Substitute" || a.Contact.Position != 1 {
			t.Errorf("accepted by %+v, want the substitute in position 1's turn", a.Contact)
		}
		if seq := e.callSequence(append(slices.Clone(ph), sub)); !slices.Equal(seq, []int{4}) {
			t.Errorf("calls to [ada bea cat substitute] %v, want only the substitute", seq)
		}
		sk := of[schemas.ContactSkipped](t, evs, schemas.TypeCalloutContactSkipped)
		if len(sk) == 0 || sk[0].Reason != schemas.SkipSubstituted || sk[0].Contact.Phone != ph[0] ||
			sk[0].Substitute == nil || sk[0].Substitute.Phone != sub || sk[0].CallID == "" {
			t.Errorf("skip entries %+v, want position 1 substituted by the substitute's call", sk)
		}
		st := startedOf(t, evs)
		if len(st.Roster) != 3 || len(st.Roster[0].Unavailable) != 1 || st.Roster[0].Unavailable[0].Substitute.Phone != sub {
			t.Errorf("callout.started snapshot %+v, want the roster with position 1's window", st.Roster)
		}
		if got := personEntries(t, evs); fmt.Sprint(got) != fmt.Sprint(map[int][]string{1: {"substituted", "called:accepted"}, 2: {"filled"}, 3: {"filled"}}) {
			t.Errorf("entries %v", got)
		}
	})

	t.Run("a person away without a substitute is skipped and the next one called", func(t *testing.T) {
		t.Parallel()
		osp, ph := e.osp(2)
		e.editRoster(osp, func(r *tenancy.Roster) { r.Contacts[0].Away = e.awayNow(tenancy.AwayOnJob, nil) })
		e.sim.SetBehaviour(ph[0], accept(time.Second))
		e.sim.SetBehaviour(ph[1], accept(time.Second))
		evs := e.awaitFinal(e.created(osp, eng, 1))
		if acceptedBy(t, evs).Contact.Position != 2 {
			t.Error("not accepted by position 2")
		}
		assertSeq(t, e, ph, 2)
		sk := of[schemas.ContactSkipped](t, evs, schemas.TypeCalloutContactSkipped)
		if len(sk) != 1 || sk[0].Reason != schemas.SkipUnavailable || sk[0].AwayUntil == nil || sk[0].Detail != "away: on_job" {
			t.Errorf("skip entries %+v, want position 1 unavailable (on a job) until the window ends", sk)
		}
	})

	t.Run("cancelled mid pass: the people not reached say so", func(t *testing.T) {
		t.Parallel()
		osp, ph := e.osp(3)
		id := e.created(osp, engagement(1, 0, 1200, 60), 1) // a long ring, cancelled while it rings
		e.await(id, 30*time.Second, "first call placed", func(evs []event) bool {
			return len(of[schemas.CallPlaced](t, evs, schemas.TypeCalloutCallPlaced)) == 1
		})
		e.cancel(id, osp)
		evs := e.awaitFinal(id)
		if got := personEntries(t, evs); fmt.Sprint(got) != fmt.Sprint(map[int][]string{1: {"called:canceled"}, 2: {"not_reached"}, 3: {"not_reached"}}) {
			t.Errorf("entries %v", got)
		}
		assertSeq(t, e, ph, 1)
	})

	t.Run("rotation under two concurrent ECOs on one roster", func(t *testing.T) {
		t.Parallel()
		osp, ph := e.osp(3)
		e.editRoster(osp, func(r *tenancy.Roster) { r.Rotation = tenancy.RotationAfterAccepted })
		for _, p := range ph {
			e.sim.SetBehaviour(p, accept(2*time.Second))
		}
		// Two ECOs produced in one request, so they start in the same moment.
		a, b := e.createdEvent(devdata.NOCNorthwind, osp), e.createdEvent(devdata.NOCNorthwind, osp)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		must(t, e.producer.ProduceSync(ctx, []*kgo.Record{e.createdRecord(a), e.createdRecord(b)}...).FirstErr())
		evA, evB := e.awaitFinal(a.ECOID), e.awaitFinal(b.ECOID)
		sa, sb := startedOf(t, evA).Rotation, startedOf(t, evB).Rotation
		if sa == nil || sb == nil || sa.Mode != tenancy.RotationAfterAccepted {
			t.Fatalf("rotation %+v %+v", sa, sb)
		}
		if got := []int{sa.StartPosition, sb.StartPosition}; !slices.Contains(got, 1) || !slices.Contains(got, 2) {
			t.Errorf("two ECOs starting at once started at %v, want 1 and 2 (one each)", got)
		}
		accA, accB := acceptedBy(t, evA), acceptedBy(t, evB)
		if accA.Contact.Position != sa.StartPosition || accB.Contact.Position != sb.StartPosition {
			t.Errorf("accepted by %d and %d, want each ECO's first person", accA.Contact.Position, accB.Contact.Position)
		}
		// The next ECO starts after whoever accepted last.
		want := []int{tenancy.After([]int{1, 2, 3}, accA.Contact.Position), tenancy.After([]int{1, 2, 3}, accB.Contact.Position)}
		switch {
		case accA.AcceptedAt.After(accB.AcceptedAt):
			want = want[:1]
		case accB.AcceptedAt.After(accA.AcceptedAt):
			want = want[1:]
		}
		c := e.createdFor(devdata.NOCNorthwind, osp)
		evC := e.awaitFinal(c)
		if got := startedOf(t, evC).Rotation.StartPosition; !slices.Contains(want, got) {
			t.Errorf("the next ECO started at %d, want %v (after the last acceptance)", got, want)
		}
		if first := of[schemas.CallPlaced](t, evC, schemas.TypeCalloutCallPlaced)[0].Contact.Position; !slices.Contains(want, first) {
			t.Errorf("the next ECO called %d first, want %v", first, want)
		}
	})
}

// TestSkipEntriesForEachReason: one ECO, two passes, where every person has a reason: an
// invalid number (called, then skipped in pass 2), away without a substitute, away with one
// (called in their turn), an ordinary no answer then acceptance, and one a dispatcher skipped
// (bypassed). Its own world: FailNext fails the next CreateCall of the whole simulator.
func TestSkipEntriesForEachReason(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	osp, ph := e.osp(6)
	sub := freshPhone()
	e.editRoster(osp, func(r *tenancy.Roster) {
		r.Contacts[1].Away = e.awayNow(tenancy.AwayLeave, nil)
		r.Contacts[2].Away = e.awayNow(tenancy.AwayOnJob, &tenancy.Person{Name: "Sam Substitute", Phone: sub})
	})
	e.sim.SetBehaviour(ph[3], twiliosim.Sequence{twiliosim.NoAnswer{}, accept(2 * time.Second)})
	e.sim.FailNext(1, 400, 21211) // position 1's number is refused as invalid
	e.startDialer("a", nil)
	id := e.created(osp, engagement(2, 0, 1200, 10), 1)
	// A dispatcher skips someone of a callout that runs: the control and eco.created travel on
	// two topics, so one sent before the ring-down started is refused not_started.
	e.await(id, 30*time.Second, "the callout to start", func(evs []event) bool {
		return len(of[schemas.CalloutStarted](e.t, evs, schemas.TypeCalloutStarted)) > 0
	})
	skip := e.control(id, osp, schemas.CalloutControl{Actor: dispatcher(osp), Action: schemas.ControlSkip, ContactPosition: 6})
	if o := e.outcome(id, skip); o.Outcome != schemas.ControlApplied {
		t.Fatalf("skip control %+v", o)
	}
	evs := e.awaitFinal(id)
	want := map[int][]string{
		1: {"called:invalid_number", "invalid_number"},
		2: {"unavailable", "unavailable"},
		3: {"substituted", "called:no_answer", "substituted", "called:no_answer"},
		4: {"called:no_answer", "called:accepted"},
		5: {"called:no_answer"},
		6: {"bypassed"},
	}
	if got := personEntries(t, evs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("entries\n got %v\nwant %v", got, want)
	}
	for _, sk := range of[schemas.ContactSkipped](t, evs, schemas.TypeCalloutContactSkipped) {
		if sk.Detail == "" || sk.Pass < 1 {
			t.Errorf("skip entry without a reason's detail or pass: %+v", sk)
		}
	}
	// Position 1 was called once (its refused CreateCall), positions 2 and 6 never.
	if seq := e.callSequence(append(slices.Clone(ph), sub)); !slices.Equal(seq, []int{7, 4, 5, 7, 4}) {
		t.Errorf("calls to [1 2 3 4 5 6 substitute] %v, want [7 4 5 7 4] (the refused call to 1 is not at Twilio)", seq)
	}
}

// TestRotationSurvivesAReplicaMove: a rotating roster's pointer is in PostgreSQL and each
// ring-down's start in its state. ECO 1 is accepted by position 2 on replica a; ECO 2 starts
// after it (3) and is moved to replica b while position 3's phone rings; b continues ECO 2 in
// its order (3, then 1) and starts ECO 3 after ECO 2's acceptance.
func TestRotationSurvivesAReplicaMove(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	osp, ph := e.osp(3)
	e.editRoster(osp, func(r *tenancy.Roster) { r.Rotation = tenancy.RotationAfterAccepted })
	e.sim.SetBehaviour(ph[1], accept(2*time.Second))
	a := e.startDialer("a", nil)
	ev1 := e.awaitFinal(e.created(osp, engagement(1, 0, 1200, 10), 1))
	if acc := acceptedBy(t, ev1); acc.Contact.Position != 2 {
		t.Fatalf("ECO 1 accepted by %d, want 2", acc.Contact.Position)
	}

	e.sim.SetBehaviour(ph[0], accept(2*time.Second))
	id2 := e.created(osp, engagement(1, 0, 1200, 60), 1) // 60 s of ring (3 s of wall time) for position 3
	e.await(id2, 30*time.Second, "position 3 called", func(evs []event) bool {
		return len(of[schemas.CallPlaced](t, evs, schemas.TypeCalloutCallPlaced)) == 1
	})
	a.Stop(t)
	b := e.startDialer("b", nil)
	ev2 := e.awaitFinal(id2)
	if st := startedOf(t, ev2).Rotation; st == nil || st.StartPosition != 3 {
		t.Errorf("ECO 2 rotation %+v, want a start at 3 (after 2, who accepted ECO 1)", st)
	}
	var order []int
	for _, p := range of[schemas.CallPlaced](t, ev2, schemas.TypeCalloutCallPlaced) {
		order = append(order, p.Contact.Position)
	}
	if !slices.Equal(order, []int{3, 1}) || acceptedBy(t, ev2).Contact.Position != 1 {
		t.Errorf("ECO 2 called %v, want [3 1] and accepted by 1: the new owner continues the rotated order", order)
	}

	e.sim.SetBehaviour(ph[1], accept(2*time.Second))
	ev3 := e.awaitFinal(e.created(osp, engagement(1, 0, 1200, 10), 1))
	if st := startedOf(t, ev3).Rotation; st == nil || st.StartPosition != 2 {
		t.Errorf("ECO 3 on the new replica started at %+v, want 2 (after 1, who accepted ECO 2)", st)
	}
	b.Stop(t)
}
