package twilio

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestCredentialsHold: after a credentials error CreateCall fails fast for
// the hold, then lets one probe through; success clears the alert.
func TestCredentialsHold(t *testing.T) {
	var requests atomic.Int32
	var reject atomic.Bool
	reject.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if reject.Load() {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}`))
			return
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"sid":"` + testCall + `","account_sid":"` + testAccount + `","status":"queued"}`))
	}))
	defer srv.Close()

	c, err := New(Config{AccountSID: testAccount, AuthToken: "tok123", BaseURL: srv.URL, CredentialsHold: time.Minute}, zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	req := CallRequest{To: "+15550001111", From: "+15550002222", Twiml: SayTwiML("hi")}
	ctx := context.Background()

	steps := []struct {
		name     string
		advance  time.Duration
		accept   bool
		wantErr  error
		requests int32
	}{
		{name: "first call reaches Twilio and is refused", wantErr: ErrCredentials, requests: 1},
		{name: "during the hold calls fail fast", advance: 59 * time.Second, wantErr: ErrCredentials, requests: 1},
		{name: "after the hold one probe goes through", advance: 2 * time.Second, wantErr: ErrCredentials, requests: 2},
		{name: "a failed probe re-arms the hold", advance: time.Second, wantErr: ErrCredentials, requests: 2},
		{name: "a successful probe clears it", advance: 2 * time.Minute, accept: true, requests: 3},
		{name: "and calls flow again", accept: true, requests: 4},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			now = now.Add(s.advance)
			reject.Store(!s.accept)
			_, err := c.CreateCall(ctx, req)
			if !errors.Is(err, s.wantErr) || (s.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, s.wantErr)
			}
			if n := requests.Load(); n != s.requests {
				t.Fatalf("requests = %d, want %d", n, s.requests)
			}
		})
	}
	if v := gaugeValue(c.metrics.credAlert.WithLabelValues(testAccount)); v != 0 {
		t.Fatalf("alert gauge = %v after success, want 0", v)
	}
}
