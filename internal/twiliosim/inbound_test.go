package twiliosim_test

import (
	"errors"
	"testing"

	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/internal/twiliosim"
)

func TestInboundCallRunsTheNumbersVoiceURLSignedWithItsAccountsToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{TimeScale: fast}, nil)
	if err := e.sim.SetIncomingNumber(twiliosim.IncomingNumber{Account: subA, Number: fromNOC,
		VoiceURL: e.rc.srv.URL + "/twiml", StatusCallback: e.rc.srv.URL + "/status"}); err != nil {
		t.Fatal(err)
	}
	caller := "+15550109001"
	sid, err := e.sim.Dial(caller, fromNOC, "1")
	if err != nil {
		t.Fatal(err)
	}
	voice := e.rc.waitFor(t, "/twiml", sid, func(hs []hit) bool { return len(hs) == 1 })[0]
	for k, want := range map[string]string{"From": caller, "To": fromNOC, "AccountSid": subA, "Direction": "inbound", "CallStatus": "ringing"} {
		if got := voice.Post.Get(k); got != want {
			t.Errorf("voice request %s = %q, want %q", k, got, want)
		}
	}
	if !voice.ValidSig {
		t.Error("voice request not signed with the subaccount's token")
	}
	g := e.rc.waitFor(t, "/gather", sid, func(hs []hit) bool { return len(hs) == 1 })[0]
	if g.Post.Get("Digits") != "1" || !g.ValidSig || g.Post.Get("Direction") != "inbound" {
		t.Errorf("gather: digits %q signed %v direction %q", g.Post.Get("Digits"), g.ValidSig, g.Post.Get("Direction"))
	}
	st := e.rc.untilTerminal(t, sid)
	if last := st[len(st)-1]; last.Post.Get("CallStatus") != "completed" || !last.ValidSig {
		t.Errorf("completed callback %+v", last.Post)
	}
	if rec, ok := e.sim.Call(sid); !ok || rec.From != caller || rec.To != fromNOC || rec.Pressed != "1" {
		t.Errorf("call record %+v", rec)
	}
}

func TestInboundCallRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{TimeScale: fast}, nil)
	if err := e.sim.SetIncomingNumber(twiliosim.IncomingNumber{Account: "AC000000000000000000000000000000ff", Number: fromNOC,
		VoiceURL: e.rc.srv.URL + "/twiml"}); err == nil {
		t.Error("a number of an unknown account was accepted")
	}
	if err := e.sim.SetIncomingNumber(twiliosim.IncomingNumber{Account: subA, Number: "555", VoiceURL: e.rc.srv.URL}); err == nil {
		t.Error("a number that is not E.164 was accepted")
	}
	if _, err := e.sim.Dial("+15550109001", "+15550000999", "1"); err == nil {
		t.Error("a call to a number nobody configured went through")
	}
}

func TestTheAdapterConfiguresANumbersVoiceURLOnceThroughTheAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, twiliosim.Config{TimeScale: fast}, nil)
	if err := e.sim.SetIncomingNumber(twiliosim.IncomingNumber{Account: subA, Number: fromNOC}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sim.Dial("+15550109001", fromNOC, "1"); err == nil {
		t.Fatal("a number without a VoiceUrl took a call")
	}
	voice := e.rc.srv.URL + "/twiml"
	for i, want := range []bool{true, false} {
		changed, err := e.tw.ConfigureVoiceURL(ctxT(t), subA, fromNOC, voice)
		if err != nil || changed != want {
			t.Fatalf("configure #%d: changed %v, %v; want %v", i+1, changed, err, want)
		}
	}
	sid, err := e.sim.Dial("+15550109001", fromNOC, "1")
	if err != nil {
		t.Fatal(err)
	}
	e.rc.waitFor(t, "/twiml", sid, func(hs []hit) bool { return len(hs) == 1 && hs[0].ValidSig })
	if _, err := e.tw.ConfigureVoiceURL(ctxT(t), subB, fromNOC, voice); !errors.Is(err, twilio.ErrNotFound) {
		t.Errorf("another account's number: %v, want ErrNotFound", err)
	}
}
