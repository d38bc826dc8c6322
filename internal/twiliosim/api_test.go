package twiliosim_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twilio/twilio-go/client"

	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/internal/twiliosim"
)

func TestAdapterAgainstSim(t *testing.T) {
	t.Run("creates, fetches and ends a ringing call", func(t *testing.T) {
		e := newEnv(t, twiliosim.Config{}, nil) // default NoAnswer, real time: it rings for 25 s
		ctx := ctxT(t)
		call, err := e.tw.CreateCall(ctx, e.request(subA, "+15551110001"))
		if err != nil {
			t.Fatal(err)
		}
		if !twilio.IsSID("CA", call.SID) || call.AccountSID != subA || call.To != "+15551110001" ||
			call.From != fromNOC || call.Status != twilio.StatusQueued || call.Direction != "outbound-api" || call.DateCreated.IsZero() {
			t.Fatalf("created %+v", call)
		}
		got, err := e.tw.FetchCall(ctx, subA, call.SID)
		if err != nil {
			t.Fatal(err)
		}
		if got.SID != call.SID || got.Terminal() {
			t.Fatalf("fetched %+v", got)
		}
		if err := e.tw.EndCall(ctx, subA, call.SID); err != nil {
			t.Fatal(err)
		}
		got, err = e.tw.FetchCall(ctx, subA, call.SID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != twilio.StatusCanceled || got.EndTime.IsZero() {
			t.Fatalf("after EndCall: %+v", got)
		}
		if err := e.tw.EndCall(ctx, subA, call.SID); err != nil {
			t.Fatalf("ending an ended call must be a no-op, got %v", err)
		}
		recs := e.sim.Calls()
		if len(recs) != 1 || recs[0].AccountSID != subA || recs[0].Timeout != 25*time.Second || recs[0].Status != twilio.StatusCanceled {
			t.Fatalf("records %+v", recs)
		}
	})

	t.Run("ends an answered call as completed", func(t *testing.T) {
		e := newEnv(t, twiliosim.Config{Script: twiliosim.Script{"+15551110002": twiliosim.AnswerNoKey{HangUpAfter: time.Hour}}}, nil)
		ctx := ctxT(t)
		call, err := e.tw.CreateCall(ctx, e.request(subB, "+15551110002"))
		if err != nil {
			t.Fatal(err)
		}
		// The answered callback is the signal that the call is up.
		e.rc.waitFor(t, "/status", call.SID, func(hs []hit) bool {
			return len(hs) > 0 && hs[len(hs)-1].Form.Get("CallStatus") == twilio.StatusInProgress
		})
		if err := e.tw.EndCall(ctx, subB, call.SID); err != nil {
			t.Fatal(err)
		}
		got, err := e.tw.FetchCall(ctx, subB, call.SID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != twilio.StatusCompleted {
			t.Fatalf("after EndCall: %+v", got)
		}
		hs := e.rc.untilTerminal(t, call.SID)
		if last := hs[len(hs)-1].Form; last.Get("CallStatus") != twilio.StatusCompleted || last.Get("SipResponseCode") != "200" {
			t.Fatalf("completed callback %v", last)
		}
	})

	t.Run("bad credentials stop at once and raise the alert", func(t *testing.T) {
		e := newEnv(t, twiliosim.Config{}, func(c *twilio.Config) { c.AuthToken = "wrongToken999" })
		ctx := ctxT(t)
		_, err := e.tw.CreateCall(ctx, e.request(subA, "+15551110003"))
		if !errors.Is(err, twilio.ErrCredentials) || twilio.IsRetryable(err) {
			t.Fatalf("err = %v, want ErrCredentials", err)
		}
		var tre *client.TwilioRestError
		if !errors.As(err, &tre) || tre.Code != 20003 || tre.Status != 401 {
			t.Fatalf("TwilioRestError = %+v", tre)
		}
		if n := e.sim.RequestCount(); n != 1 {
			t.Fatalf("sim saw %d requests, want 1 (no retries)", n)
		}
		if v := metricValue(t, e.reg, "strike_twilio_credentials_alert", "account_sid", subA); v != 1 {
			t.Fatalf("credentials alert = %v, want 1", v)
		}
		// The next call for the account fails fast without a request.
		if _, err := e.tw.CreateCall(ctx, e.request(subA, "+15551110003")); !errors.Is(err, twilio.ErrCredentials) {
			t.Fatalf("second call err = %v", err)
		}
		if n := e.sim.RequestCount(); n != 1 {
			t.Fatalf("sim saw %d requests during the hold, want 1", n)
		}
		if len(e.sim.Calls()) != 0 {
			t.Fatal("a call was created with bad credentials")
		}
	})

	t.Run("invalid To fails the contact without retry", func(t *testing.T) {
		e := newEnv(t, twiliosim.Config{}, nil)
		_, err := e.tw.CreateCall(ctxT(t), e.request(subA, "555-0100"))
		if !errors.Is(err, twilio.ErrInvalidNumber) || twilio.IsRetryable(err) {
			t.Fatalf("err = %v, want ErrInvalidNumber", err)
		}
		var tre *client.TwilioRestError
		if !errors.As(err, &tre) || tre.Code != 21211 {
			t.Fatalf("TwilioRestError = %+v", tre)
		}
		if n := e.sim.RequestCount(); n != 1 {
			t.Fatalf("sim saw %d requests, want 1", n)
		}
		if v := metricValue(t, e.reg, "strike_twilio_errors_total", "code", "21211"); v != 1 {
			t.Fatalf("errors_total{code=21211} = %v", v)
		}
	})

	t.Run("invalid caller id is not the contact's fault", func(t *testing.T) {
		e := newEnv(t, twiliosim.Config{}, nil)
		req := e.request(subA, "+15551110004")
		req.From = "NOC-A"
		_, err := e.tw.CreateCall(ctxT(t), req)
		if !errors.Is(err, twilio.ErrInvalidCallerID) || errors.Is(err, twilio.ErrInvalidNumber) {
			t.Fatalf("err = %v, want ErrInvalidCallerID", err)
		}
	})

	t.Run("unknown subaccount is an account problem, not an invalid number", func(t *testing.T) {
		e := newEnv(t, twiliosim.Config{}, nil)
		_, err := e.tw.CreateCall(ctxT(t), e.request("AC0000000000000000000000000000dead", "+15551110005"))
		if !errors.Is(err, twilio.ErrAccount) || twilio.IsInvalidNumber(err) || twilio.MayHaveCreated(err) {
			t.Fatalf("err = %v, want ErrAccount", err)
		}
	})

	t.Run("5xx on a fetch is retried then succeeds", func(t *testing.T) {
		e := newEnv(t, twiliosim.Config{}, nil)
		call, err := e.tw.CreateCall(ctxT(t), e.request(subA, "+15551110006"))
		if err != nil {
			t.Fatal(err)
		}
		e.sim.FailNext(2, http.StatusInternalServerError, 20500)
		if _, err := e.tw.FetchCall(ctxT(t), subA, call.SID); err != nil {
			t.Fatal(err)
		}
		if n := e.sim.RequestCount(); n != 4 {
			t.Fatalf("sim saw %d requests, want 1 create and 3 fetches", n)
		}
		if v := metricValue(t, e.reg, "strike_twilio_errors_total", "code", "20500"); v != 2 {
			t.Fatalf("errors_total{code=20500} = %v, want 2", v)
		}
	})

	t.Run("5xx on a create is not retried: the call may exist", func(t *testing.T) {
		e := newEnv(t, twiliosim.Config{}, nil)
		e.sim.FailNext(1, http.StatusInternalServerError, 20500)
		_, err := e.tw.CreateCall(ctxT(t), e.request(subA, "+15551110016"))
		if !twilio.MayHaveCreated(err) || e.sim.RequestCount() != 1 {
			t.Fatalf("err = %v after %d requests, want MayHaveCreated after 1", err, e.sim.RequestCount())
		}
	})

	t.Run("429 is retried then succeeds", func(t *testing.T) {
		e := newEnv(t, twiliosim.Config{}, nil)
		e.sim.FailNext(1, http.StatusTooManyRequests, 20429)
		if _, err := e.tw.CreateCall(ctxT(t), e.request(subA, "+15551110007")); err != nil {
			t.Fatal(err)
		}
		if n := e.sim.RequestCount(); n != 2 {
			t.Fatalf("sim saw %d requests, want 2", n)
		}
	})

	t.Run("persistent 5xx gives up after the max elapsed time", func(t *testing.T) {
		e := newEnv(t, twiliosim.Config{}, func(c *twilio.Config) { c.RetryMaxElapsed = 30 * time.Millisecond })
		e.sim.FailNext(1000, http.StatusServiceUnavailable, 20503)
		_, err := e.tw.FetchCall(ctxT(t), subA, "CA00000000000000000000000000000008")
		if !errors.Is(err, twilio.ErrUnavailable) || !twilio.IsRetryable(err) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		if n := e.sim.RequestCount(); n < 2 {
			t.Fatalf("sim saw %d requests, want retries", n)
		}
	})

	t.Run("fetching an unknown call is not found", func(t *testing.T) {
		e := newEnv(t, twiliosim.Config{}, nil)
		_, err := e.tw.FetchCall(ctxT(t), subA, "CA00000000000000000000000000000000")
		if !errors.Is(err, twilio.ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("a call of another subaccount is not visible", func(t *testing.T) {
		e := newEnv(t, twiliosim.Config{}, nil)
		ctx := ctxT(t)
		call, err := e.tw.CreateCall(ctx, e.request(subA, "+15551110009"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.tw.FetchCall(ctx, subB, call.SID); !errors.Is(err, twilio.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
	})

	t.Run("latency is paid on every request", func(t *testing.T) {
		e := newEnv(t, twiliosim.Config{Latency: 40 * time.Millisecond}, nil)
		start := time.Now()
		if _, err := e.tw.CreateCall(ctxT(t), e.request(subA, "+15551110010")); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 40*time.Millisecond {
			t.Fatalf("CreateCall took %v, want >= 40ms", d)
		}
	})

	t.Run("the created hook fires before the API answers", func(t *testing.T) {
		created := make(chan twiliosim.CallRecord, 1)
		e := newEnv(t, twiliosim.Config{OnCallCreated: func(r twiliosim.CallRecord) { created <- r }}, nil)
		call, err := e.tw.CreateCall(ctxT(t), e.request(subA, "+15551110011"))
		if err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-created:
			if r.SID != call.SID || r.To != "+15551110011" {
				t.Fatalf("hook got %+v", r)
			}
		default:
			t.Fatal("hook had not fired when CreateCall returned")
		}
	})
}

// TestAPIShapes checks the simulator's answers byte-level, as Twilio's.
func TestAPIShapes(t *testing.T) {
	e := newEnv(t, twiliosim.Config{}, nil)
	form := func(kv ...string) url.Values {
		f := url.Values{"To": {"+15552220001"}, "From": {fromNOC}, "Url": {"https://gw.example/twiml"}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				f.Del(kv[i])
			} else {
				f.Set(kv[i], kv[i+1])
			}
		}
		return f
	}
	tests := []struct {
		name       string
		account    string
		user, pass string
		form       url.Values
		status     int
		code       int
	}{
		{"wrong token is 401/20003", subA, mainSID, "nope", form(), 401, 20003},
		{"subaccount credentials are not Strike's", subA, subA, authToken, form(), 401, 20003},
		{"no credentials is 401/20003", subA, "", "", form(), 401, 20003},
		{"unknown account is 404/20404", "AC0000000000000000000000000000beef", mainSID, authToken, form(), 404, 20404},
		{"invalid To is 400/21211", subA, mainSID, authToken, form("To", "12"), 400, 21211},
		{"invalid From is 400/21212", subA, mainSID, authToken, form("From", "+0"), 400, 21212},
		{"Timeout 0 is 400/21208", subA, mainSID, authToken, form("Timeout", "0"), 400, 21208},
		{"Timeout above 600 is accepted (and capped)", subA, mainSID, authToken, form("Timeout", "601"), 201, 0},
		{"TwiML over 4,000 characters is 400/32018", subA, mainSID, authToken,
			form("Url", "", "Twiml", "<Response><Say>"+strings.Repeat("a", 3980)+"</Say></Response>"), 400, 32018},
		{"no TwiML is 400/21205", subA, mainSID, authToken, form("Url", ""), 400, 21205},
		{"a valid request under the main account is 201", mainSID, mainSID, authToken, form(), 201, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, e.api.URL+"/2010-04-01/Accounts/"+tt.account+"/Calls.json",
				strings.NewReader(tt.form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if tt.code == 0 {
				var c map[string]any
				if err := json.NewDecoder(res.Body).Decode(&c); err != nil {
					t.Fatal(err)
				}
				for _, k := range []string{"sid", "account_sid", "to", "from", "status", "direction", "date_created", "uri", "api_version"} {
					if _, ok := c[k]; !ok {
						t.Errorf("call JSON lacks %q: %v", k, c)
					}
				}
				return
			}
			var te client.TwilioRestError
			if err := json.NewDecoder(res.Body).Decode(&te); err != nil {
				t.Fatal(err)
			}
			if te.Code != tt.code || te.Status != tt.status || te.Message == "" || !strings.Contains(te.MoreInfo, "twilio.com/docs/errors/") {
				t.Fatalf("error JSON %+v", te)
			}
		})
	}
}

func TestUpdateSemantics(t *testing.T) {
	e := newEnv(t, twiliosim.Config{Script: twiliosim.Script{"+15553330001": twiliosim.AnswerNoKey{HangUpAfter: time.Hour}}}, nil)
	ctx := ctxT(t)
	call, err := e.tw.CreateCall(ctx, e.request(subA, "+15553330001"))
	if err != nil {
		t.Fatal(err)
	}
	e.rc.waitFor(t, "/status", call.SID, func(hs []hit) bool {
		return len(hs) > 0 && hs[len(hs)-1].Form.Get("CallStatus") == twilio.StatusInProgress
	})
	post := func(status string) int {
		req, _ := http.NewRequest(http.MethodPost, e.api.URL+"/2010-04-01/Accounts/"+subA+"/Calls/"+call.SID+".json",
			strings.NewReader(url.Values{"Status": {status}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(mainSID, authToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	t.Run("canceled leaves an answered call up", func(t *testing.T) {
		if code := post("canceled"); code != 200 {
			t.Fatalf("status %d", code)
		}
		if r, _ := e.sim.Call(call.SID); r.Status != twilio.StatusInProgress {
			t.Fatalf("status %s", r.Status)
		}
	})
	t.Run("completed hangs it up", func(t *testing.T) {
		if code := post("completed"); code != 200 {
			t.Fatalf("status %d", code)
		}
		if r, _ := e.sim.Call(call.SID); r.Status != twilio.StatusCompleted {
			t.Fatalf("status %s", r.Status)
		}
	})
	t.Run("updating an ended call is 21220", func(t *testing.T) {
		if code := post("completed"); code != 400 {
			t.Fatalf("status %d", code)
		}
	})
}

func TestStartServesOverTCP(t *testing.T) {
	sim, err := twiliosim.New(twiliosim.Config{AccountSID: mainSID, AuthToken: authToken, Subaccounts: []string{subA}}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := sim.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	tw, err := twilio.New(twilio.Config{AccountSID: mainSID, AuthToken: authToken, BaseURL: sim.URL()}, zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	call, err := tw.CreateCall(ctx, twilio.CallRequest{SubaccountSID: subA, To: "+15554440001", From: fromNOC,
		Twiml: twilio.SayTwiML("hello")})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.EndCall(ctx, subA, call.SID); err != nil {
		t.Fatal(err)
	}
	if err := sim.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sim.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]twiliosim.Config{
		"no account":     {AuthToken: authToken},
		"no token":       {AccountSID: mainSID},
		"bad subaccount": {AccountSID: mainSID, AuthToken: authToken, Subaccounts: []string{"nope"}},
		"negative CPS":   {AccountSID: mainSID, AuthToken: authToken, CPS: -1},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := twiliosim.New(cfg, zerolog.Nop()); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
