package renderpoller_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/rendersim"
	"github.com/osprey-strike/strike/internal/secrets"
	"github.com/osprey-strike/strike/producers/renderpoller"
)

// The sealed client secret is bound to its base URL and client id too: someone who can write
// render_instances but holds no key cannot point an instance somewhere else and have the poller
// send the secret there.
func TestSealedSecretIsBoundToBaseURLAndClientID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, rendersim.Config{})
	ctx := context.Background()
	e.addInstance("acme-main", devdata.OSPAcme, "", 100*time.Millisecond)
	e.addInstance("bolt-main", devdata.OSPBolt, "", 100*time.Millisecond)
	var stolen atomic.Int32
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	defer thief.Close()
	_, err := e.db.Pool.Exec(ctx, `UPDATE render_instances SET base_url = $1 WHERE id = 'acme-main'`, thief.URL)
	must(t, err)
	// Another client id on the same Render instance.
	_, err = e.db.Pool.Exec(ctx, `UPDATE render_instances SET client_id = 'someone-else' WHERE id = 'bolt-main'`)
	must(t, err)

	r := e.startPoller(e.fastPoller("solo"), nil)
	eventually(t, 5*time.Second, "both secrets refused", func() bool {
		return r.poller.Polls("acme-main", "credentials") > 0 && r.poller.Polls("bolt-main", "credentials") > 0
	})
	r.Stop(t)
	if n := stolen.Load(); n != 0 {
		t.Fatalf("the poller sent %d requests to the base URL written behind the admin's back", n)
	}
}

// Changing where a secret is sent needs the secret again.
func TestChangingBaseURLOrClientIDNeedsTheSecretAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, rendersim.Config{})
	ctx := context.Background()
	admin := e.admin()
	spec := renderpoller.InstanceSpec{ID: "acme-main", OSPTenantID: devdata.OSPAcme, BaseURL: "https://acme.render.example", ClientID: "acme"}
	must(t, admin.Add(ctx, spec, "sEcReT-1"))
	newURL, newClient, sameURL := "https://elsewhere.example", "acme-2", spec.BaseURL
	for name, u := range map[string]renderpoller.InstanceUpdate{
		"base URL":  {BaseURL: &newURL},
		"client id": {ClientID: &newClient},
	} {
		err := admin.Update(ctx, "acme-main", u)
		if !errors.Is(err, renderpoller.ErrInvalid) || !strings.Contains(err.Error(), "secret") {
			t.Errorf("changing the %s without the secret: %v, want ErrInvalid asking for the secret", name, err)
		}
	}
	interval := 5 * time.Second
	must(t, admin.Update(ctx, "acme-main", renderpoller.InstanceUpdate{BaseURL: &sameURL, PollInterval: &interval}))
	s2 := secrets.Secret("sEcReT-2")
	must(t, admin.Update(ctx, "acme-main", renderpoller.InstanceUpdate{BaseURL: &newURL, ClientID: &newClient, Secret: &s2}))
	var sealed string
	must(t, e.db.Pool.QueryRow(ctx, `SELECT client_secret_sealed FROM render_instances WHERE id = 'acme-main'`).Scan(&sealed))
	got, err := e.keyring.Open(sealed, secrets.RenderSecretAAD(devdata.OSPAcme, "acme-main", newURL, newClient))
	if err != nil || got.Reveal() != s2.Reveal() {
		t.Fatalf("after the change the secret does not open under the new binding: %v", err)
	}
}

// Secrets sealed before the binding (v1: OSP and instance only) are rebound by rotate-keys,
// which opens them under the old binding and re-seals them under the new one; until then the
// poller refuses them.
func TestRotateKeysRebindsSecretsSealedBeforeTheBinding(t *testing.T) {
	t.Parallel()
	e := newEnv(t, rendersim.Config{})
	ctx := context.Background()
	e.addInstance("acme-main", devdata.OSPAcme, "", 100*time.Millisecond)
	secret := e.secrets[len(e.secrets)-1]
	legacy, err := e.keyring.Seal(secrets.Secret(secret), secrets.RenderSecretAADv1(devdata.OSPAcme, "acme-main"))
	must(t, err)
	_, err = e.db.Pool.Exec(ctx, `UPDATE render_instances SET client_secret_sealed = $1 WHERE id = 'acme-main'`, legacy)
	must(t, err)

	rep, err := e.admin().RotateKeys(ctx)
	must(t, err)
	if rep.Total != 1 || rep.Rebound != 1 || rep.Rotated != 1 || rep.Failed != 0 {
		t.Fatalf("rotate-keys = %+v, want the one legacy secret rebound", rep)
	}
	rep, err = e.admin().RotateKeys(ctx)
	must(t, err)
	if rep.Current != 1 || rep.Rebound != 0 {
		t.Fatalf("second rotate-keys = %+v, want it current", rep)
	}
	r := e.startPoller(e.fastPoller("solo"), nil)
	eventually(t, 5*time.Second, "polls with the rebound secret", func() bool { return r.poller.Polls("acme-main", "ok") > 0 })
	r.Stop(t)
}
