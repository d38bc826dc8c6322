package renderpoller_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/rendersim"
	"github.com/osprey-strike/strike/internal/secrets"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/producers/renderpoller"
)

func TestAdminRefusesInvalidInstancesWithoutQuotingTheSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t, rendersim.Config{})
	const secret = "sEcReT-do-not-print-me"
	e.secrets = append(e.secrets, secret)
	good := renderpoller.InstanceSpec{ID: "acme-main", OSPTenantID: devdata.OSPAcme, BaseURL: "https://acme.render.example", ClientID: "acme"}
	must(t, e.admin().Add(context.Background(), good, secret))

	tests := []struct {
		name   string
		spec   func(s *renderpoller.InstanceSpec)
		secret secrets.Secret
		want   error
		text   string
	}{
		{"id with upper case", func(s *renderpoller.InstanceSpec) { s.ID = "Acme" }, secret, renderpoller.ErrInvalid, `instance id "Acme"`},
		{"relative base URL", func(s *renderpoller.InstanceSpec) { s.ID, s.BaseURL = "x1", "acme.render.example" }, secret, renderpoller.ErrInvalid, "base URL must be absolute"},
		{"base URL with credentials", func(s *renderpoller.InstanceSpec) { s.ID, s.BaseURL = "x2", "https://u:"+secret+"@acme.example" }, secret, renderpoller.ErrInvalid, "must not carry credentials"},
		{"no secret", func(s *renderpoller.InstanceSpec) { s.ID = "x3" }, "", renderpoller.ErrInvalid, "client secret is required"},
		{"interval too short", func(s *renderpoller.InstanceSpec) { s.ID, s.PollInterval = "x4", time.Millisecond }, secret, renderpoller.ErrInvalid, "poll interval 1ms"},
		{"unknown OSP", func(s *renderpoller.InstanceSpec) { s.ID, s.OSPTenantID = "x5", "osp-nobody" }, secret, renderpoller.ErrInvalid, "unknown OSP tenant"},
		{"id taken", func(*renderpoller.InstanceSpec) {}, secret, renderpoller.ErrExists, `"acme-main"`},
		{"second default instance of the OSP", func(s *renderpoller.InstanceSpec) { s.ID = "acme-two" }, secret, renderpoller.ErrExists, "render_instances_osp_region"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := good
			tt.spec(&spec)
			err := e.admin().Add(context.Background(), spec, tt.secret)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("Add = %v, want %v mentioning %q", err, tt.want, tt.text)
			}
			e.assertNoSecret("error", err.Error())
		})
	}
}

func TestKeyRotationResealsEverySecretUnderTheNewestKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, rendersim.Config{})
	e.addInstances(3, 100*time.Millisecond)
	ctx := context.Background()

	// Append k2 and rotate: every secret moves to k2; a second run has nothing to do.
	k2 := "k2:" + secrets.GenerateKey()
	kr2, err := secrets.ParseKeyring(e.keys + "," + k2)
	must(t, err)
	admin2 := renderpoller.Admin{Pool: e.db.Pool, Keyring: kr2}
	rep, err := admin2.RotateKeys(ctx)
	must(t, err)
	if rep.Total != 3 || rep.Rotated != 3 || rep.Current != 0 || rep.Failed != 0 {
		t.Fatalf("first rotation = %+v, want 3 rotated", rep)
	}
	rep, err = admin2.RotateKeys(ctx)
	must(t, err)
	if rep.Rotated != 0 || rep.Current != 3 {
		t.Fatalf("second rotation = %+v, want 3 already current", rep)
	}
	list, err := admin2.List(ctx, devdata.OSPAcme)
	must(t, err)
	for _, in := range list {
		if in.SecretKeyID != "k2" {
			t.Errorf("instance %s sealed under %q after rotation, want k2", in.ID, in.SecretKeyID)
		}
	}

	// Drop k1: the poller still opens every secret and polls.
	e.keyring = mustKeyring(t, k2)
	// A secret copied onto another instance's row does not open there (AAD binding).
	_, err = e.db.Pool.Exec(ctx, `UPDATE render_instances SET client_secret_sealed =
		(SELECT client_secret_sealed FROM render_instances WHERE id = 'inst-00') WHERE id = 'inst-02'`)
	must(t, err)
	r := e.startPoller(e.fastPoller("solo"), nil)
	eventually(t, 5*time.Second, "polls with secrets sealed under k2 only", func() bool {
		return r.poller.Polls("inst-00", "ok") > 0 && r.poller.Polls("inst-01", "ok") > 0
	})
	eventually(t, 5*time.Second, "the copied secret to be refused", func() bool { return r.poller.Polls("inst-02", "credentials") > 0 })

	// A value sealed under a key that is no longer configured is reported, not lost.
	rep, err = renderpoller.Admin{Pool: e.db.Pool, Keyring: mustKeyring(t, "k3:"+secrets.GenerateKey())}.RotateKeys(ctx)
	must(t, err)
	if rep.Failed != 3 || !strings.Contains(strings.Join(rep.Failures, "\n"), `"k2"`) {
		t.Errorf("rotation without k2 = %+v, want 3 failures naming key k2", rep)
	}
	e.assertNoSecret("rotation report", strings.Join(rep.Failures, "\n"))
}

func mustKeyring(t *testing.T, s string) *secrets.Keyring {
	t.Helper()
	kr, err := secrets.ParseKeyring(s)
	must(t, err)
	return kr
}

func TestSecretNeverAppearsInLogsEventsOrErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, rendersim.Config{})
	ctx := context.Background()
	// Acme's instance is healthy and has a job; Bolt's stored secret is wrong, so every poll
	// and every dispatch to it fails as unauthorized.
	e.addInstance("acme-main", devdata.OSPAcme, "", 100*time.Millisecond)
	e.addInstance("bolt-main", devdata.OSPBolt, "", 100*time.Millisecond)
	wrong := secretOf("sEcReT-wrong-" + time.Now().Format(time.RFC3339Nano))
	e.secrets = append(e.secrets, wrong.Reveal())
	must(t, e.admin().Update(ctx, "bolt-main", renderpoller.InstanceUpdate{Secret: &wrong}))

	r := e.startPoller(e.fastPoller("solo"), nil)
	d := e.startDispatcher(fastDispatch())
	e.eco(devdata.OSPAcme)
	e.eco(devdata.OSPBolt)
	eventually(t, 10*time.Second, "a change event and failed Bolt polls and dispatches", func() bool {
		return r.poller.Polls("bolt-main", "unauthorized") > 0 && d.disp.DispatchResults("failed") > 0 && d.disp.DispatchResults("created") > 0
	})
	e.readChanges(1, 10*time.Second)

	// Every record, value and headers, on the topics the component writes.
	for _, topic := range []string{topics.RenderChanges, topics.DLQ} {
		cl := kafkaClient(t, e, topic)
		fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		for fctx.Err() == nil {
			cl.PollFetches(fctx).EachRecord(func(rec *kgo.Record) {
				e.assertNoSecret("record value on "+topic, string(rec.Value))
				for _, h := range rec.Headers {
					e.assertNoSecret("record header on "+topic, h.Key+"="+string(h.Value))
				}
			})
		}
		cancel()
	}
	// What an operator sees.
	list, err := e.admin().List(ctx, "")
	must(t, err)
	out, err := json.Marshal(list)
	must(t, err)
	e.assertNoSecret("instance list", string(out))
	if !strings.Contains(string(out), "unauthorized") {
		t.Errorf("instance list does not show Bolt's failing polls: %s", out)
	}
	// Errors.
	bad := renderpoller.InstanceSpec{ID: "x", OSPTenantID: devdata.OSPAcme, BaseURL: "ftp://" + wrong.Reveal(), ClientID: "c"}
	if err := e.admin().Add(ctx, bad, wrong); err != nil {
		e.assertNoSecret("admin error", err.Error())
	}
	r.Stop(t)
	d.Stop(t)
	logs := e.logs.String()
	if !strings.Contains(logs, "render poll failed") || !strings.Contains(logs, "render job not created") {
		t.Errorf("the failures were not logged; the scan proves nothing")
	}
	e.assertNoSecret("log output", logs)
}

func kafkaClient(t *testing.T, e *env, topic string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append(e.kafka.Opts(), kgo.SeedBrokers(e.kafka.Brokers), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))...)
	must(t, err)
	t.Cleanup(cl.Close)
	return cl
}
