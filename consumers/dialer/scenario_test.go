package dialer_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/dialer/ringdown"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/internal/twiliosim"
	"github.com/osprey-strike/strike/schemas"
)

func accept(after time.Duration) twiliosim.Behaviour {
	return twiliosim.AnswerAndPress{After: after, Digit: "1"}
}

// results lists each CallEnded's result in order.
func results(t testing.TB, evs []event) []string {
	var out []string
	for _, ce := range of[schemas.CallEnded](t, evs, schemas.TypeCalloutCallEnded) {
		out = append(out, ce.Result)
	}
	return out
}

func assertSeq(t *testing.T, e *env, phones []string, want ...int) {
	t.Helper()
	if got := e.callSequence(phones); !slices.Equal(got, want) {
		t.Errorf("calls to roster positions %v, want %v", got, want)
	}
}

func acceptedBy(t *testing.T, evs []event) schemas.CalloutAccepted {
	t.Helper()
	as := of[schemas.CalloutAccepted](t, evs, schemas.TypeCalloutAccepted)
	if len(as) != 1 || as[0].Late {
		t.Fatalf("acceptances %+v, want exactly one in time", as)
	}
	return as[0]
}

// TestScenarios runs the independent ring-down scenarios in one world (one broker, database,
// simulator, gateway and dialer), each with its own OSP, roster and phone numbers.
func TestScenarios(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.startECOProcessor()
	e.startDialer("a", nil)
	eng := engagement(2, 0, 1200, 10)

	t.Run("accepted by the second contact in the second pass", func(t *testing.T) {
		t.Parallel()
		osp, ph := e.osp(3)
		e.sim.SetBehaviour(ph[1], twiliosim.Sequence{twiliosim.NoAnswer{}, accept(3 * time.Second)})
		id := e.created(osp, eng, 1)
		evs := e.awaitFinal(id)
		a := acceptedBy(t, evs)
		if a.Contact.Position != 2 || a.CallsMade != 5 {
			t.Errorf("accepted by position %d after %d calls, want 2 after 5", a.Contact.Position, a.CallsMade)
		}
		assertSeq(t, e, ph, 1, 2, 3, 1, 2)
		placed := of[schemas.CallPlaced](t, evs, schemas.TypeCalloutCallPlaced)
		var passes []int
		for _, p := range placed {
			passes = append(passes, p.Pass)
		}
		if !slices.Equal(passes, []int{1, 1, 1, 2, 2}) {
			t.Errorf("passes %v", passes)
		}
		if got := results(t, evs); !slices.Equal(got, []string{"no_answer", "no_answer", "no_answer", "no_answer", "accepted"}) {
			t.Errorf("results %v", got)
		}
	})

	t.Run("decline moves on to the next contact at once", func(t *testing.T) {
		t.Parallel()
		osp, ph := e.osp(2)
		e.sim.SetBehaviour(ph[0], twiliosim.AnswerAndPress{After: 2 * time.Second, Digit: "2"})
		e.sim.SetBehaviour(ph[1], accept(2*time.Second))
		evs := e.awaitFinal(e.created(osp, eng, 1))
		if d := of[schemas.CalloutDeclined](t, evs, schemas.TypeCalloutDeclined); len(d) != 1 || d[0].Contact.Position != 1 {
			t.Errorf("declines %+v", d)
		}
		if acceptedBy(t, evs).Contact.Position != 2 {
			t.Error("not accepted by the second contact")
		}
		assertSeq(t, e, ph, 1, 2)
	})

	t.Run("voicemail is not an acceptance", func(t *testing.T) {
		t.Parallel()
		osp, ph := e.osp(2)
		e.sim.SetBehaviour(ph[0], twiliosim.AnswerNoKey{After: 2 * time.Second})
		e.sim.SetBehaviour(ph[1], accept(2*time.Second))
		evs := e.awaitFinal(e.created(osp, eng, 1))
		if got := results(t, evs); !slices.Equal(got, []string{"voicemail", "accepted"}) {
			t.Errorf("results %v", got)
		}
		assertSeq(t, e, ph, 1, 2)
	})

	t.Run("busy moves on", func(t *testing.T) {
		t.Parallel()
		osp, ph := e.osp(2)
		e.sim.SetBehaviour(ph[0], twiliosim.Busy{})
		e.sim.SetBehaviour(ph[1], accept(time.Second))
		evs := e.awaitFinal(e.created(osp, eng, 1))
		if got := results(t, evs); !slices.Equal(got, []string{"busy", "accepted"}) {
			t.Errorf("results %v", got)
		}
	})

	t.Run("failed number moves on; SIP 480 counts as no answer", func(t *testing.T) {
		t.Parallel()
		osp, ph := e.osp(3)
		e.sim.SetBehaviour(ph[0], twiliosim.Failed{SIPCode: 404})
		e.sim.SetBehaviour(ph[1], twiliosim.Failed{SIPCode: 480})
		e.sim.SetBehaviour(ph[2], accept(time.Second))
		evs := e.awaitFinal(e.created(osp, eng, 1))
		if got := results(t, evs); !slices.Equal(got, []string{"failed", "no_answer", "accepted"}) {
			t.Errorf("results %v", got)
		}
	})

	t.Run("lost callbacks are reconciled from the Calls API", func(t *testing.T) {
		t.Parallel()
		osp, ph := e.osp(2)
		e.sim.SetNumberFaults(ph[0], twiliosim.Faults{Lost: true})
		e.sim.SetBehaviour(ph[1], accept(time.Second))
		evs := e.awaitFinal(e.created(osp, eng, 1))
		ended := of[schemas.CallEnded](t, evs, schemas.TypeCalloutCallEnded)
		if len(ended) != 2 || ended[0].Result != schemas.CallNoAnswer || !strings.Contains(ended[0].Detail, "reconciled") {
			t.Errorf("call ends %+v, want the first reconciled as no answer", ended)
		}
		assertSeq(t, e, ph, 1, 2)
	})

	t.Run("duplicated and out-of-order callbacks change nothing twice", func(t *testing.T) {
		t.Parallel()
		osp, ph := e.osp(2)
		e.sim.SetNumberFaults(ph[0], twiliosim.Faults{Duplicate: true, OutOfOrder: true})
		e.sim.SetNumberFaults(ph[1], twiliosim.Faults{Duplicate: true})
		e.sim.SetBehaviour(ph[1], accept(time.Second))
		evs := e.awaitFinal(e.created(osp, eng, 1))
		if got := results(t, evs); !slices.Equal(got, []string{"no_answer", "accepted"}) {
			t.Errorf("results %v", got)
		}
		if n := len(of[schemas.CallPlaced](t, evs, schemas.TypeCalloutCallPlaced)); n != 2 {
			t.Errorf("%d CallPlaced, want 2", n)
		}
		acceptedBy(t, evs)
		assertSeq(t, e, ph, 1, 2)
	})

	t.Run("cancel while ringing hangs up the live call", func(t *testing.T) {
		t.Parallel()
		osp, ph := e.osp(2)
		id := e.created(osp, engagement(2, 0, 1200, 60), 1)
		e.await(id, 30*time.Second, "first call placed", func(evs []event) bool {
			return len(of[schemas.CallPlaced](t, evs, schemas.TypeCalloutCallPlaced)) == 1
		})
		e.cancel(id, osp)
		evs := e.awaitFinal(id)
		if got := results(t, evs); !slices.Equal(got, []string{"canceled"}) {
			t.Errorf("results %v", got)
		}
		sid := of[schemas.CallPlaced](t, evs, schemas.TypeCalloutCallPlaced)[0].CallSID
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rec, err := e.sim.AwaitCall(ctx, sid)
		must(t, err)
		if rec.Status != "canceled" && rec.Status != "completed" {
			t.Errorf("the live call ended %s, want hung up", rec.Status)
		}
		assertSeq(t, e, ph, 1)
	})

	t.Run("failover to the next OSP with its job number", func(t *testing.T) {
		t.Parallel()
		a, _ := e.osp(1)
		b, phB := e.osp(1)
		e.sim.SetBehaviour(phB[0], accept(time.Second))
		id := e.created(a, engagement(1, 0, 1200, 10, b), 1)
		evs := e.awaitFinal(id)
		fo := of[schemas.FailedOver](t, evs, schemas.TypeCalloutFailedOver)
		if len(fo) != 1 || fo[0].ToOSPTenantID != b || fo[0].NewRequestID != ringdown.FailoverRequestID(id, b) {
			t.Fatalf("failovers %+v", fo)
		}
		child := e.awaitFinal(fo[0].NewECOID)
		started := of[schemas.CalloutStarted](t, child, schemas.TypeCalloutStarted)
		if len(started) == 0 || !strings.HasPrefix(started[0].JobNumber, "T") || started[0].OSPTenantID != b ||
			!strings.Contains(started[0].JobNumber, "-NWND-") {
			t.Errorf("child ring-down %+v, want OSP %s's job number", started, b)
		}
		acceptedBy(t, child)
	})

	t.Run("failover skips a suspended link", func(t *testing.T) {
		t.Parallel()
		a, _ := e.osp(1)
		susp, _ := e.osp(1)
		b, _ := e.osp(1)
		id := e.created(a, engagement(1, 0, 1200, 10, susp, b), 1)
		must(t, e.tenancy.UpsertLink(context.Background(), tenancy.Link{NOCTenantID: devdata.NOCNorthwind, OSPTenantID: susp, Status: tenancy.LinkSuspended}))
		fo := of[schemas.FailedOver](t, e.awaitFinal(id), schemas.TypeCalloutFailedOver)
		if len(fo) != 1 || fo[0].ToOSPTenantID != b {
			t.Errorf("failovers %+v, want one to %s", fo, b)
		}
	})

	t.Run("empty roster is exhausted at once", func(t *testing.T) {
		t.Parallel()
		osp, _ := e.osp(0)
		evs := e.awaitFinal(e.created(osp, engagement(2, 3, 1200, 10), 1))
		ex := of[schemas.CalloutExhausted](t, evs, schemas.TypeCalloutExhausted)
		if len(ex) != 1 || ex[0].Reason != schemas.ExhaustedEmptyRoster || ex[0].CallsMade != 0 {
			t.Errorf("exhausted %+v", ex)
		}
	})
}

// TestRetryAfterTwentyMinutesThenAccepted jumps virtual time over the retry-after.
func TestRetryAfterTwentyMinutesThenAccepted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.startDialer("a", nil)
	osp, ph := e.osp(1)
	e.sim.SetBehaviour(ph[0], twiliosim.Sequence{twiliosim.NoAnswer{}, accept(time.Second)})
	id := e.created(osp, engagement(1, 1, 1200, 10), 1)
	evs := e.await(id, 30*time.Second, "retry scheduled", func(evs []event) bool {
		return len(of[schemas.RetryScheduled](t, evs, schemas.TypeCalloutRetryScheduled)) == 1
	})
	rs := of[schemas.RetryScheduled](t, evs, schemas.TypeCalloutRetryScheduled)[0]
	if d := rs.RetryAt.Sub(rs.ScheduledAt); d != 20*time.Minute {
		t.Errorf("retry after %v, want 20m", d)
	}
	e.clock.Jump(20 * time.Minute)
	evs = e.awaitFinal(id)
	placed := of[schemas.CallPlaced](t, evs, schemas.TypeCalloutCallPlaced)
	if len(placed) != 2 || placed[1].Round != 1 || placed[1].PlacedAt.Before(rs.RetryAt) {
		t.Errorf("calls %+v, want the second in round 1 after %v", placed, rs.RetryAt)
	}
	acceptedBy(t, evs)
	assertSeq(t, e, ph, 1, 1)
}

// TestInvalidNumberFailsThatContact: Twilio refuses the number (21211); the next contact is
// called.
func TestInvalidNumberFailsThatContact(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	osp, ph := e.osp(2)
	e.sim.SetBehaviour(ph[1], accept(time.Second))
	e.sim.FailNext(1, 400, 21211)
	e.startDialer("a", nil)
	evs := e.awaitFinal(e.created(osp, engagement(1, 0, 1200, 10), 1))
	if got := results(t, evs); !slices.Equal(got, []string{"invalid_number", "accepted"}) {
		t.Errorf("results %v", got)
	}
	assertSeq(t, e, ph, 2)
}

// TestStormHigherPriorityFirstCallsFirst: more calls are due than the CPS limit allows. The
// first calls of P1 ECOs go before those of P2, and those before P3, whatever order the ECOs
// arrived in; within a priority the oldest goes first.
func TestStormHigherPriorityFirstCallsFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cps: 2})
	prio := map[string]string{} // phone -> priority
	var recs []*kgo.Record
	for i, p := range []string{"P3", "P3", "P2", "P3", "P1", "P2", "P1", "P3", "P1"} {
		osp, ph := e.osp(1)
		e.sim.SetBehaviour(ph[0], accept(time.Second))
		prio[ph[0]] = p
		ev := e.createdEvent(devdata.NOCNorthwind, osp)
		ev.Priority = p
		ev.Summary = fmt.Sprint("storm ", i)
		recs = append(recs, e.createdRecord(ev))
	}
	// All arrive before the dialer starts, so they are queued together.
	must(t, e.producer.ProduceSync(t.Context(), recs...).FirstErr())
	e.startDialer("a", nil)
	for _, r := range recs {
		e.awaitFinal(string(r.Key))
	}
	calls := e.sim.Calls()
	slices.SortFunc(calls, func(a, b twiliosim.CallRecord) int { return a.Created.Compare(b.Created) })
	var order []string
	for _, c := range calls {
		order = append(order, prio[c.To])
	}
	// The first call may leave before the rest are queued (the limiter's first token).
	rest := order[1:]
	if !slices.IsSorted(rest) {
		t.Errorf("first calls by priority in call order %v, want P1s, then P2s, then P3s (after the first)", order)
	}
}
