package twilio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/internal/twiliosim"
)

const (
	mainSID = "AC00000000000000000000000000000001"
	subA    = "AC0000000000000000000000000000000a"
	subB    = "AC0000000000000000000000000000000b"
	token   = "adapterMainToken789"
)

type arrival struct {
	account string
	at      time.Time
}

func newSim(t *testing.T, cfg twiliosim.Config) (*twiliosim.Sim, string) {
	t.Helper()
	cfg.AccountSID, cfg.AuthToken, cfg.Subaccounts = mainSID, token, []string{subA, subB}
	sim, err := twiliosim.New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = sim.Close() })
	return sim, srv.URL
}

func request(sub, to string) twilio.CallRequest {
	return twilio.CallRequest{SubaccountSID: sub, To: to, From: "+15550000001", Timeout: 25 * time.Second,
		Twiml: twilio.GatherTwiML("J-1", "S", "https://gw.example/gather", 1)}
}

// TestCPSIsolation: ten calls on subaccount A at 2 CPS queue behind A's
// limiter only; a call on B goes out at once.
func TestCPSIsolation(t *testing.T) {
	arrivals := make(chan arrival, 32)
	_, url := newSim(t, twiliosim.Config{OnCallCreated: func(r twiliosim.CallRecord) {
		arrivals <- arrival{r.AccountSID, time.Now()}
	}})
	reg := prometheus.NewRegistry()
	tw, err := twilio.New(twilio.Config{AccountSID: mainSID, AuthToken: token, BaseURL: url, CPS: 2, Burst: 1},
		zerolog.Nop(), reg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ctxA, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	var wg sync.WaitGroup
	errsA := make(chan error, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := tw.CreateCall(ctxA, request(subA, fmt.Sprintf("+1555100%04d", i)))
			errsA <- err
		}()
	}
	first := <-arrivals // A's first call has its token; A's bucket is now empty
	if first.account != subA {
		t.Fatalf("first arrival from %s", first.account)
	}

	bStart := time.Now()
	if _, err := tw.CreateCall(context.Background(), request(subB, "+15552000001")); err != nil {
		t.Fatal(err)
	}
	bTook := time.Since(bStart)

	// Collect arrivals until A's third call: B must be among them, before A's
	// queue has drained; A's third call cannot arrive before its token, 1 s
	// after the limiter was created.
	var order []string
	aCount := 1
	for aCount < 3 {
		a := <-arrivals
		order = append(order, a.account)
		if a.account == subA {
			aCount++
			if aCount == 3 && a.at.Sub(start) < time.Second {
				t.Fatalf("A's third call arrived %v after start, want >= 1s at 2 CPS", a.at.Sub(start))
			}
		}
	}
	if len(order) == 0 || order[0] != subB {
		t.Fatalf("arrivals after A's first: %v, want B first", order)
	}
	if bTook >= 500*time.Millisecond {
		t.Fatalf("B's call took %v: it waited on A's limiter", bTook)
	}

	cancelA()
	wg.Wait()
	close(errsA)
	var ok, canceled int
	for err := range errsA {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, context.Canceled):
			canceled++
		default:
			t.Errorf("A call failed with %v", err)
		}
	}
	// The third call may be cancelled after the simulator created it: the
	// same ambiguity a real timeout has.
	if ok < 2 || ok+canceled != 10 {
		t.Fatalf("A calls: %d placed, %d canceled", ok, canceled)
	}
}

// TestTokenNeverLeaks: neither the right nor a wrong auth token appears in
// any log line or error string, whatever goes wrong.
func TestTokenNeverLeaks(t *testing.T) {
	const wrong = "wrongSecret000111"
	sim, url := newSim(t, twiliosim.Config{})
	var logs bytes.Buffer
	log := zerolog.New(&logs).Level(zerolog.TraceLevel)
	mk := func(tok string) *twilio.Client {
		tw, err := twilio.New(twilio.Config{AccountSID: mainSID, AuthToken: tok, BaseURL: url, CPS: -1,
			RetryInitialInterval: time.Millisecond, RetryMaxElapsed: 50 * time.Millisecond}, log, nil)
		if err != nil {
			t.Fatal(err)
		}
		return tw
	}
	good, bad := mk(token), mk(wrong)
	ctx := context.Background()
	var errs []error
	_, err := bad.CreateCall(ctx, request(subA, "+15553000001"))
	errs = append(errs, err)
	_, err = bad.CreateCall(ctx, request(subA, "+15553000001")) // held
	errs = append(errs, err)
	_, err = good.CreateCall(ctx, request(subA, "not-a-number"))
	errs = append(errs, err)
	sim.FailNext(1000, http.StatusInternalServerError, 20500)
	_, err = good.CreateCall(ctx, request(subB, "+15553000002"))
	errs = append(errs, err)
	_, err = good.FetchCall(ctx, subA, "CA00000000000000000000000000000000")
	errs = append(errs, err)
	_, err = twilio.New(twilio.Config{AccountSID: "bad", AuthToken: token + "!"}, log, nil)
	errs = append(errs, err)

	for i, err := range errs {
		if err == nil {
			t.Fatalf("case %d: no error", i)
		}
		for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
			if strings.Contains(s, token) || strings.Contains(s, wrong) {
				t.Fatalf("case %d: token in error %q", i, s)
			}
		}
	}
	if logs.Len() == 0 {
		t.Fatal("nothing was logged; the test would prove nothing")
	}
	if strings.Contains(logs.String(), token) || strings.Contains(logs.String(), wrong) {
		t.Fatalf("token in logs:\n%s", logs.String())
	}
}

// TestContextEndsRetries: a context that ends while CreateCall backs off
// stops it at once with both the context error and the last Twilio error.
// A 429 is the answer CreateCall retries (a 5xx may have created the call, so
// it is never retried blindly: TestCreateCallRetriesOnlyWhenNothingWasCreated).
func TestContextEndsRetries(t *testing.T) {
	sim, url := newSim(t, twiliosim.Config{})
	sim.FailNext(1000, http.StatusTooManyRequests, 20429)
	// The adapter logs "retrying" once it has read and classified an answer
	// and is about to back off: the moment to cancel.
	backingOff := make(chan struct{}, 1)
	log := zerolog.New(writerFunc(func(p []byte) (int, error) {
		if bytes.Contains(p, []byte("retrying")) {
			select {
			case backingOff <- struct{}{}:
			default:
			}
		}
		return len(p), nil
	}))
	tw, err := twilio.New(twilio.Config{AccountSID: mainSID, AuthToken: token, BaseURL: url, CPS: -1,
		RetryInitialInterval: time.Hour, RetryMaxInterval: time.Hour, RetryMaxElapsed: 2 * time.Hour}, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := tw.CreateCall(ctx, request(subA, "+15554000001"))
		done <- err
	}()
	select {
	case <-backingOff:
	case <-time.After(10 * time.Second):
		t.Fatal("CreateCall never backed off after a 429")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !errors.Is(err, twilio.ErrRateLimited) {
			t.Fatalf("err = %v, want context.Canceled and ErrRateLimited", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("CreateCall kept backing off after cancel")
	}
}

// TestLimiterRespectsDeadline: a CPS token that would come after the
// caller's deadline fails at once as a deadline, not after waiting.
func TestLimiterRespectsDeadline(t *testing.T) {
	_, url := newSim(t, twiliosim.Config{})
	tw, err := twilio.New(twilio.Config{AccountSID: mainSID, AuthToken: token, BaseURL: url, CPS: 0.1}, zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tw.CreateCall(context.Background(), request(subA, "+15555000001")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err = tw.CreateCall(ctx, request(subA, "+15555000002"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v: it waited instead of refusing", d)
	}
}

// writerFunc adapts a function to io.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
