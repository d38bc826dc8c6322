package twiliosim_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/internal/twiliosim"
)

// get does an API GET with the main credentials and decodes the JSON answer.
func (e *env) get(t *testing.T, path string) (int, map[string]any) {
	t.Helper()
	if !strings.HasPrefix(path, "http") {
		path = e.api.URL + path
	}
	req, err := http.NewRequest(http.MethodGet, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(mainSID, authToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, m
}

func TestSubaccountsHaveTheirOwnTokens(t *testing.T) {
	const number = "+15558880001"
	e := newEnv(t, twiliosim.Config{TimeScale: fast}, nil)
	a, b := e.sim.AuthToken(subA), e.sim.AuthToken(subB)
	if a == "" || a == authToken || b == authToken || a == b || e.sim.AuthToken(mainSID) != authToken {
		t.Fatalf("tokens: main %q, A %q, B %q; want the main token and two distinct others", e.sim.AuthToken(mainSID), a, b)
	}
	call, err := e.tw.CreateCall(ctxT(t), e.request(subA, number))
	if err != nil {
		t.Fatal(err)
	}
	h := e.rc.waitFor(t, "/status", call.SID, func(hs []hit) bool { return len(hs) > 0 })[0]
	if !twilio.ValidateRequest(a, h.URL, twilio.FormParams(h.Post), h.Signature) ||
		twilio.ValidateRequest(authToken, h.URL, twilio.FormParams(h.Post), h.Signature) {
		t.Fatal("a subaccount call's webhook must be signed with the subaccount's token, not the main one")
	}
	t.Run("a rotated token signs from then on", func(t *testing.T) {
		fresh := e.sim.RotateAuthToken(subB)
		if fresh == b || fresh == "" || e.sim.AuthToken(subB) != fresh {
			t.Fatalf("rotation gave %q (was %q)", fresh, b)
		}
		call, err := e.tw.CreateCall(ctxT(t), e.request(subB, number))
		if err != nil {
			t.Fatal(err)
		}
		h := e.rc.waitFor(t, "/status", call.SID, func(hs []hit) bool { return len(hs) > 0 })[0]
		if !twilio.ValidateRequest(fresh, h.URL, twilio.FormParams(h.Post), h.Signature) {
			t.Fatal("webhook not signed with the rotated token")
		}
	})
}

func TestAccountsResource(t *testing.T) {
	e := newEnv(t, twiliosim.Config{}, nil)
	status, sub := e.get(t, "/2010-04-01/Accounts/"+subA+".json")
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	want := map[string]any{"sid": subA, "owner_account_sid": mainSID, "auth_token": e.sim.AuthToken(subA),
		"status": "active", "type": "Full", "uri": "/2010-04-01/Accounts/" + subA + ".json"}
	for k, v := range want {
		if sub[k] != v {
			t.Errorf("%s = %v, want %v", k, sub[k], v)
		}
	}
	for _, k := range []string{"friendly_name", "date_created", "date_updated", "subresource_uris"} {
		if _, ok := sub[k]; !ok {
			t.Errorf("account JSON lacks %q", k)
		}
	}
	if _, main := e.get(t, "/2010-04-01/Accounts/"+mainSID+".json"); main["owner_account_sid"] != mainSID {
		t.Errorf("main account owner %v, want itself", main["owner_account_sid"])
	}
	if status, body := e.get(t, "/2010-04-01/Accounts/AC0000000000000000000000000000beef.json"); status != 404 || body["code"] != 20404.0 {
		t.Errorf("unknown account: %d %v, want 404/20404", status, body)
	}
	res, err := http.Get(e.api.URL + "/2010-04-01/Accounts/" + subA + ".json")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("without credentials: %d, want 401", res.StatusCode)
	}
}

func TestFailAfterCreate(t *testing.T) {
	const number = "+15558880002"
	for _, status := range []int{0, http.StatusInternalServerError} {
		e := newEnv(t, twiliosim.Config{TimeScale: fast,
			Script: twiliosim.Script{number: twiliosim.AnswerAndPress{After: time.Second, Digit: "1"}}}, nil)
		e.sim.FailAfterCreate(1, status)
		form := url.Values{"To": {number}, "From": {fromNOC}, "Url": {e.rc.srv.URL + "/twiml"},
			"StatusCallback": {e.rc.srv.URL + "/status"}}
		req, _ := http.NewRequest(http.MethodPost, e.api.URL+"/2010-04-01/Accounts/"+subA+"/Calls.json", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(mainSID, authToken)
		res, err := http.DefaultClient.Do(req)
		switch {
		case status == 0 && err == nil:
			res.Body.Close()
			t.Fatalf("lost answer: got %d, want the connection dropped", res.StatusCode)
		case status != 0 && (err != nil || res.StatusCode != status):
			t.Fatalf("5xx after create: %v %v", res, err)
		case res != nil:
			res.Body.Close()
		}
		calls := e.sim.Calls()
		if len(calls) != 1 {
			t.Fatalf("status %d: %d calls, want the call created anyway", status, len(calls))
		}
		rec, err := e.sim.AwaitCall(ctxT(t), calls[0].SID)
		if err != nil || rec.Pressed != "1" || rec.Status != twilio.StatusCompleted {
			t.Fatalf("status %d: call %+v, %v; want it played out", status, rec, err)
		}
		// The fault is used up: the next create answers normally.
		if _, err := e.tw.CreateCall(ctxT(t), e.request(subA, number)); err != nil {
			t.Fatalf("next create: %v", err)
		}
	}
}

func TestTimeoutIsCappedAt600(t *testing.T) {
	e := newEnv(t, twiliosim.Config{}, nil)
	req := e.request(subA, "+15558880003")
	req.Timeout = 20 * time.Minute
	call, err := e.tw.CreateCall(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if rec, _ := e.sim.Call(call.SID); rec.Timeout != 600*time.Second {
		t.Fatalf("Timeout %v, want capped at 600 s", rec.Timeout)
	}
}

func TestMachineDetection(t *testing.T) {
	const human, machine, plain = "+15558880011", "+15558880012", "+15558880013"
	e := newEnv(t, twiliosim.Config{TimeScale: fast, Script: twiliosim.Script{
		human:   twiliosim.AnswerAndPress{After: time.Second, Digit: "1"},
		machine: twiliosim.AnswerNoKey{After: time.Second, Machine: true},
		plain:   twiliosim.AnswerAndPress{After: time.Second, Digit: "1"},
	}}, nil)
	for _, tt := range []struct {
		number, mode, want string
	}{
		{human, twilio.MachineDetectionEnable, "human"},
		{machine, twilio.MachineDetectionEnable, "machine_start"},
		{machine, twilio.MachineDetectionMessageEnd, "machine_end_beep"},
		{plain, "", ""},
	} {
		req := e.request(subA, tt.number)
		req.MachineDetection = tt.mode
		call, err := e.tw.CreateCall(ctxT(t), req)
		if err != nil {
			t.Fatal(err)
		}
		hs := e.rc.untilTerminal(t, call.SID)
		var answered, completed url.Values
		for _, h := range hs {
			switch h.Form.Get("CallStatus") {
			case twilio.StatusInProgress:
				answered = h.Form
			case twilio.StatusCompleted:
				completed = h.Form
			}
		}
		if answered == nil || answered.Get("AnsweredBy") != tt.want || completed.Get("AnsweredBy") != tt.want {
			t.Errorf("%s %q: AnsweredBy in callbacks %q/%q, want %q", tt.number, tt.mode,
				answered.Get("AnsweredBy"), completed.Get("AnsweredBy"), tt.want)
		}
		if tw := e.rc.hitsFor("/twiml", call.SID); len(tw) != 1 || tw[0].Form.Get("AnsweredBy") != tt.want {
			t.Errorf("%s %q: TwiML request AnsweredBy wrong: %v", tt.number, tt.mode, tw)
		}
		got, err := e.tw.FetchCall(ctxT(t), subA, call.SID)
		if err != nil || got.AnsweredBy != tt.want {
			t.Errorf("%s %q: resource answered_by %q, %v; want %q", tt.number, tt.mode, got.AnsweredBy, err, tt.want)
		}
	}
}

func TestListCalls(t *testing.T) {
	e := newEnv(t, twiliosim.Config{}, nil)
	const to, other = "+15558880021", "+15558880022"
	var sids []string
	for range 5 {
		call, err := e.tw.CreateCall(ctxT(t), e.request(subA, to))
		if err != nil {
			t.Fatal(err)
		}
		sids = append(sids, call.SID)
	}
	if _, err := e.tw.CreateCall(ctxT(t), e.request(subA, other)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tw.CreateCall(ctxT(t), e.request(subB, to)); err != nil {
		t.Fatal(err)
	}
	q := url.Values{"To": {to}, "From": {fromNOC}, "PageSize": {"2"}}
	path := "/2010-04-01/Accounts/" + subA + "/Calls.json?" + q.Encode()
	var got []string
	for page := 0; path != ""; page++ {
		status, body := e.get(t, path)
		if status != http.StatusOK {
			t.Fatalf("page %d: status %d %v", page, status, body)
		}
		if body["page"] != float64(page) || body["page_size"] != 2.0 {
			t.Fatalf("page %d: page %v page_size %v", page, body["page"], body["page_size"])
		}
		for _, c := range body["calls"].([]any) {
			call := c.(map[string]any)
			if call["to"] != to || call["account_sid"] != subA {
				t.Fatalf("listed %v", call)
			}
			got = append(got, call["sid"].(string))
		}
		path = ""
		if next, ok := body["next_page_uri"].(string); ok {
			path = next
		}
		if page > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(got) != 5 {
		t.Fatalf("listed %d calls, want 5", len(got))
	}
	for i := range got {
		if got[i] != sids[len(sids)-1-i] {
			t.Fatalf("listed %v, want newest first %v", got, sids)
		}
	}
}

func TestRedirectIsFollowed(t *testing.T) {
	const number = "+15558880031"
	e := newEnv(t, twiliosim.Config{TimeScale: fast, Script: twiliosim.Script{number: twiliosim.AnswerNoKey{After: time.Second}}}, nil)
	req := e.request(subA, number)
	req.TwiMLURL = e.rc.srv.URL + "/redirect"
	call, err := e.tw.CreateCall(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	hs := e.rc.waitFor(t, "/after", call.SID, func(hs []hit) bool { return len(hs) == 1 })
	if !hs[0].ValidSig || hs[0].Method != http.MethodPost || hs[0].Query.Get("x") != "1" {
		t.Fatalf("redirected request %+v", hs[0])
	}
	if rec, _ := e.sim.AwaitCall(ctxT(t), call.SID); rec.Status != twilio.StatusCompleted {
		t.Fatalf("call ended %s", rec.Status)
	}
}
