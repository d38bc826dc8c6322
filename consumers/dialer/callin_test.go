package dialer_test

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/osprey-strike/strike/consumers/sink"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/internal/twiliosim"
	"github.com/osprey-strike/strike/producers/callbacks"
	"github.com/osprey-strike/strike/schemas"
)

// northwindNumber is the seeded caller id of Northwind's subaccount: the number its contacts
// dial back.
const northwindNumber = "+15550100001"

// callIns makes the world take call-ins: the sink projects the call attempts the gateway reads
// to recognise a caller, and Northwind's Strike number sends its incoming calls to the
// gateway's inbound webhook (Strike-owned configuration).
func (e *env) callIns() {
	e.t.Helper()
	sk, err := sink.New(sink.Deps{Pool: e.db.PoolAs(e.t, pg.RoleSink), Validator: e.validator, Log: zerolog.Nop()},
		sink.Config{Brokers: e.kafka.Brokers, Security: e.kafka.Principal(e.t, "sink"), KafkaOpts: fastGroupOpts()[:3]})
	must(e.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = sk.Run(ctx) }()
	e.t.Cleanup(func() { cancel(); <-done })
	// The number exists at Twilio unconfigured; the webhooks component points it at itself
	// through the IncomingPhoneNumbers API, as in production.
	for _, n := range devdata.NOCs {
		must(e.t, e.sim.SetIncomingNumber(twiliosim.IncomingNumber{Account: n.TwilioSubaccountSID, Number: n.CallerID}))
	}
	must(e.t, e.hooks.SyncNumbers(context.Background(), callbacks.NOCSubaccounts{Pool: e.db.PoolAs(e.t, pg.RoleCallbacks)}, e.adapter, mainSID))
}

// awaitAttempt waits until the sink has projected a call attempt of eco to phone.
func (e *env) awaitAttempt(eco, phone string) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		must(e.t, e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM call_attempts WHERE eco_id = $1 AND contact_phone = $2`, eco, phone).Scan(&n))
		if n > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("no call attempt of %s to %s projected", eco, phone)
}

func callInsOf(t testing.TB, evs []event) []schemas.CallIn {
	return of[schemas.CallIn](t, evs, schemas.TypeCalloutCallIn)
}

// TestCallInScenarios: contacts who missed the call dial the NOC's Strike number back.
func TestCallInScenarios(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.startDialer("a", nil)
	e.callIns()

	t.Run("a contact who missed the call dials back and accepts; their place was held", func(t *testing.T) {
		t.Parallel()
		osp, ph := e.osp(3)
		id := e.created(osp, engagement(2, 0, 1200, 10), 1)
		e.awaitAttempt(id, ph[0])
		e.await(id, 30*time.Second, "the first call's end", func(evs []event) bool {
			return len(of[schemas.CallEnded](t, evs, schemas.TypeCalloutCallEnded)) >= 1
		})
		sid, err := e.sim.Dial(ph[0], northwindNumber, "11") // 1: this ECO in the menu; 1: accept
		must(t, err)
		evs := e.awaitFinal(id)
		a := acceptedBy(t, evs)
		if a.Contact.Phone != ph[0] || a.Contact.Position != 1 || a.CallSID != sid {
			t.Fatalf("accepted %+v on %s, want contact 1 on the call-in %s", a.Contact, a.CallSID, sid)
		}
		if ci := callInsOf(t, evs); len(ci) != 1 || ci[0].Outcome != schemas.CallInHeld || ci[0].CallSID != sid {
			t.Fatalf("call-in events %+v, want one hold", ci)
		}
		rec, err := e.sim.AwaitCall(context.Background(), sid)
		must(t, err)
		if rec.Pressed != "11" || rec.Status != twilio.StatusCompleted {
			t.Fatalf("call-in %+v", rec)
		}
	})
	t.Run("a caller who chooses an ECO and then says nothing gives the place back at once", func(t *testing.T) {
		t.Parallel()
		osp, ph := e.osp(3)
		id := e.created(osp, engagement(2, 0, 1200, 10), 1)
		e.awaitAttempt(id, ph[0])
		_, err := e.sim.Dial(ph[0], northwindNumber, "1") // chooses this ECO, no key at the job prompt
		must(t, err)
		evs := e.await(id, 30*time.Second, "the hold released", func(evs []event) bool {
			for _, c := range callInsOf(t, evs) {
				if c.Outcome == schemas.CallInReleased {
					return true
				}
			}
			return false
		})
		ci := callInsOf(t, evs)
		if len(ci) != 2 || ci[0].Outcome != schemas.CallInHeld || ci[1].Reason != schemas.CallInDeclined {
			t.Fatalf("call-in events %+v, want held then released because no key came (not left to expire)", ci)
		}
	})
	t.Run("a caller who was not called for any open ECO is told so and nothing is held", func(t *testing.T) {
		t.Parallel()
		osp, _ := e.osp(2)
		id := e.created(osp, engagement(1, 0, 1200, 10), 1)
		e.awaitPlaced(id, 1)
		sid, err := e.sim.Dial("+15559998877", northwindNumber, "1")
		must(t, err)
		rec, err := e.sim.AwaitCall(context.Background(), sid)
		must(t, err)
		if rec.Pressed != "" {
			t.Fatalf("a stranger was offered a menu: pressed %q", rec.Pressed)
		}
		evs := e.awaitFinal(id)
		if ci := callInsOf(t, evs); len(ci) != 0 {
			t.Fatalf("call-in events %+v for a stranger", ci)
		}
	})
	t.Run("a call-in racing a placed call's acceptance for the last place: exactly one wins", func(t *testing.T) {
		t.Parallel()
		// The placed call's 1 comes at about the time the caller presses 1, at several offsets,
		// so either may come first in the ECO's partition.
		winners := map[string]int{}
		for _, lag := range []time.Duration{0, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond} {
			osp, ph := e.osp(2)
			e.sim.SetBehaviour(ph[1], twiliosim.AnswerAndPress{After: 2 * time.Second, Digit: "1"})
			id := e.created(osp, engagement(1, 0, 1200, 10), 1)
			e.awaitAttempt(id, ph[0])
			e.awaitPlaced(id, 2) // ph[0] missed it; ph[1] is ringing
			time.Sleep(lag)
			sid, err := e.sim.Dial(ph[0], northwindNumber, "11")
			must(t, err)
			e.awaitFinal(id)
			rec, err := e.sim.AwaitCall(context.Background(), sid)
			must(t, err)
			// Wait until both answers are decided: the call-in's 1, when the caller got as far
			// as pressing it (the menu may already have said the callout was filled), counted or
			// late; and the placed call's end (accepted, or hung up as the call-in filled it).
			evs := e.await(id, 30*time.Second, "both answers decided", func(evs []event) bool {
				callInDecided := rec.Pressed != "11"
				for _, a := range of[schemas.CalloutAccepted](t, evs, schemas.TypeCalloutAccepted) {
					callInDecided = callInDecided || a.CallSID == sid
				}
				return callInDecided && len(of[schemas.CallEnded](t, evs, schemas.TypeCalloutCallEnded)) >= 2
			})
			in, _ := counted(t, evs)
			if in != 1 {
				t.Fatalf("lag %v: %d acceptances counted, want exactly one", lag, in)
			}
			var w schemas.CalloutAccepted
			for _, a := range of[schemas.CalloutAccepted](t, evs, schemas.TypeCalloutAccepted) {
				if !a.Late {
					w = a
				}
			}
			if w.CallSID == sid {
				winners["call-in"]++
			} else {
				winners["placed call"]++
			}
		}
		t.Logf("winners: %v", winners)
	})
}
