package twiliosim_test

import (
	"testing"
	"time"

	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/internal/twiliosim"
)

func TestCallbackFaults(t *testing.T) {
	const number = "+15557770001"
	accept := twiliosim.AnswerAndPress{After: time.Second, Digit: "1"}

	t.Run("duplicate sends every callback twice", func(t *testing.T) {
		e := newEnv(t, twiliosim.Config{TimeScale: fast, Script: twiliosim.Script{number: accept},
			NumberFaults: map[string]twiliosim.Faults{number: {Duplicate: true}}}, nil)
		call, err := e.tw.CreateCall(ctxT(t), e.request(subA, number))
		if err != nil {
			t.Fatal(err)
		}
		hs := e.rc.waitFor(t, "/status", call.SID, func(hs []hit) bool { return len(hs) == 8 })
		want := []string{"0", "0", "1", "1", "2", "2", "3", "3"}
		if got := field(hs, "SequenceNumber"); !equal(got, want) {
			t.Fatalf("sequence %v, want %v", got, want)
		}
		for i := 0; i < len(hs); i += 2 {
			if hs[i].Idempotency == "" || hs[i].Idempotency != hs[i+1].Idempotency || hs[i].Signature != hs[i+1].Signature {
				t.Fatalf("duplicate %d differs: %q vs %q", i/2, hs[i].Idempotency, hs[i+1].Idempotency)
			}
		}
		allSigned(t, hs, call)
	})

	t.Run("out of order sends completed before answered", func(t *testing.T) {
		e := newEnv(t, twiliosim.Config{TimeScale: fast, Script: twiliosim.Script{number: accept},
			Faults: twiliosim.Faults{OutOfOrder: true}}, nil)
		call, err := e.tw.CreateCall(ctxT(t), e.request(subA, number))
		if err != nil {
			t.Fatal(err)
		}
		hs := e.rc.waitFor(t, "/status", call.SID, func(hs []hit) bool { return len(hs) == 4 })
		if got, want := statuses(hs), []string{"initiated", "completed", "ringing", "in-progress"}; !equal(got, want) {
			t.Fatalf("arrival %v, want %v", got, want)
		}
		if got, want := field(hs, "SequenceNumber"), []string{"0", "3", "1", "2"}; !equal(got, want) {
			t.Fatalf("sequence numbers %v, want %v (ordering by them restores the truth)", got, want)
		}
		allSigned(t, hs, call)
	})

	t.Run("lost drops callbacks but the API tells the truth", func(t *testing.T) {
		e := newEnv(t, twiliosim.Config{TimeScale: fast, Script: twiliosim.Script{number: accept},
			Faults: twiliosim.Faults{Lost: true}}, nil)
		ctx := ctxT(t)
		call, err := e.tw.CreateCall(ctx, e.request(subA, number))
		if err != nil {
			t.Fatal(err)
		}
		rec, err := e.sim.AwaitCall(ctx, call.SID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.tw.FetchCall(ctx, subA, call.SID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != twilio.StatusCompleted || got.Duration <= 0 {
			t.Fatalf("FetchCall %+v, want completed with a duration", got)
		}
		if err := e.sim.Close(); err != nil { // waits for every webhook in flight
			t.Fatal(err)
		}
		if hs := e.rc.hitsFor("/status", call.SID); len(hs) != 0 {
			t.Fatalf("%d status callbacks arrived, want none", len(hs))
		}
		if g := e.rc.hitsFor("/gather", call.SID); len(g) != 1 {
			t.Fatalf("gather result lost too: %d hits", len(g))
		}
		if len(rec.Callbacks) != 4 {
			t.Fatalf("records %+v", rec.Callbacks)
		}
		for _, cb := range rec.Callbacks {
			if !cb.Lost {
				t.Fatalf("callback %+v not marked lost", cb)
			}
		}
	})

	t.Run("lost completed only leaves the call for reconciliation", func(t *testing.T) {
		e := newEnv(t, twiliosim.Config{TimeScale: fast, Script: twiliosim.Script{number: twiliosim.NoAnswer{}},
			NumberFaults: map[string]twiliosim.Faults{number: {LostEvents: []string{"completed"}}}}, nil)
		ctx := ctxT(t)
		call, err := e.tw.CreateCall(ctx, e.request(subA, number))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.sim.AwaitCall(ctx, call.SID); err != nil {
			t.Fatal(err)
		}
		got, err := e.tw.FetchCall(ctx, subA, call.SID)
		if err != nil || got.Status != twilio.StatusNoAnswer {
			t.Fatalf("FetchCall %+v, %v", got, err)
		}
		_ = e.sim.Close()
		if got := statuses(e.rc.hitsFor("/status", call.SID)); !equal(got, []string{"initiated", "ringing"}) {
			t.Fatalf("arrived %v", got)
		}
	})

	t.Run("late delays each callback", func(t *testing.T) {
		const late = 2 * time.Second // 2 ms at TimeScale fast
		e := newEnv(t, twiliosim.Config{TimeScale: fast, Script: twiliosim.Script{number: twiliosim.Busy{}},
			Faults: twiliosim.Faults{Late: late}}, nil)
		ctx := ctxT(t)
		call, err := e.tw.CreateCall(ctx, e.request(subA, number))
		if err != nil {
			t.Fatal(err)
		}
		rec, err := e.sim.AwaitCall(ctx, call.SID)
		if err != nil {
			t.Fatal(err)
		}
		hs := e.rc.untilTerminal(t, call.SID)
		done := hs[len(hs)-1]
		if lag := done.At.Sub(rec.Ended); lag < time.Duration(float64(late)*fast) {
			t.Fatalf("completed arrived %v after the call ended, want >= %v", lag, time.Duration(float64(late)*fast))
		}
	})
}
