package ringdown

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osprey-strike/strike/internal/status"
	"github.com/osprey-strike/strike/schemas"
)

type links map[string]bool

func (l links) LinkActive(_, osp string) (bool, error) { return l[osp], nil }

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

var testRules = Rules{RingDefault: 25 * time.Second, ReconcileMargin: 15 * time.Second, AnswerGrace: 90 * time.Second,
	PlaceRetry: 10 * time.Second, Retention: time.Hour, ConfirmWait: 5 * time.Second}

func roster(n int) []schemas.Contact {
	var r []schemas.Contact
	for i := 1; i <= n; i++ {
		r = append(r, schemas.Contact{Position: i, Name: fmt.Sprint("p", i), Phone: fmt.Sprintf("+1555010100%d", i)})
	}
	return r
}

func eco(people, loops, retries int, failover ...string) schemas.ECOCreated {
	return schemas.ECOCreated{ECOID: "11111111-1111-4111-8111-111111111111", RequestID: "r", JobNumber: "ACME-1",
		NOCTenantID: "noc-a", OSPTenantID: "osp-a", Region: "metro", PeopleNeeded: people,
		Engagement: schemas.Engagement{LoopCount: loops, RetryAfterSeconds: 1200, MaxRetries: retries,
			FailoverOSPIDs: failover, RingDurationSeconds: 20}}
}

// driver plays a scenario against the machine and keeps a log of what it did, so a table row
// can assert the exact call sequence and event types.
type driver struct {
	t      *testing.T
	m      Machine
	s      *State
	now    time.Time
	placed []string // "r0p1c2" per CmdPlace
	ended  []string // "c2:no_answer"
	events []string
	all    []Event // every event value, in order
	cmds   []Command
	out    Output
	sids   map[string]string
	seq    map[string]int
	ctl    int // controls sent (control_test.go)
	lates  int // late acceptances emitted
}

func newDriver(t *testing.T, e schemas.ECOCreated, r []schemas.Contact, l links) *driver {
	d := &driver{t: t, m: Machine{Rules: testRules, Env: l}, now: t0, sids: map[string]string{}, seq: map[string]int{}}
	s, out, err := d.m.Start(e, r, TwilioContext{SubaccountSID: "AC1", CallerID: "+15550100001"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	d.s = s
	d.record(out)
	return d
}

func (d *driver) record(out Output) {
	d.out = out
	for _, c := range out.Commands {
		d.cmds = append(d.cmds, c)
		if c.Kind == CmdPlace {
			d.placed = append(d.placed, fmt.Sprintf("r%dp%dc%d", c.Call.Round, c.Call.Pass, c.Call.Contact.Position))
		}
	}
	d.all = append(d.all, out.Events...)
	for _, e := range out.Events {
		d.events = append(d.events, strings.TrimSuffix(strings.TrimPrefix(e.Type, "strike.callout."), ".v1"))
		if ce, ok := e.Value.(schemas.CallEnded); ok {
			d.ended = append(d.ended, fmt.Sprintf("c%d:%s", ce.Contact.Position, ce.Result))
		}
		if a, ok := e.Value.(schemas.CalloutAccepted); ok && a.Late {
			d.lates++
		}
	}
	// Every state must survive its JSON round trip (it is what a new owner restores).
	raw, err := json.Marshal(d.s)
	if err != nil {
		d.t.Fatal(err)
	}
	var back State
	if err := json.Unmarshal(raw, &back); err != nil {
		d.t.Fatal(err)
	}
	d.s = &back
}

func (d *driver) live() Call {
	d.t.Helper()
	if len(d.s.Calls) == 0 {
		d.t.Fatalf("no live call; placed %v ended %v phase %s", d.placed, d.ended, d.s.Phase)
	}
	return d.s.Calls[len(d.s.Calls)-1]
}

// place answers the pending CreateCall of the newest live call.
func (d *driver) place() string {
	c := d.live()
	sid := fmt.Sprintf("CA%032d", len(d.sids)+1)
	d.sids[c.ID] = sid
	d.apply(d.m.ApplyPlaced(d.s, Placed{CallID: c.ID, SID: sid}, d.now))
	return c.ID
}

func (d *driver) apply(out Output, err error) {
	d.t.Helper()
	if err != nil {
		d.t.Fatal(err)
	}
	d.record(out)
}

func (d *driver) status(callID, status string, sip int) {
	seq := d.seq[callID]
	d.seq[callID]++
	d.statusSeq(callID, status, sip, seq)
}

func (d *driver) statusSeq(callID, status string, sip, seq int) {
	d.now = d.now.Add(time.Second)
	d.apply(d.m.ApplyCallback(d.s, schemas.TelephonyCallback{ECOID: d.s.ECO.ECOID, CallID: callID, Kind: schemas.CallbackStatus,
		CallSID: d.sids[callID], CallStatus: status, SequenceNumber: &seq, SIPResponseCode: sip}, d.now))
}

func (d *driver) gather(callID, digits string) {
	d.now = d.now.Add(time.Second)
	d.apply(d.m.ApplyCallback(d.s, schemas.TelephonyCallback{ECOID: d.s.ECO.ECOID, CallID: callID, Kind: schemas.CallbackGather,
		CallSID: d.sids[callID], Digits: digits}, d.now))
}

func (d *driver) noAnswer() {
	id := d.place()
	d.status(id, "initiated", 0)
	d.status(id, "ringing", 0)
	d.status(id, "no-answer", 487)
}

func (d *driver) tickTo(t time.Time) {
	d.now = t
	d.apply(d.m.Tick(d.s, t))
}

func TestMachine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		eco        schemas.ECOCreated
		roster     int
		links      links
		play       func(d *driver)
		wantPlaced []string
		wantEnded  []string
		wantPhase  string
		wantEvent  string // an event type that must have been emitted last
	}{
		{
			name: "accepted by the second contact in the second pass", eco: eco(1, 2, 0), roster: 3,
			play: func(d *driver) {
				d.noAnswer()
				d.noAnswer()
				d.noAnswer()
				d.noAnswer()
				id := d.place()
				d.status(id, "ringing", 0)
				d.status(id, "in-progress", 0)
				d.gather(id, "1")
				if a := d.s.Accepted; len(a) != 1 || a[0].Contact.Position != 2 || a[0].CallsMade != 5 {
					d.t.Errorf("acceptance %+v, want position 2 after 5 calls", a)
				}
			},
			wantPlaced: []string{"r0p1c1", "r0p1c2", "r0p1c3", "r0p2c1", "r0p2c2"},
			wantEnded:  []string{"c1:no_answer", "c2:no_answer", "c3:no_answer", "c1:no_answer", "c2:accepted"},
			wantPhase:  PhaseAccepted, wantEvent: "accepted",
		},
		{
			name: "decline moves on at once", eco: eco(1, 1, 0), roster: 2,
			play: func(d *driver) {
				id := d.place()
				d.status(id, "in-progress", 0)
				d.gather(id, "2")
				id = d.place()
				d.gather(id, "1")
			},
			wantPlaced: []string{"r0p1c1", "r0p1c2"},
			wantEnded:  []string{"c1:declined", "c2:accepted"},
			wantPhase:  PhaseAccepted,
		},
		{
			name: "voicemail is not acceptance; busy, failed and SIP 480 move on", eco: eco(1, 1, 0), roster: 4,
			play: func(d *driver) {
				id := d.place()
				d.status(id, "in-progress", 0)
				d.status(id, "completed", 200)
				id = d.place()
				d.status(id, "busy", 486)
				id = d.place()
				d.status(id, "failed", 500)
				id = d.place()
				d.status(id, "failed", 480)
			},
			wantPlaced: []string{"r0p1c1", "r0p1c2", "r0p1c3", "r0p1c4"},
			wantEnded:  []string{"c1:voicemail", "c2:busy", "c3:failed", "c4:no_answer", ""},
			wantPhase:  PhaseExhausted, wantEvent: "exhausted",
		},
		{
			name: "an invalid number fails that contact and moves on", eco: eco(1, 1, 0), roster: 2,
			play: func(d *driver) {
				d.apply(d.m.ApplyPlaced(d.s, Placed{CallID: d.live().ID, Err: PlaceInvalidNumber}, d.now))
				id := d.place()
				d.gather(id, "1")
			},
			wantPlaced: []string{"r0p1c1", "r0p1c2"},
			wantEnded:  []string{"c1:invalid_number", "c2:accepted"},
			wantPhase:  PhaseAccepted,
		},
		{
			name: "duplicated and out-of-order callbacks change nothing twice", eco: eco(1, 1, 0), roster: 2,
			play: func(d *driver) {
				id := d.place()
				d.statusSeq(id, "initiated", 0, 0)
				d.statusSeq(id, "initiated", 0, 0)
				d.statusSeq(id, "no-answer", 487, 2)
				d.statusSeq(id, "ringing", 0, 1)
				d.statusSeq(id, "no-answer", 487, 2)
				id = d.place()
				d.gather(id, "1")
				d.gather(id, "1") // duplicated gather: not a second (or late) acceptance
			},
			wantPlaced: []string{"r0p1c1", "r0p1c2"},
			wantEnded:  []string{"c1:no_answer", "c2:accepted"},
			wantPhase:  PhaseAccepted, wantEvent: "call.ended",
		},
		{
			name: "cancel while ringing hangs up the live call", eco: eco(1, 1, 0), roster: 2,
			play: func(d *driver) {
				id := d.place()
				d.status(id, "ringing", 0)
				d.record(d.m.ApplyCancel(d.s, schemas.ECOCancelled{}, d.now))
				if n := len(d.out.Commands); n != 1 || d.out.Commands[0].Kind != CmdEnd || d.out.Commands[0].Call.SID != d.sids[id] {
					d.t.Errorf("cancel commands %+v, want one EndCall of the live call", d.out.Commands)
				}
				d.status(id, "canceled", 487) // the hang-up's callback changes nothing
				d.gather(id, "1")             // pressed just before the hang-up: late, never counted
				if len(d.s.Accepted) != 0 {
					d.t.Error("an acceptance after the cancel counted")
				}
			},
			wantPlaced: []string{"r0p1c1"},
			wantEnded:  []string{"c1:canceled"},
			wantPhase:  PhaseCancelled, wantEvent: "accepted",
		},
		{
			name: "retry after 20 minutes then accepted", eco: eco(1, 1, 1), roster: 1,
			play: func(d *driver) {
				d.noAnswer()
				if d.s.Phase != PhaseWaitingRetry || !d.s.RetryAt.Equal(d.now.Add(20*time.Minute)) {
					d.t.Fatalf("phase %s retry at %v", d.s.Phase, d.s.RetryAt)
				}
				d.tickTo(d.s.RetryAt.Add(-time.Second))
				if len(d.placed) != 1 {
					d.t.Fatal("called before the retry time")
				}
				d.tickTo(d.s.RetryAt)
				d.gather(d.place(), "1")
			},
			wantPlaced: []string{"r0p1c1", "r1p1c1"},
			wantEnded:  []string{"c1:no_answer", "c1:accepted"},
			wantPhase:  PhaseAccepted,
		},
		{
			name: "failover skips a suspended link", eco: eco(1, 1, 0, "osp-b", "osp-c", "osp-d"), roster: 1,
			links: links{"osp-c": true, "osp-d": true},
			play: func(d *driver) {
				d.noAnswer()
				f := d.out.Failover
				if f == nil || f.OSPTenantID != "osp-c" || f.ParentECOID != d.s.ECO.ECOID ||
					f.RequestID != FailoverRequestID(d.s.ECO.ECOID, "osp-c") || !slices.Equal(f.Engagement.FailoverOSPIDs, []string{"osp-d"}) {
					d.t.Errorf("failover request %+v", f)
				}
			},
			wantPlaced: []string{"r0p1c1"},
			wantEnded:  []string{"c1:no_answer"},
			wantPhase:  PhaseFailedOver, wantEvent: "failed.over",
		},
		{
			name: "no active failover link: exhausted", eco: eco(1, 1, 0, "osp-b"), roster: 1, links: links{},
			play:       func(d *driver) { d.noAnswer() },
			wantPlaced: []string{"r0p1c1"}, wantEnded: []string{"c1:no_answer"},
			wantPhase: PhaseExhausted, wantEvent: "exhausted",
		},
		{
			name: "empty roster: exhausted at once without retry", eco: eco(1, 2, 3), roster: 0,
			play:      func(d *driver) {},
			wantPhase: PhaseExhausted, wantEvent: "exhausted",
		},
		{
			name: "empty roster: failover at once", eco: eco(1, 2, 3, "osp-b"), roster: 0, links: links{"osp-b": true},
			play:      func(d *driver) {},
			wantPhase: PhaseFailedOver, wantEvent: "failed.over",
		},
		{
			name: "two people needed: two live calls, the third contact after a no answer", eco: eco(2, 1, 0), roster: 3,
			play: func(d *driver) {
				if len(d.s.Calls) != 2 {
					d.t.Fatalf("%d live calls, want 2", len(d.s.Calls))
				}
				a, b := d.s.Calls[0].ID, d.s.Calls[1].ID
				d.apply(d.m.ApplyPlaced(d.s, Placed{CallID: a, SID: "CA" + strings.Repeat("a", 32)}, d.now))
				d.sids[a] = "CA" + strings.Repeat("a", 32)
				d.apply(d.m.ApplyPlaced(d.s, Placed{CallID: b, SID: "CA" + strings.Repeat("b", 32)}, d.now))
				d.sids[b] = "CA" + strings.Repeat("b", 32)
				d.gather(a, "1")
				if len(d.s.Calls) != 1 {
					d.t.Fatalf("%d live calls after one acceptance, want 1 (one person still needed)", len(d.s.Calls))
				}
				d.status(b, "no-answer", 487)
				d.gather(d.place(), "1")
			},
			wantPlaced: []string{"r0p1c1", "r0p1c2", "r0p1c3"},
			wantEnded:  []string{"c1:accepted", "c2:no_answer", "c3:accepted"},
			wantPhase:  PhaseAccepted,
		},
		{
			name: "lost callbacks: reconciled by fetch, stuck ringing hung up", eco: eco(1, 1, 0), roster: 2,
			play: func(d *driver) {
				id := d.place()
				d.tickTo(d.live().Deadline)
				if c := d.out.Commands; len(c) != 1 || c[0].Kind != CmdFetch {
					d.t.Fatalf("commands at the deadline %+v, want a fetch", c)
				}
				d.apply(d.m.ApplyFetched(d.s, Fetched{CallID: id, SID: d.sids[id], Status: "no-answer"}, d.now))
				id = d.place()
				d.tickTo(d.live().Deadline)
				d.apply(d.m.ApplyFetched(d.s, Fetched{CallID: id, SID: d.sids[id], Status: "ringing"}, d.now))
				if c := d.out.Commands; len(c) < 1 || c[0].Kind != CmdEnd {
					d.t.Errorf("stuck ringing call not hung up: %+v", c)
				}
			},
			wantPlaced: []string{"r0p1c1", "r0p1c2"},
			wantEnded:  []string{"c1:no_answer", "c2:no_answer"},
			wantPhase:  PhaseExhausted,
		},
		{
			name: "a Twilio account problem abandons the round and retries per policy; no number is blamed", eco: eco(1, 1, 1), roster: 2,
			play: func(d *driver) {
				d.apply(d.m.ApplyPlaced(d.s, Placed{CallID: d.live().ID, Err: PlaceAccount, Detail: "21215 geo permissions"}, d.now))
				if d.s.Phase != PhaseWaitingRetry {
					d.t.Fatalf("phase %s after an account problem, want %s", d.s.Phase, PhaseWaitingRetry)
				}
				d.tickTo(d.s.RetryAt)
				d.gather(d.place(), "1")
			},
			wantPlaced: []string{"r0p1c1", "r1p1c1"}, wantEnded: []string{"c1:error", "c1:accepted"},
			wantPhase: PhaseAccepted, wantEvent: "retry.scheduled",
		},
		{
			name: "a Twilio account problem with no retry left: exhausted, never spins", eco: eco(1, 2, 0), roster: 2,
			play: func(d *driver) {
				d.apply(d.m.ApplyPlaced(d.s, Placed{CallID: d.live().ID, Err: PlaceAccount}, d.now))
			},
			wantPlaced: []string{"r0p1c1"}, wantEnded: []string{"c1:error"},
			wantPhase: PhaseExhausted, wantEvent: "exhausted",
		},
		{
			name: "a lost CreateCall answer: the call found at Twilio is adopted, never placed twice", eco: eco(1, 1, 0), roster: 2,
			play: func(d *driver) {
				id := d.live().ID
				d.apply(d.m.ApplyPlaced(d.s, Placed{CallID: id, Err: PlaceUncertain}, d.now))
				d.tickTo(d.live().Deadline)
				if c := d.out.Commands; len(c) != 1 || c[0].Kind != CmdLookup {
					d.t.Fatalf("commands %+v, want a lookup before any second placement", c)
				}
				d.sids[id] = "CA" + strings.Repeat("f", 32)
				d.apply(d.m.ApplyFound(d.s, Found{CallID: id, Calls: []FoundCall{{SID: d.sids[id], Status: "ringing"}}}, d.now))
				d.gather(id, "1")
			},
			wantPlaced: []string{"r0p1c1"}, wantEnded: []string{"c1:accepted"},
			wantPhase: PhaseAccepted,
		},
		{
			name: "a lost CreateCall answer and nothing at Twilio: placed again", eco: eco(1, 1, 0), roster: 1,
			play: func(d *driver) {
				id := d.live().ID
				d.apply(d.m.ApplyPlaced(d.s, Placed{CallID: id, Err: PlaceUncertain}, d.now))
				d.tickTo(d.live().Deadline)
				d.apply(d.m.ApplyFound(d.s, Found{CallID: id}, d.now))
				d.gather(d.place(), "1")
			},
			wantPlaced: []string{"r0p1c1", "r0p1c1"}, wantEnded: []string{"c1:accepted"},
			wantPhase: PhaseAccepted,
		},
		{
			name: "a lost CreateCall answer: a callback names the call before the lookup", eco: eco(1, 1, 0), roster: 1,
			play: func(d *driver) {
				id := d.live().ID
				d.apply(d.m.ApplyPlaced(d.s, Placed{CallID: id, Err: PlaceUncertain}, d.now))
				d.sids[id] = "CA" + strings.Repeat("f", 32)
				d.status(id, "ringing", 0)
				d.tickTo(d.now.Add(time.Minute))
				for _, c := range d.out.Commands {
					if c.Kind == CmdLookup || c.Kind == CmdPlace {
						d.t.Errorf("command %s after the callback named the call", c.Kind)
					}
				}
				d.gather(id, "1")
			},
			wantPlaced: []string{"r0p1c1"}, wantEnded: []string{"c1:accepted"},
			wantPhase: PhaseAccepted,
		},
		{
			name: "transient placement failure is retried after a pause with the same call id", eco: eco(1, 1, 0), roster: 1,
			play: func(d *driver) {
				d.apply(d.m.ApplyPlaced(d.s, Placed{CallID: d.live().ID, Err: PlaceTransient}, d.now))
				d.tickTo(d.live().Deadline)
				d.gather(d.place(), "1")
			},
			wantPlaced: []string{"r0p1c1", "r0p1c1"}, wantEnded: []string{"c1:accepted"},
			wantPhase: PhaseAccepted,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := newDriver(t, tt.eco, roster(tt.roster), tt.links)
			tt.play(d)
			if !slices.Equal(d.placed, tt.wantPlaced) {
				t.Errorf("placed %v, want %v", d.placed, tt.wantPlaced)
			}
			want := slices.DeleteFunc(slices.Clone(tt.wantEnded), func(s string) bool { return s == "" })
			if !slices.Equal(d.ended, want) {
				t.Errorf("ended %v, want %v", d.ended, want)
			}
			if d.s.Phase != tt.wantPhase {
				t.Errorf("phase %s, want %s (events %v)", d.s.Phase, tt.wantPhase, d.events)
			}
			if tt.wantEvent != "" && !slices.Contains(d.events, tt.wantEvent) {
				t.Errorf("events %v, want %s among them", d.events, tt.wantEvent)
			}
			if d.s.Final() && len(d.s.Calls) != 0 {
				t.Errorf("final phase with live calls %+v", d.s.Calls)
			}
			for _, c := range d.cmds {
				if c.Kind == CmdPlace && d.s.Phase == PhaseAccepted && c.Call.IntentAt.After(d.s.FinishedAt) {
					t.Errorf("a call was placed after the ECO was filled")
				}
			}
		})
	}
}

func TestMachineRetiredAfterRetention(t *testing.T) {
	t.Parallel()
	d := newDriver(t, eco(1, 1, 0), roster(1), nil)
	d.gather(d.place(), "1")
	next := d.s.NextDeadline(testRules)
	if !next.Equal(d.s.FinishedAt.Add(time.Hour)) {
		t.Fatalf("next deadline %v, want finished + retention", next)
	}
	d.tickTo(next)
	if !d.out.Retire {
		t.Error("not retired after the retention")
	}
	if m := MarkerOf(d.s); !m.Retired || m.Phase != PhaseAccepted {
		t.Errorf("marker %+v", m)
	}
}

// A new owner never places again what the old owner may have placed: the attempt without a SID
// is confirmed first (its callbacks, then the Calls list); the placed one is left alone.
func TestMachineResumeConfirmsBeforePlacingAgain(t *testing.T) {
	t.Parallel()
	d := newDriver(t, eco(2, 1, 0), roster(3), nil)
	d.apply(d.m.ApplyPlaced(d.s, Placed{CallID: d.s.Calls[0].ID, SID: "CA" + strings.Repeat("a", 32)}, d.now))
	if !d.m.Resume(d.s, d.now) {
		t.Fatal("resume changed nothing")
	}
	if c := d.s.Calls[1]; !c.Unsure || c.Placing || !c.Deadline.Equal(d.now.Add(testRules.ConfirmWait)) {
		t.Fatalf("unplaced attempt after resume %+v, want unsure until the confirm wait", c)
	}
	if c := d.s.Calls[0]; c.Unsure {
		t.Error("the placed call became unsure")
	}
	d.tickTo(d.s.Calls[1].Deadline)
	if c := d.out.Commands; len(c) != 1 || c[0].Kind != CmdLookup || c[0].Call.Contact.Position != 2 {
		t.Fatalf("commands %+v, want a lookup of the unplaced attempt", c)
	}
	// The old owner's call exists and so does a re-placement: the second is hung up.
	first, dup := "CA"+strings.Repeat("c", 32), "CA"+strings.Repeat("d", 32)
	id := d.s.Calls[1].ID
	d.apply(d.m.ApplyFound(d.s, Found{CallID: id, Calls: []FoundCall{{SID: first, Status: "ringing"}}}, d.now))
	d.apply(d.m.ApplyPlaced(d.s, Placed{CallID: id, SID: dup}, d.now))
	if c := d.out.Commands; len(c) != 1 || c[0].Kind != CmdEnd || c[0].Call.SID != dup {
		t.Errorf("commands %+v, want the duplicate hung up", c)
	}
	if d.s.Calls[1].SID != first {
		t.Errorf("kept SID %s, want the first %s", d.s.Calls[1].SID, first)
	}
}

// Under a CPS storm the queue orders placements by the ECO's priority, then first calls.
func TestMachinePlacementPriority(t *testing.T) {
	t.Parallel()
	e := eco(1, 2, 0)
	e.Priority = "P2"
	d := newDriver(t, e, roster(2), nil)
	if c := d.cmds[0]; c.Priority != 2 || !c.First {
		t.Errorf("first placement %+v, want priority 2 and first", c)
	}
	d.noAnswer()
	if c := d.cmds[len(d.cmds)-1]; c.Kind != CmdPlace || c.First {
		t.Errorf("second placement %+v, want not first", c)
	}
}

func TestCallIDPosition(t *testing.T) {
	t.Parallel()
	if got := CallIDPosition(CallID("e", 1, 2, 13)); got != 13 {
		t.Errorf("position %d, want 13", got)
	}
}

// A re-placement raced the original call: both rang. The person answers the second call and
// presses 1: the attempt is accepted once, and the other call is hung up.
func TestMachineSecondSIDOfOneAttempt(t *testing.T) {
	t.Parallel()
	d := newDriver(t, eco(1, 1, 0), roster(2), nil)
	id := d.place()
	second := "CA" + strings.Repeat("e", 32)
	d.apply(d.m.ApplyCallback(d.s, schemas.TelephonyCallback{CallID: id, Kind: schemas.CallbackStatus, CallSID: second, CallStatus: "ringing"}, d.now))
	if c := d.out.Commands; len(c) != 1 || c[0].Kind != CmdEnd || c[0].Call.SID != second {
		t.Errorf("commands %+v, want the second call hung up", c)
	}
	d.apply(d.m.ApplyCallback(d.s, schemas.TelephonyCallback{CallID: id, Kind: schemas.CallbackGather, CallSID: second, Digits: "1"}, d.now))
	if len(d.s.Accepted) != 1 || d.s.Phase != PhaseAccepted {
		t.Fatalf("a 1 on the second call of the attempt did not count: accepted %+v phase %s", d.s.Accepted, d.s.Phase)
	}
	d.apply(d.m.ApplyCallback(d.s, schemas.TelephonyCallback{CallID: id, Kind: schemas.CallbackGather, CallSID: d.sids[id], Digits: "1"}, d.now))
	if len(d.s.Accepted) != 1 {
		t.Errorf("a 1 on each call of one attempt counted %d times", len(d.s.Accepted))
	}
}

// A replica paused or killed in the middle of a CreateCall can place that call after another
// replica finished the attempt: its first callback gets it hung up, and its 1 does not count.
func TestMachineStrayCallOfAnEndedAttemptIsHungUp(t *testing.T) {
	t.Parallel()
	d := newDriver(t, eco(1, 1, 0), roster(1), nil)
	id := d.place()
	d.gather(id, "1")
	stray := "CA" + strings.Repeat("9", 32)
	for range 2 {
		d.apply(d.m.ApplyCallback(d.s, schemas.TelephonyCallback{CallID: id, Kind: schemas.CallbackStatus, CallSID: stray, CallStatus: "ringing"}, d.now))
	}
	var ends int
	for _, c := range d.cmds {
		if c.Kind == CmdEnd && c.Call.SID == stray {
			ends++
		}
	}
	if ends != 1 {
		t.Errorf("stray call hung up %d times, want once", ends)
	}
	d.apply(d.m.ApplyCallback(d.s, schemas.TelephonyCallback{CallID: id, Kind: schemas.CallbackGather, CallSID: stray, Digits: "1"}, d.now))
	if len(d.s.Accepted) != 1 {
		t.Errorf("%d acceptances, want the one before the stray call", len(d.s.Accepted))
	}
}

// strike status counts live ring-downs from the state topic with its own copy of these names.
func TestLivePhasesAsStatusReadsThem(t *testing.T) {
	t.Parallel()
	if status.PhaseRinging != PhaseRinging || status.PhaseWaitingRetry != PhaseWaitingRetry {
		t.Errorf("internal/status reads live phases %q and %q; the dialer writes %q and %q",
			status.PhaseRinging, status.PhaseWaitingRetry, PhaseRinging, PhaseWaitingRetry)
	}
}
