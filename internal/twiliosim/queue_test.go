package twiliosim_test

import (
	"context"
	"testing"
	"time"

	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/internal/twiliosim"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// TestCPSQueue: the simulator queues calls above an account's CPS and
// starts them later, never refusing them, and one account's queue does not
// hold up another's.
func TestCPSQueue(t *testing.T) {
	clock := twiliosim.NewFakeClock(t0)
	e := newEnv(t, twiliosim.Config{Clock: clock, CPS: 1}, nil)
	ctx := ctxT(t)
	var a []twilio.Call
	for i := 0; i < 3; i++ {
		c, err := e.tw.CreateCall(ctx, e.request(subA, "+15558880001"))
		if err != nil {
			t.Fatal(err)
		}
		a = append(a, c)
	}
	b, err := e.tw.CreateCall(ctx, e.request(subB, "+15558880002"))
	if err != nil {
		t.Fatal(err)
	}
	started := func(sid string) time.Time {
		r, _ := e.sim.Call(sid)
		return r.Started
	}
	if !started(a[0].SID).Equal(t0) || !started(b.SID).Equal(t0) {
		t.Fatalf("first calls of A and B started at %v and %v, want %v", started(a[0].SID), started(b.SID), t0)
	}
	if !started(a[1].SID).IsZero() || !started(a[2].SID).IsZero() {
		t.Fatal("calls above A's CPS started at once")
	}
	if got, _ := e.tw.FetchCall(ctx, subA, a[2].SID); got.Status != twilio.StatusQueued {
		t.Fatalf("queued call reports %q", got.Status)
	}
	clock.Advance(time.Second)
	if !started(a[1].SID).Equal(t0.Add(time.Second)) || !started(a[2].SID).IsZero() {
		t.Fatalf("after 1 s: A2 started %v, A3 started %v", started(a[1].SID), started(a[2].SID))
	}
	clock.Advance(time.Second)
	if !started(a[2].SID).Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("A3 started %v, want t0+2s", started(a[2].SID))
	}
	got, err := e.tw.FetchCall(ctx, subA, a[2].SID)
	if err != nil {
		t.Fatal(err)
	}
	if got.QueueTime != 2*time.Second {
		t.Fatalf("queue_time %v, want 2s", got.QueueTime)
	}
}

// TestNoAnswerTimeoutOnFakeClock: a call rings exactly its Timeout.
func TestNoAnswerTimeoutOnFakeClock(t *testing.T) {
	clock := twiliosim.NewFakeClock(t0)
	e := newEnv(t, twiliosim.Config{Clock: clock}, nil)
	ctx := ctxT(t)
	req := e.request(subA, "+15558880003")
	req.StatusCallbackURL = "" // only timers drive this call
	call, err := e.tw.CreateCall(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	status := func() string {
		r, _ := e.sim.Call(call.SID)
		return r.Status
	}
	clock.Advance(twiliosim.DefaultDialDelay)
	if s := status(); s != twilio.StatusRinging {
		t.Fatalf("after dialing: %s", s)
	}
	clock.Advance(25*time.Second - time.Nanosecond)
	if s := status(); s != twilio.StatusRinging {
		t.Fatalf("just before the timeout: %s", s)
	}
	clock.Advance(time.Nanosecond)
	rec, err := e.sim.AwaitCall(ctx, call.SID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != twilio.StatusNoAnswer || !rec.Ended.Equal(t0.Add(twiliosim.DefaultDialDelay+25*time.Second)) {
		t.Fatalf("ended %s at %v", rec.Status, rec.Ended)
	}
}

// TestAcceptOnFakeClock walks an accepted call through virtual time,
// waiting for the simulator to schedule each step (the TwiML fetch and the
// gather post are real HTTP) instead of sleeping.
func TestAcceptOnFakeClock(t *testing.T) {
	clock := twiliosim.NewFakeClock(t0)
	const number = "+15558880004"
	e := newEnv(t, twiliosim.Config{Clock: clock, Script: twiliosim.Script{number: twiliosim.AnswerAndPress{After: 4 * time.Second, Digit: "1"}}}, nil)
	ctx := ctxT(t)
	call, err := e.tw.CreateCall(ctx, e.request(subA, number))
	if err != nil {
		t.Fatal(err)
	}
	step := func(d time.Duration) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := clock.WaitForTimers(wctx, 1); err != nil {
			t.Fatal("simulator scheduled nothing:", err)
		}
		clock.Advance(d)
	}
	step(twiliosim.DefaultDialDelay)   // ringing
	step(4 * time.Second)              // answered; TwiML fetched over HTTP, then the key press is scheduled
	step(twiliosim.DefaultKeyDelay)    // 1 pressed; gather posted, the answer (Say) schedules the hang-up
	step(twiliosim.DefaultSayDuration) // hang-up
	rec, err := e.sim.AwaitCall(ctx, call.SID)
	if err != nil {
		t.Fatal(err)
	}
	want := t0.Add(twiliosim.DefaultDialDelay + 4*time.Second + twiliosim.DefaultKeyDelay + twiliosim.DefaultSayDuration)
	if rec.Status != twilio.StatusCompleted || rec.Pressed != "1" || !rec.Ended.Equal(want) {
		t.Fatalf("ended %s pressed %q at %v, want completed/1 at %v", rec.Status, rec.Pressed, rec.Ended, want)
	}
	hs := e.rc.untilTerminal(t, call.SID)
	if last := hs[len(hs)-1].Form.Get("CallDuration"); last != "3" {
		t.Fatalf("CallDuration %s, want 3 (key 2 s + say 1 s)", last)
	}
}
