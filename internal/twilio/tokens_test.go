package twilio

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	tokMain  = "mainToken000"
	tokSub   = "subToken111"
	tokSub2  = "subToken222"
	tMainSID = "AC00000000000000000000000000000001"
	tSubSID  = "AC00000000000000000000000000000a01"
	tFarSID  = "AC00000000000000000000000000000f01"
	hookURL  = "https://gw.example/twilio/status?eco_id=e&call_id=c"
)

// fakeAccounts is an AccountFetcher that counts reads.
type fakeAccounts struct {
	mu       sync.Mutex
	accounts map[string]Account
	reads    map[string]int
	err      error
}

func (f *fakeAccounts) FetchAccount(_ context.Context, sid string) (Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads[sid]++
	if f.err != nil {
		return Account{}, f.err
	}
	a, ok := f.accounts[sid]
	if !ok {
		return Account{}, &Error{Kind: ErrNotFound, Op: opFetchAccount, AccountSID: sid, Err: errors.New("404")}
	}
	return a, nil
}

func (f *fakeAccounts) setToken(sid, tok string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.accounts[sid]
	a.AuthToken = tok
	f.accounts[sid] = a
}

func (f *fakeAccounts) readsOf(sid string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads[sid]
}

func newTokens(t *testing.T) (*WebhookTokens, *fakeAccounts, *time.Time) {
	t.Helper()
	f := &fakeAccounts{reads: map[string]int{}, accounts: map[string]Account{
		tSubSID: {SID: tSubSID, OwnerAccountSID: tMainSID, AuthToken: tokSub, Status: "active"},
		tFarSID: {SID: tFarSID, OwnerAccountSID: "AC0000000000000000000000000000ffff", AuthToken: "farToken", Status: "active"},
	}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w, err := NewWebhookTokens(f, WebhookTokensConfig{MainAccountSID: tMainSID, MainAuthToken: tokMain,
		RereadInterval: 30 * time.Second, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return w, f, &now
}

func signed(tok string) (map[string]string, string) {
	p := map[string]string{"AccountSid": tSubSID, "CallSid": testCall, "CallStatus": "ringing"}
	return p, Sign(tok, hookURL, p)
}

func TestWebhookTokens(t *testing.T) {
	ctx := context.Background()
	t.Run("the main account's webhooks validate with the main token, without a read", func(t *testing.T) {
		w, f, _ := newTokens(t)
		p, sig := signed(tokMain)
		ok, err := w.Validate(ctx, tMainSID, hookURL, p, sig)
		if !ok || err != nil || len(f.reads) != 0 {
			t.Fatalf("Validate = %v, %v after %d reads; want true, nil, 0", ok, err, len(f.reads))
		}
	})
	t.Run("a subaccount's webhooks validate with its own token, read once", func(t *testing.T) {
		w, f, _ := newTokens(t)
		p, sig := signed(tokSub)
		for range 3 {
			if ok, err := w.Validate(ctx, tSubSID, hookURL, p, sig); !ok || err != nil {
				t.Fatalf("Validate = %v, %v", ok, err)
			}
		}
		if n := f.readsOf(tSubSID); n != 1 {
			t.Fatalf("%d reads, want 1 (cached)", n)
		}
	})
	t.Run("a subaccount's webhook signed with the main token is refused", func(t *testing.T) {
		w, _, _ := newTokens(t)
		p, sig := signed(tokMain)
		if ok, _ := w.Validate(ctx, tSubSID, hookURL, p, sig); ok {
			t.Fatal("subaccount webhook signed with the main token accepted")
		}
	})
	t.Run("a rotated token is picked up after one re-read, and re-reads are rate limited", func(t *testing.T) {
		w, f, now := newTokens(t)
		p, sig := signed(tokSub)
		if ok, _ := w.Validate(ctx, tSubSID, hookURL, p, sig); !ok {
			t.Fatal("first validation failed")
		}
		f.setToken(tSubSID, tokSub2)
		p2, sig2 := signed(tokSub2)
		if ok, err := w.Validate(ctx, tSubSID, hookURL, p2, sig2); !ok || err != nil {
			t.Fatalf("rotated token: Validate = %v, %v", ok, err)
		}
		if n := f.readsOf(tSubSID); n != 2 {
			t.Fatalf("%d reads, want 2 (one re-read)", n)
		}
		// A forger sending bad signatures gets no further reads within the interval.
		for range 10 {
			if ok, _ := w.Validate(ctx, tSubSID, hookURL, p2, "AAAA"); ok {
				t.Fatal("forged signature accepted")
			}
		}
		if n := f.readsOf(tSubSID); n != 2 {
			t.Fatalf("%d reads after 10 forgeries, want still 2: the re-read just happened", n)
		}
		*now = now.Add(31 * time.Second)
		_, _ = w.Validate(ctx, tSubSID, hookURL, p2, "AAAA")
		_, _ = w.Validate(ctx, tSubSID, hookURL, p2, "AAAA")
		if n := f.readsOf(tSubSID); n != 3 {
			t.Fatalf("%d reads after the interval, want 3 (one re-read per interval)", n)
		}
		// The valid token keeps working throughout.
		if ok, _ := w.Validate(ctx, tSubSID, hookURL, p2, sig2); !ok {
			t.Fatal("valid signature refused after forgeries")
		}
	})
	t.Run("an account Strike does not own is refused", func(t *testing.T) {
		w, _, _ := newTokens(t)
		p := map[string]string{"AccountSid": tFarSID}
		ok, err := w.Validate(ctx, tFarSID, hookURL, p, Sign("farToken", hookURL, p))
		if ok || !errors.Is(err, ErrForeignAccount) {
			t.Fatalf("Validate = %v, %v; want false, ErrForeignAccount", ok, err)
		}
	})
	t.Run("an unknown account is refused", func(t *testing.T) {
		w, _, _ := newTokens(t)
		ok, err := w.Validate(ctx, "AC0000000000000000000000000000dead", hookURL, nil, "x")
		if ok || !errors.Is(err, ErrNotFound) {
			t.Fatalf("Validate = %v, %v; want false, ErrNotFound", ok, err)
		}
	})
	t.Run("Twilio down is an error, not a refusal", func(t *testing.T) {
		w, f, _ := newTokens(t)
		f.err = &Error{Kind: ErrUnavailable, Op: opFetchAccount, Err: errors.New("503")}
		p, sig := signed(tokSub)
		ok, err := w.Validate(ctx, tSubSID, hookURL, p, sig)
		if ok || !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Validate = %v, %v; want false, ErrUnavailable", ok, err)
		}
	})
	t.Run("concurrent first webhooks read the account once", func(t *testing.T) {
		w, f, _ := newTokens(t)
		p, sig := signed(tokSub)
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = w.Validate(ctx, tSubSID, hookURL, p, sig)
			}()
		}
		wg.Wait()
		if n := f.readsOf(tSubSID); n != 1 {
			t.Fatalf("%d reads, want 1", n)
		}
	})
	t.Run("the token never shows in an account's text", func(t *testing.T) {
		a := Account{SID: tSubSID, AuthToken: tokSub}
		for _, s := range []string{fmt.Sprint(a), fmt.Sprintf("%+v", a), fmt.Sprintf("%#v", a)} {
			if strings.Contains(s, tokSub) {
				t.Fatalf("token in %q", s)
			}
		}
	})
}
