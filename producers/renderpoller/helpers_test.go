package renderpoller_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/ecoprocessor"
	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/internal/render"
	"github.com/osprey-strike/strike/internal/rendersim"
	"github.com/osprey-strike/strike/internal/secrets"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/producers/renderpoller"
	"github.com/osprey-strike/strike/schemas"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// env is one test's world: a migrated schema with the demo tenants, a kfake broker, the Render
// simulator on a real HTTP server with a manual clock, a keyring, and a log buffer that every
// component writes to, so a test can scan it for secrets.
type env struct {
	t         *testing.T
	db        *pgtest.Schema
	kafka     *kafkatest.Cluster
	sim       *rendersim.Server
	clock     *rendersim.ManualClock
	simURL    string
	keys      string // STRIKE_SECRET_KEYS value
	keyring   *secrets.Keyring
	validator *schemas.Validator
	logs      *syncBuffer

	mu      sync.Mutex
	secrets []string // every client secret handed out
}

func newEnv(t *testing.T, simCfg rendersim.Config) *env {
	t.Helper()
	db := pgtest.New(t)
	if err := devdata.Seed(context.Background(), tenancy.Store{Pool: db.Pool}); err != nil {
		t.Fatalf("seed: %v", err)
	}
	clock := rendersim.NewManualClock(t0)
	sim := rendersim.New(clock, simCfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close) // runs first: releases requests held by timeout faults
	keys := "k1:" + secrets.GenerateKey()
	kr, err := secrets.ParseKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, db: db, kafka: kafkatest.NewSecured(t), sim: sim, clock: clock, simURL: srv.URL,
		keys: keys, keyring: kr, validator: v, logs: &syncBuffer{}}
}

func (e *env) admin() renderpoller.Admin {
	return renderpoller.Admin{Pool: e.db.Pool, Keyring: e.keyring}
}

func (e *env) logger() zerolog.Logger {
	return zerolog.New(e.logs).Level(zerolog.DebugLevel).With().Timestamp().Logger()
}

// addInstance creates a simulator instance and registers it for osp/region, returning its id.
func (e *env) addInstance(id, osp, region string, interval time.Duration) {
	e.t.Helper()
	secret := "sEcReT-" + id + "-" + uuid.NewString()
	e.mu.Lock()
	e.secrets = append(e.secrets, secret)
	e.mu.Unlock()
	must(e.t, e.sim.AddInstance(id, id+"-client", secret))
	must(e.t, e.admin().Add(context.Background(), renderpoller.InstanceSpec{
		ID: id, OSPTenantID: osp, BaseURL: rendersim.BaseURL(e.simURL, id), ClientID: id + "-client",
		PollInterval: interval, Region: region,
	}, secrets.Secret(secret)))
}

// addInstances adds n instances of Acme, one per region r00, r01, …
func (e *env) addInstances(n int, interval time.Duration) []string {
	e.t.Helper()
	var out []string
	for i := range n {
		id := fmt.Sprintf("inst-%02d", i)
		e.addInstance(id, devdata.OSPAcme, fmt.Sprintf("r%02d", i), interval)
		out = append(out, id)
	}
	return out
}

// fastPoller is a test configuration: short leases and quick Render retries.
func (e *env) fastPoller(replica string) renderpoller.Config {
	return renderpoller.Config{
		Brokers: e.kafka.Brokers, Security: e.kafka.Principal(e.t, "render-poller"), ReplicaID: replica,
		LeaseTTL: 1500 * time.Millisecond, LeaseTick: 250 * time.Millisecond,
		StartSpread: 100 * time.Millisecond, MaxBackoff: 2 * time.Second, PollTimeout: 5 * time.Second,
		Render: fastRender(),
		Now:    e.clock.Now,
	}
}

func fastRender() render.InstanceConfig {
	return render.InstanceConfig{Timeout: 500 * time.Millisecond, MaxRetries: 1,
		BackoffInitial: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond}
}

// replica is a running Poller or Dispatcher.
type replica struct {
	poller *renderpoller.Poller
	disp   *renderpoller.Dispatcher
	stop   context.CancelFunc
	done   chan error
	once   sync.Once
}

func (e *env) startPoller(cfg renderpoller.Config, hook func(*renderpoller.Poller)) *replica {
	e.t.Helper()
	p, err := renderpoller.New(renderpoller.Deps{Pool: e.db.PoolAs(e.t, pg.RoleRenderPoller), Keyring: e.keyring, Log: e.logger(),
		Registry: prometheus.NewRegistry()}, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	if hook != nil {
		hook(p)
	}
	return e.run(&replica{poller: p}, p.Run)
}

func (e *env) startDispatcher(cfg renderpoller.DispatchConfig) *replica {
	e.t.Helper()
	cfg.Brokers, cfg.Security = e.kafka.Brokers, e.kafka.Principal(e.t, "render-poller")
	d, err := renderpoller.NewDispatcher(renderpoller.DispatchDeps{Pool: e.db.PoolAs(e.t, pg.RoleRenderPoller), Keyring: e.keyring,
		Validator: e.validator, Log: e.logger(), Registry: prometheus.NewRegistry()}, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.run(&replica{disp: d}, d.Run)
}

func (e *env) run(r *replica, run func(context.Context) error) *replica {
	ctx, cancel := context.WithCancel(context.Background())
	r.stop, r.done = cancel, make(chan error, 1)
	go func() { r.done <- run(ctx) }()
	e.t.Cleanup(func() { r.Stop(e.t) })
	return r
}

// Stop cancels the replica and waits for Run to return.
func (r *replica) Stop(t *testing.T) {
	r.once.Do(func() {
		r.stop()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("replica stopped with error: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("replica did not stop within 30s")
		}
	})
}

// eventually polls cond every 20 ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// change is a decoded strike.render.changes.v1 record.
type change struct {
	ce  cloudevents.Event
	key string
	ev  schemas.RenderJobChanged
	raw *kgo.Record
}

// readChanges reads the changes topic until want job-changed events have arrived, validating
// every record against its schema.
func (e *env) readChanges(want int, timeout time.Duration) []change {
	e.t.Helper()
	var out []change
	for _, r := range e.readTopic(topics.RenderChanges, want, timeout, schemas.TypeRenderJobChanged) {
		var c change
		c.raw, c.ce, c.key = r, cloudevents.Parse(r), string(r.Key)
		must(e.t, json.Unmarshal(r.Value, &c.ev))
		out = append(out, c)
	}
	if len(out) < want {
		e.t.Fatalf("read %d change events, want at least %d", len(out), want)
	}
	return out
}

// readDispatches reads dispatch events until want have arrived.
func (e *env) readDispatches(want int, timeout time.Duration) []schemas.RenderDispatch {
	e.t.Helper()
	var out []schemas.RenderDispatch
	for _, r := range e.readTopic(topics.RenderChanges, want, timeout, schemas.TypeRenderDispatch) {
		var d schemas.RenderDispatch
		must(e.t, json.Unmarshal(r.Value, &d))
		if ce := cloudevents.Parse(r); ce.ID != ids.EventID(schemas.TypeRenderDispatch, d.ECOID, fmt.Sprint(d.Attempt)) {
			e.t.Errorf("dispatch event ce_id %s is not derived from eco_id and attempt", ce.ID)
		}
		out = append(out, d)
	}
	if len(out) < want {
		e.t.Fatalf("read %d dispatch events, want at least %d", len(out), want)
	}
	return out
}

// readTopic reads topic from the start until want records of type typ arrived or timeout.
func (e *env) readTopic(topic string, want int, timeout time.Duration, typ string) []*kgo.Record {
	e.t.Helper()
	cl := kafkatest.Client(e.t, e.kafka.Brokers, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		for _, r := range fs.Records() {
			ce := cloudevents.Parse(r)
			if err := e.validator.Validate(ce.Type, r.Value); err != nil {
				e.t.Errorf("record on %s does not match its schema %s: %v", topic, ce.Type, err)
			}
			if ce.Type == typ {
				out = append(out, r)
			}
		}
	}
	return out
}

// eco allocates a real job number for a new ECO of Northwind at Acme (or osp) and produces its
// eco.created, as the eco-processor would.
func (e *env) eco(osp string) schemas.ECOCreated {
	e.t.Helper()
	ctx := context.Background()
	reqID := uuid.NewString()
	allocs, err := ecoprocessor.PGStore{Pool: e.db.Pool}.Allocate(ctx, []ecoprocessor.AllocationRequest{{
		RequestID: reqID, ECOID: ids.ECOID(devdata.NOCNorthwind, reqID), NOCTenantID: devdata.NOCNorthwind, OSPTenantID: osp, Region: devdata.RegionMetro,
	}})
	must(e.t, err)
	if !allocs[0].Created {
		e.t.Fatalf("allocation for %s rejected: %s %s", osp, allocs[0].Reason, allocs[0].Detail)
	}
	a := allocs[0]
	ev := schemas.ECOCreated{
		ECOID: a.ECOID, RequestID: reqID, JobNumber: a.JobNumber, Number: a.Number, NOCTenantID: devdata.NOCNorthwind,
		OSPTenantID: osp, Region: devdata.RegionMetro, Priority: "P1", Site: schemas.Site{Name: "Exchange 7", Address: "1 Main St"},
		Summary: "Fibre cut", RequestedBy: schemas.Requester{Name: "Noor"}, PeopleNeeded: 1,
		Engagement: schemas.Engagement{LoopCount: 2, RetryAfterSeconds: 1200, FailoverOSPIDs: []string{}, RingDurationSeconds: 25},
		CreatedAt:  a.AllocatedAt.UTC(),
	}
	e.produceECO(ev)
	return ev
}

func (e *env) produceECO(ev schemas.ECOCreated) {
	e.t.Helper()
	value, err := json.Marshal(ev)
	must(e.t, err)
	must(e.t, e.validator.Validate(schemas.TypeECOCreated, value))
	rec := cloudevents.Record(topics.ECOEvents, ev.ECOID, cloudevents.Event{
		ID: ids.EventID(schemas.TypeECOCreated, ev.ECOID), Type: schemas.TypeECOCreated, Source: "strike/test", Time: ev.CreatedAt,
	}, value)
	cl := kafkatest.Client(e.t, e.kafka.Brokers)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(e.t, cl.ProduceSync(ctx, rec).FirstErr())
}

// assertNoSecret fails if s contains any client secret handed out in this test.
func (e *env) assertNoSecret(what, s string) {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, sec := range e.secrets {
		if strings.Contains(s, sec) {
			e.t.Errorf("%s contains a client secret", what)
		}
	}
}

func (e *env) stats(instance string) rendersim.Stats {
	e.t.Helper()
	st, err := e.sim.Requests(instance)
	must(e.t, err)
	return st
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func secretOf(s string) secrets.Secret { return secrets.Secret(s) }
