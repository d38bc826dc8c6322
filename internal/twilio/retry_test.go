package twilio_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/internal/twiliosim"
)

func fastClient(t *testing.T, url string, tweak func(*twilio.Config)) *twilio.Client {
	t.Helper()
	cfg := twilio.Config{AccountSID: mainSID, AuthToken: token, BaseURL: url, CPS: -1,
		RetryInitialInterval: time.Millisecond, RetryMaxInterval: 5 * time.Millisecond, RetryMaxElapsed: 2 * time.Second}
	if tweak != nil {
		tweak(&cfg)
	}
	tw, err := twilio.New(cfg, zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return tw
}

// TestCreateCallRetriesOnlyWhenNothingWasCreated: Twilio documents call
// creation as not idempotent (https://www.twilio.com/docs/voice/api/call-resource),
// so CreateCall retries only answers that prove no call exists (429) and
// failures before the request could reach Twilio (dial errors). Anything
// after the request was sent returns at once with MayHaveCreated.
func TestCreateCallRetriesOnlyWhenNothingWasCreated(t *testing.T) {
	ctx := context.Background()
	t.Run("a 5xx is not retried and may have created the call", func(t *testing.T) {
		sim, url := newSim(t, twiliosim.Config{})
		sim.FailNext(1, http.StatusInternalServerError, 20500)
		_, err := fastClient(t, url, nil).CreateCall(ctx, request(subA, "+15556000001"))
		if err == nil || !twilio.MayHaveCreated(err) || !errors.Is(err, twilio.ErrUnavailable) {
			t.Fatalf("err = %v, MayHaveCreated = %v; want an unavailable error that may have created", err, twilio.MayHaveCreated(err))
		}
		if n := sim.RequestCount(); n != 1 {
			t.Fatalf("sim saw %d requests, want 1: a 5xx must not be retried", n)
		}
	})
	t.Run("a created call whose answer is lost is not placed again", func(t *testing.T) {
		sim, url := newSim(t, twiliosim.Config{})
		sim.FailAfterCreate(1, 0) // connection dropped after the call was created
		_, err := fastClient(t, url, nil).CreateCall(ctx, request(subA, "+15556000002"))
		if err == nil || !twilio.MayHaveCreated(err) {
			t.Fatalf("err = %v, want MayHaveCreated", err)
		}
		if calls := sim.Calls(); len(calls) != 1 || sim.RequestCount() != 1 {
			t.Fatalf("sim has %d calls after %d requests, want 1 and 1", len(calls), sim.RequestCount())
		}
	})
	t.Run("a created call answered 502 is not placed again", func(t *testing.T) {
		sim, url := newSim(t, twiliosim.Config{})
		sim.FailAfterCreate(1, http.StatusBadGateway)
		_, err := fastClient(t, url, nil).CreateCall(ctx, request(subA, "+15556000003"))
		if !twilio.MayHaveCreated(err) || len(sim.Calls()) != 1 || sim.RequestCount() != 1 {
			t.Fatalf("err = %v, %d calls, %d requests; want MayHaveCreated, 1, 1", err, len(sim.Calls()), sim.RequestCount())
		}
	})
	t.Run("a timeout may have created the call", func(t *testing.T) {
		sim, url := newSim(t, twiliosim.Config{Latency: 300 * time.Millisecond})
		tw := fastClient(t, url, func(c *twilio.Config) {
			c.HTTPClient = &http.Client{Timeout: 50 * time.Millisecond}
		})
		_, err := tw.CreateCall(ctx, request(subA, "+15556000004"))
		if !twilio.MayHaveCreated(err) || sim.RequestCount() != 1 {
			t.Fatalf("err = %v, %d requests; want MayHaveCreated after 1 request", err, sim.RequestCount())
		}
	})
	t.Run("429 is retried: Twilio created nothing", func(t *testing.T) {
		sim, url := newSim(t, twiliosim.Config{})
		sim.FailNext(2, http.StatusTooManyRequests, 20429)
		call, err := fastClient(t, url, nil).CreateCall(ctx, request(subA, "+15556000005"))
		if err != nil || call.SID == "" || sim.RequestCount() != 3 || len(sim.Calls()) != 1 {
			t.Fatalf("err = %v, %d requests, %d calls; want success after 3 requests, 1 call", err, sim.RequestCount(), len(sim.Calls()))
		}
	})
	t.Run("a refused connection is retried: the request never left", func(t *testing.T) {
		sim, url := newSim(t, twiliosim.Config{})
		var dials atomic.Int32
		base := &net.Dialer{}
		tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if dials.Add(1) <= 2 {
				return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
			}
			return base.DialContext(ctx, network, addr)
		}}
		tw := fastClient(t, url, func(c *twilio.Config) { c.HTTPClient = &http.Client{Transport: tr, Timeout: 5 * time.Second} })
		if _, err := tw.CreateCall(ctx, request(subA, "+15556000006")); err != nil {
			t.Fatalf("err = %v, want success after the refused dials", err)
		}
		if len(sim.Calls()) != 1 {
			t.Fatalf("%d calls, want 1", len(sim.Calls()))
		}
	})
	t.Run("a refusal is final and created nothing", func(t *testing.T) {
		_, url := newSim(t, twiliosim.Config{})
		_, err := fastClient(t, url, nil).CreateCall(ctx, request(subA, "not-a-number"))
		if err == nil || twilio.MayHaveCreated(err) {
			t.Fatalf("err = %v, MayHaveCreated = %v; want a refusal that created nothing", err, twilio.MayHaveCreated(err))
		}
	})
	t.Run("other operations still retry a 5xx", func(t *testing.T) {
		sim, url := newSim(t, twiliosim.Config{})
		tw := fastClient(t, url, nil)
		call, err := tw.CreateCall(ctx, request(subA, "+15556000007"))
		if err != nil {
			t.Fatal(err)
		}
		sim.FailNext(2, http.StatusServiceUnavailable, 20503)
		if _, err := tw.FetchCall(ctx, subA, call.SID); err != nil {
			t.Fatalf("FetchCall after two 503s: %v", err)
		}
		if twilio.MayHaveCreated(errors.New("x")) {
			t.Fatal("MayHaveCreated of a foreign error")
		}
	})
}

// TestFindCalls: the calls of one account to one number from one caller id,
// created at or after a time (at Twilio's 1 s resolution), newest first.
func TestFindCalls(t *testing.T) {
	_, url := newSim(t, twiliosim.Config{})
	tw := fastClient(t, url, nil)
	ctx := context.Background()
	const to, other = "+15557000001", "+15557000002"
	since := time.Now()
	var sids []string
	for range 3 {
		call, err := tw.CreateCall(ctx, request(subA, to))
		if err != nil {
			t.Fatal(err)
		}
		sids = append(sids, call.SID)
	}
	for _, req := range []twilio.CallRequest{request(subA, other), request(subB, to)} {
		if _, err := tw.CreateCall(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	otherFrom := request(subA, to)
	otherFrom.From = "+15550000009"
	if _, err := tw.CreateCall(ctx, otherFrom); err != nil {
		t.Fatal(err)
	}
	found, err := tw.FindCalls(ctx, subA, to, "+15550000001", since)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 3 {
		t.Fatalf("found %d calls, want the 3 to %s from the NOC's number in subaccount A", len(found), to)
	}
	for i, c := range found {
		if c.SID != sids[len(sids)-1-i] || c.To != to || c.AccountSID != subA || c.DateCreated.IsZero() {
			t.Fatalf("found[%d] = %+v, want newest first: %v", i, c, sids)
		}
	}
	later, err := tw.FindCalls(ctx, subA, to, "+15550000001", time.Now().Add(2*time.Second))
	if err != nil || len(later) != 0 {
		t.Fatalf("FindCalls since the future = %v, %v; want none", later, err)
	}
}

// TestFetchAccount reads the main account and a subaccount with the main
// credentials; an unknown account is not found.
func TestFetchAccount(t *testing.T) {
	sim, url := newSim(t, twiliosim.Config{})
	tw := fastClient(t, url, nil)
	ctx := context.Background()
	sub, err := tw.FetchAccount(ctx, subA)
	if err != nil {
		t.Fatal(err)
	}
	if sub.SID != subA || sub.OwnerAccountSID != mainSID || sub.AuthToken == "" || sub.AuthToken == token ||
		sub.AuthToken != sim.AuthToken(subA) || sub.Status != "active" {
		t.Fatalf("subaccount = %+v", sub)
	}
	main, err := tw.FetchAccount(ctx, mainSID)
	if err != nil || main.OwnerAccountSID != mainSID || main.AuthToken != token {
		t.Fatalf("main account = %+v, %v", main, err)
	}
	if _, err := tw.FetchAccount(ctx, "AC0000000000000000000000000000dead"); !errors.Is(err, twilio.ErrNotFound) {
		t.Fatalf("unknown account: err = %v, want ErrNotFound", err)
	}
}
