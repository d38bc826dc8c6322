package twiliosim_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/internal/twiliosim"
)

// statuses lists CallStatus of hits in arrival order.
func statuses(hs []hit) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Form.Get("CallStatus")
	}
	return out
}

func field(hs []hit, name string) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Form.Get(name)
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// allSigned fails the test unless every hit carried a valid signature and
// the fields Twilio sends with every webhook.
func allSigned(t *testing.T, hs []hit, call twilio.Call) {
	t.Helper()
	for _, h := range hs {
		if !h.ValidSig {
			t.Errorf("%s %s: invalid signature %q", h.Method, h.Path, h.Signature)
		}
		if h.Form.Get("AccountSid") != call.AccountSID || h.Form.Get("To") != call.To || h.Form.Get("From") != call.From {
			t.Errorf("%s: wrong call fields %v", h.Path, h.Form)
		}
	}
}

func TestScriptBehaviours(t *testing.T) {
	tests := []struct {
		name      string
		b         twiliosim.Behaviour
		statuses  []string
		digits    []string // Digits of the gather results, in order
		twimlHits int
		sip       string
		duration  string // CallDuration of the completed callback, "" = any positive
		// minDuration, if set, is a lower bound instead: on the scaled wall
		// clock, HTTP time inside the call is scaled up too.
		minDuration int
	}{
		{name: "answers and presses 1", b: twiliosim.AnswerAndPress{After: 2 * time.Second, Digit: "1"},
			statuses: []string{"initiated", "ringing", "in-progress", "completed"}, digits: []string{"1"}, twimlHits: 1, sip: "200"},
		{name: "answers and presses 2", b: twiliosim.AnswerAndPress{After: 2 * time.Second, Digit: "2"},
			statuses: []string{"initiated", "ringing", "in-progress", "completed"}, digits: []string{"2"}, twimlHits: 1, sip: "200"},
		{name: "an invalid key is prompted again", b: twiliosim.AnswerAndPress{After: time.Second, Digit: "91"},
			statuses: []string{"initiated", "ringing", "in-progress", "completed"}, digits: []string{"9", "1"}, twimlHits: 1, sip: "200"},
		{name: "voicemail answers without a key", b: twiliosim.AnswerNoKey{After: 5 * time.Second},
			statuses: []string{"initiated", "ringing", "in-progress", "completed"}, twimlHits: 1, sip: "200",
			minDuration: 12}, // prompt 3 s + Gather timeout 8 s + trailing Say 1 s
		{name: "no answer rings until the timeout", b: twiliosim.NoAnswer{},
			statuses: []string{"initiated", "ringing", "no-answer"}, sip: "487", duration: "0"},
		{name: "answering after the timeout is no answer", b: twiliosim.AnswerAndPress{After: 30 * time.Second, Digit: "1"},
			statuses: []string{"initiated", "ringing", "no-answer"}, sip: "487", duration: "0"},
		{name: "busy", b: twiliosim.Busy{},
			statuses: []string{"initiated", "busy"}, sip: "486", duration: "0"},
		{name: "failed with SIP 480", b: twiliosim.Failed{SIPCode: 480},
			statuses: []string{"initiated", "failed"}, sip: "480", duration: "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const number = "+15556660001"
			e := newEnv(t, twiliosim.Config{TimeScale: fast, Script: twiliosim.Script{number: tt.b}}, nil)
			ctx := ctxT(t)
			call, err := e.tw.CreateCall(ctx, e.request(subA, number))
			if err != nil {
				t.Fatal(err)
			}
			hs := e.rc.untilTerminal(t, call.SID)
			if got := statuses(hs); !equal(got, tt.statuses) {
				t.Fatalf("status callbacks %v, want %v", got, tt.statuses)
			}
			for i, h := range hs {
				if h.Form.Get("SequenceNumber") != strconv.Itoa(i) || h.Form.Get("CallbackSource") != "call-progress-events" {
					t.Fatalf("callback %d: %v", i, h.Form)
				}
				if _, err := twilio.ParseCallback(h.Form); err != nil {
					t.Fatalf("callback %d does not parse: %v", i, err)
				}
			}
			last := hs[len(hs)-1].Form
			if last.Get("SipResponseCode") != tt.sip {
				t.Fatalf("SipResponseCode %q, want %q", last.Get("SipResponseCode"), tt.sip)
			}
			d := last.Get("CallDuration")
			n, _ := strconv.Atoi(d)
			switch {
			case tt.minDuration > 0 && n < tt.minDuration:
				t.Fatalf("CallDuration %q, want >= %d", d, tt.minDuration)
			case tt.minDuration == 0 && tt.duration == "" && n <= 0:
				t.Fatalf("CallDuration %q, want > 0", d)
			case tt.duration != "" && d != tt.duration:
				t.Fatalf("CallDuration %q, want %q", d, tt.duration)
			}
			gathers := e.rc.hitsFor("/gather", call.SID)
			if got := field(gathers, "Digits"); !equal(got, tt.digits) && !(len(got) == 0 && len(tt.digits) == 0) {
				t.Fatalf("gathered %v, want %v", got, tt.digits)
			}
			twiml := e.rc.hitsFor("/twiml", call.SID)
			if len(twiml) != tt.twimlHits {
				t.Fatalf("TwiML fetched %d times, want %d", len(twiml), tt.twimlHits)
			}
			allSigned(t, append(append(hs, gathers...), twiml...), call)
			got, err := e.tw.FetchCall(ctx, subA, call.SID)
			if err != nil {
				t.Fatal(err)
			}
			if want := tt.statuses[len(tt.statuses)-1]; got.Status != want {
				t.Fatalf("FetchCall status %q, want %q", got.Status, want)
			}
			rec, _ := e.sim.Call(call.SID)
			if want := ""; len(tt.digits) > 0 {
				want = tt.digits[0]
				for _, d := range tt.digits[1:] {
					want += d
				}
				if rec.Pressed != want {
					t.Fatalf("Pressed %q, want %q", rec.Pressed, want)
				}
			}
		})
	}
}

func TestSequenceBehaviour(t *testing.T) {
	const number = "+15556660002"
	e := newEnv(t, twiliosim.Config{TimeScale: fast, Script: twiliosim.Script{
		number: twiliosim.Sequence{twiliosim.NoAnswer{}, twiliosim.AnswerAndPress{Digit: "1"}},
	}}, nil)
	ctx := ctxT(t)
	for pass, want := range []string{"no-answer", "completed", "completed"} {
		call, err := e.tw.CreateCall(ctx, e.request(subA, number))
		if err != nil {
			t.Fatal(err)
		}
		rec, err := e.sim.AwaitCall(ctx, call.SID)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Status != want {
			t.Fatalf("call %d ended %s, want %s", pass+1, rec.Status, want)
		}
	}
}

func TestInlineTwiML(t *testing.T) {
	const number = "+15556660003"
	e := newEnv(t, twiliosim.Config{TimeScale: fast, Script: twiliosim.Script{number: twiliosim.AnswerAndPress{Digit: "1"}}}, nil)
	ctx := ctxT(t)
	req := e.request(subA, number)
	req.TwiMLURL = ""
	req.Twiml = twilio.GatherTwiML("J-9", "Depot", e.rc.srv.URL+"/gather?attempt=1", 1)
	call, err := e.tw.CreateCall(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	e.rc.untilTerminal(t, call.SID)
	g := e.rc.hitsFor("/gather", call.SID)
	if len(g) != 1 || g[0].Form.Get("Digits") != "1" || !g[0].ValidSig {
		t.Fatalf("gather hits %+v", g)
	}
	if n := len(e.rc.hitsFor("/twiml", call.SID)); n != 0 {
		t.Fatalf("inline TwiML fetched %d times", n)
	}
}

func TestSignatures(t *testing.T) {
	const number = "+15556660004"
	t.Run("a tampered or forged callback is rejected", func(t *testing.T) {
		e := newEnv(t, twiliosim.Config{TimeScale: fast, Script: twiliosim.Script{number: twiliosim.AnswerAndPress{Digit: "1"}}}, nil)
		call, err := e.tw.CreateCall(ctxT(t), e.request(subA, number))
		if err != nil {
			t.Fatal(err)
		}
		g := e.rc.waitFor(t, "/gather", call.SID, func(hs []hit) bool { return len(hs) == 1 })[0]
		params := twilio.FormParams(g.Post)
		tok := e.sim.AuthToken(subA)
		if tok == authToken {
			t.Fatal("subaccount A signs with the main token; Twilio signs with the subaccount's own")
		}
		if twilio.ValidateRequest(authToken, g.URL, params, g.Signature) {
			t.Fatal("a subaccount's gather result validates with the main token")
		}
		if !twilio.ValidateRequest(tok, g.URL, params, g.Signature) {
			t.Fatal("genuine gather result rejected")
		}
		tampered := twilio.FormParams(g.Post)
		tampered["Digits"] = "2"
		forged := twilio.Sign("attackerToken", g.URL, params)
		for name, ok := range map[string]bool{
			"tampered Digits":   twilio.ValidateRequest(tok, g.URL, tampered, g.Signature),
			"other URL":         twilio.ValidateRequest(tok, g.URL+"&x=1", params, g.Signature),
			"forged signature":  twilio.ValidateRequest(tok, g.URL, params, forged),
			"missing signature": twilio.ValidateRequest(tok, g.URL, params, ""),
		} {
			if ok {
				t.Errorf("%s accepted", name)
			}
		}
	})
	t.Run("configured subaccount tokens are honoured", func(t *testing.T) {
		e := newEnv(t, twiliosim.Config{TimeScale: fast, SubaccountTokens: map[string]string{subB: subToken}}, nil)
		call, err := e.tw.CreateCall(ctxT(t), e.request(subB, number))
		if err != nil {
			t.Fatal(err)
		}
		hs := e.rc.waitFor(t, "/status", call.SID, func(hs []hit) bool { return len(hs) > 0 })
		h := hs[0]
		if twilio.ValidateRequest(authToken, h.URL, twilio.FormParams(h.Post), h.Signature) {
			t.Fatal("callback validated with the main token, want the subaccount's")
		}
		if !twilio.ValidateRequest(subToken, h.URL, twilio.FormParams(h.Post), h.Signature) {
			t.Fatal("callback does not validate with the subaccount token")
		}
	})
}

func TestDemoScript(t *testing.T) {
	const first, second = "+15556669001", "+15556669002"
	e := newEnv(t, twiliosim.Config{TimeScale: fast, Script: twiliosim.DemoScript(first, second)}, nil)
	ctx := ctxT(t)
	var got []string
	for pass := 1; pass <= 2; pass++ {
		for _, n := range []string{first, second} {
			call, err := e.tw.CreateCall(ctx, e.request(subA, n))
			if err != nil {
				t.Fatal(err)
			}
			rec, err := e.sim.AwaitCall(ctx, call.SID)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, rec.Status+"/"+rec.Pressed)
		}
	}
	if want := []string{"no-answer/", "no-answer/", "no-answer/", "completed/1"}; !equal(got, want) {
		t.Fatalf("passes %v, want %v", got, want)
	}
}
