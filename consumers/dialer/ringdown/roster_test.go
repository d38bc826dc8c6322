package ringdown

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osprey-strike/strike/schemas"
)

func newDriverWith(t *testing.T, e schemas.ECOCreated, r Roster) *driver {
	d := &driver{t: t, m: Machine{Rules: testRules, Env: links{}}, now: t0, sids: map[string]string{}, seq: map[string]int{}}
	s, out, err := d.m.StartWith(e, r, TwilioContext{SubaccountSID: "AC1", CallerID: "+15550100001"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	d.s = s
	d.record(out)
	return d
}

var sub = &schemas.Person{Name: "Sam Sub", Phone: "+15550109999"}

// entries is every person's record in the ECO: "called:<result>" per call ended (a substitute's
// call counts for the position they stood in for) and "<reason>" per skip.
func (d *driver) entries() map[int][]string {
	out := map[int][]string{}
	for _, e := range d.all {
		switch v := e.Value.(type) {
		case schemas.CallEnded:
			out[v.Contact.Position] = append(out[v.Contact.Position], "called:"+v.Result)
		case schemas.ContactSkipped:
			out[v.Contact.Position] = append(out[v.Contact.Position], v.Reason)
		}
	}
	return out
}

func (d *driver) skips() []schemas.ContactSkipped {
	var out []schemas.ContactSkipped
	for _, e := range d.all {
		if v, ok := e.Value.(schemas.ContactSkipped); ok {
			out = append(out, v)
		}
	}
	return out
}

func TestWhoIsCalledInATurn(t *testing.T) {
	t.Parallel()
	away := func(pos int, from, until time.Duration, s *schemas.Person) Away {
		return Away{Position: pos, From: t0.Add(from), Until: t0.Add(until), Reason: "leave", Substitute: s}
	}
	tests := []struct {
		name        string
		eco         schemas.ECOCreated
		roster      Roster
		play        func(d *driver)
		wantPlaced  []string
		wantEntries map[int][]string
		wantPhase   string
	}{
		{
			name: "a substitute is called in the turn of a contact who is away", eco: eco(1, 1, 0),
			roster: Roster{Contacts: roster(3), Away: []Away{away(1, -time.Hour, time.Hour, sub)}},
			play: func(d *driver) {
				if c := d.live().Contact; c.Phone != sub.Phone || c.Name != sub.Name || c.Position != 1 {
					d.t.Errorf("first call to %+v, want the substitute under position 1", c)
				}
				d.gather(d.place(), "1")
				if a := d.s.Accepted; len(a) != 1 || a[0].Contact.Name != sub.Name {
					d.t.Errorf("acceptance %+v, want the substitute", a)
				}
				sk := d.skips()[0]
				if sk.Reason != schemas.SkipSubstituted || sk.Substitute == nil || sk.Substitute.Phone != sub.Phone ||
					sk.CallID != d.s.Ended[0].ID || sk.AwayUntil == nil || !sk.AwayUntil.Equal(t0.Add(time.Hour)) {
					d.t.Errorf("skip entry %+v, want substituted naming the substitute, their call and the window's end", sk)
				}
			},
			wantPlaced:  []string{"r0p1c1"},
			wantEntries: map[int][]string{1: {"substituted", "called:accepted"}, 2: {"filled"}, 3: {"filled"}},
			wantPhase:   PhaseAccepted,
		},
		{
			name: "a contact away without a substitute is skipped in every pass", eco: eco(1, 2, 0),
			roster: Roster{Contacts: roster(2), Away: []Away{away(1, -time.Hour, time.Hour, nil)}},
			play: func(d *driver) {
				d.noAnswer()
				d.noAnswer()
			},
			wantPlaced:  []string{"r0p1c2", "r0p2c2"},
			wantEntries: map[int][]string{1: {"unavailable", "unavailable"}, 2: {"called:no_answer", "called:no_answer"}},
			wantPhase:   PhaseExhausted,
		},
		{
			name: "a window that ends during the ring-down: called in the next pass", eco: eco(1, 2, 0),
			roster: Roster{Contacts: roster(3), Away: []Away{away(1, -time.Hour, 5*time.Second, nil)}},
			play: func(d *driver) {
				d.noAnswer()
				d.noAnswer()
				d.gather(d.place(), "1")
			},
			wantPlaced:  []string{"r0p1c2", "r0p1c3", "r0p2c1"},
			wantEntries: map[int][]string{1: {"unavailable", "called:accepted"}, 2: {"called:no_answer"}, 3: {"called:no_answer"}},
			wantPhase:   PhaseAccepted,
		},
		{
			name: "a window in the future does not keep anyone from being called", eco: eco(1, 1, 0),
			roster:      Roster{Contacts: roster(1), Away: []Away{away(1, time.Hour, 2*time.Hour, sub)}},
			play:        func(d *driver) { d.gather(d.place(), "1") },
			wantPlaced:  []string{"r0p1c1"},
			wantEntries: map[int][]string{1: {"called:accepted"}},
			wantPhase:   PhaseAccepted,
		},
		{
			name: "everyone away without substitutes: no call, exhausted with an entry per person per pass", eco: eco(1, 2, 0),
			roster:      Roster{Contacts: roster(2), Away: []Away{away(1, -time.Hour, time.Hour, nil), away(2, -time.Hour, time.Hour, nil)}},
			play:        func(d *driver) {},
			wantEntries: map[int][]string{1: {"unavailable", "unavailable"}, 2: {"unavailable", "unavailable"}},
			wantPhase:   PhaseExhausted,
		},
		{
			name: "a rotating roster starts at its start position and wraps", eco: eco(1, 1, 0),
			roster: Roster{Contacts: roster(3), Rotation: "after_last_accepted", StartPosition: 2},
			play: func(d *driver) {
				d.noAnswer()
				d.noAnswer()
				d.gather(d.place(), "1")
			},
			wantPlaced:  []string{"r0p1c2", "r0p1c3", "r0p1c1"},
			wantEntries: map[int][]string{1: {"called:accepted"}, 2: {"called:no_answer"}, 3: {"called:no_answer"}},
			wantPhase:   PhaseAccepted,
		},
		{
			name: "a start position that left the roster: the next one after it", eco: eco(1, 1, 0),
			roster:      Roster{Contacts: []schemas.Contact{roster(3)[0], roster(3)[2]}, Rotation: "after_last_called", StartPosition: 2},
			play:        func(d *driver) { d.gather(d.place(), "1") },
			wantPlaced:  []string{"r0p1c3"},
			wantEntries: map[int][]string{3: {"called:accepted"}, 1: {"filled"}},
			wantPhase:   PhaseAccepted,
		},
		{
			name: "a contact a dispatcher skipped is bypassed and says so", eco: eco(1, 2, 0), roster: Roster{Contacts: roster(2)},
			play: func(d *driver) {
				d.wantApplied(d.control(schemas.CalloutControl{Actor: ospActor, Action: schemas.ControlSkip, ContactPosition: 2}))
				d.noAnswer()
				d.noAnswer()
			},
			wantPlaced:  []string{"r0p1c1", "r0p2c1"},
			wantEntries: map[int][]string{1: {"called:no_answer", "called:no_answer"}, 2: {"bypassed", "bypassed"}},
			wantPhase:   PhaseExhausted,
		},
		{
			name: "a contact called next out of order has their call as entry, not filled", eco: eco(1, 1, 0), roster: Roster{Contacts: roster(3)},
			play: func(d *driver) {
				d.wantApplied(d.control(schemas.CalloutControl{Actor: ospActor, Action: schemas.ControlCallNext, ContactPosition: 3}))
				d.noAnswer()
				d.gather(d.place(), "1")
			},
			wantPlaced:  []string{"r0p1c1", "r0p1c3"},
			wantEntries: map[int][]string{1: {"called:no_answer"}, 2: {"filled"}, 3: {"called:accepted"}},
			wantPhase:   PhaseAccepted,
		},
		{
			name: "a number that proved invalid is skipped in later passes, not called again", eco: eco(1, 2, 0), roster: Roster{Contacts: roster(2)},
			play: func(d *driver) {
				d.apply(d.m.ApplyPlaced(d.s, Placed{CallID: d.live().ID, Err: PlaceInvalidNumber}, d.now))
				d.noAnswer()
				d.noAnswer()
			},
			wantPlaced:  []string{"r0p1c1", "r0p1c2", "r0p2c2"},
			wantEntries: map[int][]string{1: {"called:invalid_number", "invalid_number"}, 2: {"called:no_answer", "called:no_answer"}},
			wantPhase:   PhaseExhausted,
		},
		{
			name: "filled before their turn", eco: eco(2, 1, 0), roster: Roster{Contacts: roster(5)},
			play: func(d *driver) {
				a, b := d.s.Calls[0].ID, d.s.Calls[1].ID
				d.sids[a], d.sids[b] = "CA1", "CA2"
				d.apply(d.m.ApplyPlaced(d.s, Placed{CallID: a, SID: "CA1"}, d.now))
				d.apply(d.m.ApplyPlaced(d.s, Placed{CallID: b, SID: "CA2"}, d.now))
				d.gather(a, "1")
				d.status(b, "no-answer", 0)
				d.gather(d.place(), "1") // c3 fills the second place
			},
			wantPlaced:  []string{"r0p1c1", "r0p1c2", "r0p1c3"},
			wantEntries: map[int][]string{1: {"called:accepted"}, 2: {"called:no_answer"}, 3: {"called:accepted"}, 4: {"filled"}, 5: {"filled"}},
			wantPhase:   PhaseAccepted,
		},
		{
			name: "cancelled: the people not reached say so", eco: eco(1, 1, 0), roster: Roster{Contacts: roster(3)},
			play: func(d *driver) {
				d.place()
				d.record(d.m.ApplyCancel(d.s, schemas.ECOCancelled{}, d.now))
			},
			wantPlaced:  []string{"r0p1c1"},
			wantEntries: map[int][]string{1: {"called:canceled"}, 2: {"not_reached"}, 3: {"not_reached"}},
			wantPhase:   PhaseCancelled,
		},
		{
			name: "a late 1 from a substitute is recorded as theirs", eco: eco(1, 1, 0),
			roster: Roster{Contacts: roster(2), Away: []Away{away(1, -time.Hour, time.Hour, sub)}},
			play: func(d *driver) {
				first := d.place()
				d.status(first, "no-answer", 0)
				d.gather(d.place(), "1")
				d.gather(first, "1")
				last := d.all[len(d.all)-1].Value.(schemas.CalloutAccepted)
				if !last.Late || last.Contact.Name != sub.Name {
					d.t.Errorf("late acceptance %+v, want the substitute's", last)
				}
			},
			wantPlaced:  []string{"r0p1c1", "r0p1c2"},
			wantEntries: map[int][]string{1: {"substituted", "called:no_answer"}, 2: {"called:accepted"}},
			wantPhase:   PhaseAccepted,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := newDriverWith(t, tt.eco, tt.roster)
			tt.play(d)
			if !slices.Equal(d.placed, tt.wantPlaced) {
				t.Errorf("placed %v, want %v", d.placed, tt.wantPlaced)
			}
			if got := d.entries(); fmt.Sprint(got) != fmt.Sprint(tt.wantEntries) {
				t.Errorf("entries %v, want %v", got, tt.wantEntries)
			}
			if d.s.Phase != tt.wantPhase {
				t.Errorf("phase %s, want %s", d.s.Phase, tt.wantPhase)
			}
			// Every roster person has an entry once the ring-down is over.
			if d.s.Final() {
				for _, c := range tt.roster.Contacts {
					if len(d.entries()[c.Position]) == 0 {
						t.Errorf("position %d has no entry", c.Position)
					}
				}
			}
		})
	}
}

func TestStartedCarriesTheRosterSnapshotInCallOrder(t *testing.T) {
	t.Parallel()
	d := newDriverWith(t, eco(1, 1, 0), Roster{Contacts: roster(3), Rotation: "after_last_called", StartPosition: 3,
		Away: []Away{{Position: 1, From: t0, Until: t0.Add(time.Hour), Reason: "on_job", Substitute: sub}}})
	st := d.all[0].Value.(schemas.CalloutStarted)
	var order []string
	for _, e := range st.Roster {
		order = append(order, fmt.Sprint(e.Position))
	}
	if strings.Join(order, ",") != "3,1,2" || st.Rotation == nil || st.Rotation.Mode != "after_last_called" || st.Rotation.StartPosition != 3 {
		t.Errorf("snapshot order %v rotation %+v, want 3,1,2 from position 3", order, st.Rotation)
	}
	if w := st.Roster[1].Unavailable; len(w) != 1 || w[0].Substitute == nil || w[0].Reason != "on_job" {
		t.Errorf("position 1's windows in the snapshot: %+v", w)
	}
	fixed := newDriverWith(t, eco(1, 1, 0), Roster{Contacts: roster(2)}).all[0].Value.(schemas.CalloutStarted)
	if fixed.Rotation == nil || fixed.Rotation.Mode != "fixed" || fixed.Rotation.StartPosition != 0 {
		t.Errorf("fixed roster's rotation %+v", fixed.Rotation)
	}
}

func TestAStateFromBeforeEntriesClaimsNoOneWasNotReached(t *testing.T) {
	t.Parallel()
	d := newDriverWith(t, eco(1, 1, 0), Roster{Contacts: roster(3)})
	d.s.Reached = nil // as a state written by the previous release restores
	d.gather(d.place(), "1")
	if sk := d.skips(); len(sk) != 0 || d.s.Phase != PhaseAccepted {
		t.Errorf("phase %s, skip entries %+v: want accepted and none (who had a turn is unknown)", d.s.Phase, sk)
	}
}
