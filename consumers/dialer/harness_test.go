package dialer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/dialer"
	"github.com/osprey-strike/strike/consumers/ecoprocessor"
	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/internal/running"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/internal/twiliosim"
	"github.com/osprey-strike/strike/producers/callbacks"
	"github.com/osprey-strike/strike/schemas"
)

const (
	mainSID   = "AC00000000000000000000000000000001"
	authToken = "testMainToken1"
	// speed is how much faster than the wall clock virtual time runs in scenario tests: a 10 s
	// ring takes 500 ms.
	speed = 20
)

// vclock is virtual time shared by the dialer and the simulator: it runs speed times faster
// than the wall clock and can jump (a 20-minute retry), firing every timer that falls due.
type vclock struct {
	mu     sync.Mutex
	base   time.Time
	real0  time.Time
	offset time.Duration
	speed  float64
	timers map[*vtimer]struct{}
}

type vtimer struct {
	c    *vclock
	when time.Time
	f    func()
	rt   *time.Timer
	done atomic.Bool
}

func newVClock(speed float64) *vclock {
	return &vclock{base: time.Now(), real0: time.Now(), speed: speed, timers: map[*vtimer]struct{}{}}
}

func (c *vclock) now() time.Time {
	return c.base.Add(c.offset + time.Duration(float64(time.Since(c.real0))*c.speed))
}

func (c *vclock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now()
}

func (c *vclock) after(d time.Duration, f func()) *vtimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &vtimer{c: c, when: c.now().Add(d), f: f}
	c.timers[t] = struct{}{}
	t.rt = time.AfterFunc(time.Duration(float64(d)/c.speed), t.fire)
	return t
}

func (t *vtimer) fire() {
	if t.done.Swap(true) {
		return
	}
	t.c.mu.Lock()
	delete(t.c.timers, t)
	t.c.mu.Unlock()
	t.f()
}

func (t *vtimer) Stop() bool {
	if t.done.Swap(true) {
		return false
	}
	t.rt.Stop()
	t.c.mu.Lock()
	delete(t.c.timers, t)
	t.c.mu.Unlock()
	return true
}

// Jump moves virtual time forward by d and fires the timers due by then.
func (c *vclock) Jump(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	now := c.now()
	var due []*vtimer
	for t := range c.timers {
		if !t.when.After(now) {
			due = append(due, t)
		} else {
			t.rt.Reset(time.Duration(float64(t.when.Sub(now)) / c.speed))
		}
	}
	c.mu.Unlock()
	for _, t := range due {
		t.rt.Stop()
		go t.fire()
	}
}

type dialerClock struct{ *vclock }

func (c dialerClock) AfterFunc(d time.Duration, f func()) dialer.Timer { return c.after(d, f) }

type simClock struct{ *vclock }

func (c simClock) AfterFunc(d time.Duration, f func()) twiliosim.Timer { return c.after(d, f) }

// env is one test world: kfake, a migrated PostgreSQL schema with the demo tenants, the Twilio
// simulator, the gateway's webhook handler publishing callbacks, the real Twilio adapter
// pointed at the simulator, and a reader of strike.callout.events.v1.
type env struct {
	t         testing.TB
	kafka     *kafkatest.Cluster
	db        *pgtest.Schema
	tenancy   tenancy.Store
	validator *schemas.Validator
	clock     *vclock
	sim       *twiliosim.Sim
	gateway   string
	adapter   *twilio.Client
	producer  *kgo.Client
	hooks     *callbacks.Handler // the gateway's webhooks
	opts      envOpts

	mu     sync.Mutex
	events map[string][]event // by eco id
	more   chan struct{}
}

type event struct {
	Type  string
	ID    string
	Value json.RawMessage
	Read  time.Time // when the test read it (wall clock)
}

type envOpts struct {
	speed float64
	cps   float64 // the dialer's CPS per account; 0 = unlimited
	sim   func(*twiliosim.Config)
	// transport wraps the adapter's HTTP transport (fault injection between Strike and Twilio).
	transport func(http.RoundTripper) http.RoundTripper
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	ctx := context.Background()
	db := pgtest.New(t)
	store := tenancy.Store{Pool: db.Pool}
	if err := devdata.Seed(ctx, store); err != nil {
		t.Fatalf("seed: %v", err)
	}
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	// SASL and ACLs on: the test's clients are the superuser, the dialer and the eco-processor
	// their own principals with only their own ACLs.
	k := kafkatest.NewSecured(t)
	e := &env{t: t, kafka: k, db: db, tenancy: store, validator: v, clock: newVClock(cmpOr(o.speed, speed)),
		events: map[string][]event{}, more: make(chan struct{})}
	e.producer = kafkatest.Client(t, k.Brokers, kgo.ProducerLinger(0))
	k.Principal(t, "dialer") // child processes connect as it (kafkatest.ChildPrincipal)

	// The gateway's webhook side, publishing to strike.telephony.callbacks.v1; its handler is
	// mounted once the simulator runs (below).
	mux := http.NewServeMux()
	gw := httptest.NewUnstartedServer(mux)
	gw.Start()
	t.Cleanup(gw.Close)
	e.gateway = gw.URL

	scfg := twiliosim.Config{AccountSID: mainSID, AuthToken: authToken, Clock: simClock{e.clock},
		Subaccounts: []string{devdata.NOCs[0].TwilioSubaccountSID, devdata.NOCs[1].TwilioSubaccountSID},
		HTTPClient:  &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
	if o.sim != nil {
		o.sim(&scfg)
	}
	sim, err := twiliosim.New(scfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	e.sim = sim

	// Each callback is validated with its account's token as in production: the simulator signs
	// a NOC subaccount's webhooks with that subaccount's own token, which the gateway reads with
	// the main credentials from the simulator's Accounts resource; the NOC subaccounts are the
	// seeded noc_tenants.
	accounts, err := twilio.New(twilio.Config{AccountSID: mainSID, AuthToken: authToken, BaseURL: sim.URL()}, zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cbPool := db.PoolAs(t, pg.RoleCallbacks)
	h, err := callbacks.New(e.producer, zerolog.Nop(), nil, callbacks.Config{PublicBaseURL: gw.URL,
		Signatures: accounts.WebhookTokens(0), Accounts: callbacks.NOCSubaccounts{Pool: cbPool},
		CallIns: callbacks.NOCCallIns{Pool: cbPool, MainAccountSID: mainSID}})
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(mux)
	e.hooks = h

	e.opts = o
	e.adapter = e.newAdapter()
	go e.readEvents()
	return e
}

// newAdapter builds a Twilio adapter pointed at the simulator. Each dialer replica gets its own,
// as separate processes would: a limiter shared between replicas would hide what each does.
func (e *env) newAdapter() *twilio.Client {
	e.t.Helper()
	o := e.opts
	var rt http.RoundTripper = &http.Transport{MaxIdleConnsPerHost: 256}
	if o.transport != nil {
		rt = o.transport(rt)
	}
	a, err := twilio.New(twilio.Config{AccountSID: mainSID, AuthToken: authToken, BaseURL: e.sim.URL(), CPS: -1, // the dialer paces
		RetryInitialInterval: 10 * time.Millisecond, RetryMaxElapsed: 2 * time.Second,
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: rt}},
		zerolog.Nop(), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func cmpOr(a, b float64) float64 {
	if a != 0 {
		return a
	}
	return b
}

// readEvents collects strike.callout.events.v1 (read-committed) for the whole test.
func (e *env) readEvents() {
	cl, err := kgo.NewClient(append(e.kafka.Opts(), kgo.SeedBrokers(e.kafka.Brokers), kgo.ConsumeTopics(topics.CalloutEvents),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(50*time.Millisecond))...)
	if err != nil {
		e.t.Error(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(func() { cancel(); cl.Close() })
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		e.mu.Lock()
		for _, r := range fs.Records() {
			ce := cloudevents.Parse(r)
			e.events[string(r.Key)] = append(e.events[string(r.Key)], event{Type: ce.Type, ID: ce.ID, Value: r.Value, Read: time.Now()})
		}
		close(e.more)
		e.more = make(chan struct{})
		e.mu.Unlock()
	}
}

// await waits until cond holds for eco's events and returns them.
func (e *env) await(ecoID string, timeout time.Duration, what string, cond func([]event) bool) []event {
	e.t.Helper()
	deadline := time.After(timeout)
	for {
		e.mu.Lock()
		evs := slices.Clone(e.events[ecoID])
		more := e.more
		e.mu.Unlock()
		if cond(evs) {
			return evs
		}
		select {
		case <-more:
		case <-deadline:
			e.t.Fatalf("ECO %s: %s not reached within %v; events: %v", ecoID, what, timeout, types(evs))
		}
	}
}

// awaitFinal waits for the ring-down's end: a counting acceptance that fills it, exhaustion,
// failover or cancellation.
func (e *env) awaitFinal(ecoID string) []event {
	e.t.Helper()
	return e.awaitFinalWithin(ecoID, 60*time.Second)
}

func (e *env) awaitFinalWithin(ecoID string, timeout time.Duration) []event {
	e.t.Helper()
	return e.await(ecoID, timeout, "the end of the ring-down", func(evs []event) bool {
		for _, ev := range evs {
			switch ev.Type {
			case schemas.TypeCalloutExhausted, schemas.TypeCalloutFailedOver, schemas.TypeCalloutCancelled:
				return true
			case schemas.TypeCalloutAccepted:
				var a schemas.CalloutAccepted
				_ = json.Unmarshal(ev.Value, &a)
				if !a.Late && a.AcceptedCount >= a.PeopleNeeded {
					return true
				}
			}
		}
		return false
	})
}

func types(evs []event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func of[T any](t testing.TB, evs []event, typ string) []T {
	t.Helper()
	var out []T
	for _, e := range evs {
		if e.Type == typ {
			var v T
			if err := json.Unmarshal(e.Value, &v); err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
	}
	return out
}

// dialerReplica runs one dialer until the test ends (or stop is called).
type dialerReplica struct {
	*running.Component
	d *dialer.Dialer
}

func (e *env) startDialer(name string, hook func(*dialer.Dialer)) *dialerReplica {
	e.t.Helper()
	return e.startDialerWith(name, nil, hook)
}

// startDialerWith starts a replica whose Config cfg may change first.
func (e *env) startDialerWith(name string, cfg func(*dialer.Config), hook func(*dialer.Dialer)) *dialerReplica {
	e.t.Helper()
	c := dialer.Config{Brokers: e.kafka.Brokers, Security: e.kafka.Principal(e.t, "dialer"), WebhookBase: e.gateway, TransactionalID: "strike-dialer-test-" + name,
		Clock: dialerClock{e.clock}, PlaceRetry: 5 * time.Second, ReconcileMargin: 60 * time.Second, RestoreTimeout: 10 * time.Second, KafkaOpts: fastGroupOpts()}
	c.CPS = -1
	if e.opts.cps > 0 {
		c.CPS = e.opts.cps
	}
	if cfg != nil {
		cfg(&c)
	}
	d, err := dialer.New(dialer.Deps{Store: dialer.PGStore{Pool: e.db.PoolAs(e.t, pg.RoleDialer)}, Twilio: e.newAdapter(), Validator: e.validator, Log: testLog(e.t).With().Str("replica", name).Logger()}, c)
	if err != nil {
		e.t.Fatal(err)
	}
	if hook != nil {
		hook(d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &dialerReplica{Component: running.Start(e.t, "dialer "+name, ctx, cancel, d.Run), d: d}
}

func (e *env) startECOProcessor() {
	e.t.Helper()
	p, err := ecoprocessor.New(ecoprocessor.Deps{Store: ecoprocessor.PGStore{Pool: e.db.PoolAs(e.t, pg.RoleECOProcessor)}, Validator: e.validator, Log: zerolog.Nop()},
		ecoprocessor.Config{Brokers: e.kafka.Brokers, Security: e.kafka.Principal(e.t, "eco-processor"), TransactionalID: "strike-eco-processor-test", KafkaOpts: fastGroupOpts()})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	e.t.Cleanup(func() { cancel(); <-done })
}

// productionGroupOpts keep the dialer's own group timings (failover measurements).
func productionGroupOpts() []kgo.Opt {
	return []kgo.Opt{kgo.FetchMaxWait(50 * time.Millisecond), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
}

func fastGroupOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.SessionTimeout(1500 * time.Millisecond),
		kgo.HeartbeatInterval(150 * time.Millisecond),
		kgo.RebalanceTimeout(3 * time.Second),
		kgo.TransactionTimeout(3 * time.Second),
		kgo.FetchMaxWait(50 * time.Millisecond),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}
}

var phoneSeq atomic.Int64

// osp creates an OSP linked (active) to Northwind with a roster of n fresh numbers in region
// metro-north, and returns its id and the numbers in roster order.
func (e *env) osp(n int) (string, []string) {
	e.t.Helper()
	ctx := context.Background()
	i := phoneSeq.Add(1)
	id := fmt.Sprintf("osp-t%d", i)
	must(e.t, e.tenancy.UpsertOSP(ctx, tenancy.OSP{ID: id, Name: id, JobPrefix: fmt.Sprintf("T%d", i)}))
	must(e.t, e.tenancy.UpsertLink(ctx, tenancy.Link{NOCTenantID: devdata.NOCNorthwind, OSPTenantID: id, Status: tenancy.LinkActive}))
	var phones []string
	var cs []tenancy.Contact
	for p := 1; p <= n; p++ {
		phone := fmt.Sprintf("+1555%03d%04d", i%1000, p)
		phones = append(phones, phone)
		cs = append(cs, tenancy.Contact{Position: p, Name: fmt.Sprintf("Person %d of %s", p, id), Phone: phone})
	}
	if n > 0 {
		must(e.t, e.tenancy.SetRoster(ctx, id, devdata.RegionMetro, id+" on-call", cs))
	}
	return id, phones
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// created produces an eco.created as the eco-processor would, and returns the ECO id.
func (e *env) created(osp string, eng schemas.Engagement, people int) string {
	e.t.Helper()
	reqID := uuid.NewString()
	ev := schemas.ECOCreated{ECOID: ids.ECOID(devdata.NOCNorthwind, reqID), RequestID: reqID, JobNumber: "JOB-" + reqID[:8], Number: 1,
		NOCTenantID: devdata.NOCNorthwind, OSPTenantID: osp, Region: devdata.RegionMetro, Priority: "P1",
		Site: schemas.Site{Name: "Exchange 7"}, Summary: "Fibre cut", RequestedBy: schemas.Requester{Name: "Noor"},
		PeopleNeeded: people, Engagement: eng, CreatedAt: e.clock.Now().UTC()}
	if ev.Engagement.FailoverOSPIDs == nil {
		ev.Engagement.FailoverOSPIDs = []string{}
	}
	e.produceEvent(ev.ECOID, schemas.TypeECOCreated, ev)
	return ev.ECOID
}

func (e *env) produceEvent(ecoID, typ string, v any) {
	e.t.Helper()
	value, err := json.Marshal(v)
	must(e.t, err)
	must(e.t, e.validator.Validate(typ, value))
	rec := cloudevents.Record(topics.ECOEvents, ecoID, cloudevents.Event{ID: ids.EventID(typ, ecoID), Type: typ,
		Source: "test", Subject: ecoID, Time: time.Now()}, value)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(e.t, e.producer.ProduceSync(ctx, rec).FirstErr())
}

func (e *env) cancel(ecoID, osp string) {
	e.produceEvent(ecoID, schemas.TypeECOCancelled, schemas.ECOCancelled{ECOID: ecoID, RequestID: uuid.NewString(),
		NOCTenantID: devdata.NOCNorthwind, OSPTenantID: osp, JobNumber: "JOB", CancelledBy: schemas.Requester{Name: "Noor"},
		CancelledAt: time.Now().UTC()})
}

// callsTo lists the simulator's calls to the numbers, in creation order, as "index of number".
func (e *env) callSequence(phones []string) []int {
	calls := e.sim.Calls()
	slices.SortFunc(calls, func(a, b twiliosim.CallRecord) int { return a.Created.Compare(b.Created) })
	var seq []int
	for _, c := range calls {
		if i := slices.Index(phones, c.To); i >= 0 {
			seq = append(seq, i+1)
		}
	}
	return seq
}

func engagement(loops, retries, retryAfter, ring int, failover ...string) schemas.Engagement {
	if failover == nil {
		failover = []string{}
	}
	return schemas.Engagement{LoopCount: loops, MaxRetries: retries, RetryAfterSeconds: retryAfter,
		RingDurationSeconds: ring, FailoverOSPIDs: failover}
}

// createdFor produces an eco.created of noc's ECO at osp (one pass, 10 s ring).
func (e *env) createdFor(noc, osp string) string {
	e.t.Helper()
	ev := e.createdEvent(noc, osp)
	e.produceEvent(ev.ECOID, schemas.TypeECOCreated, ev)
	return ev.ECOID
}

// createdEvent is an eco.created of noc's ECO at osp (P1, one pass, 10 s ring).
func (e *env) createdEvent(noc, osp string) schemas.ECOCreated {
	reqID := uuid.NewString()
	return schemas.ECOCreated{ECOID: ids.ECOID(noc, reqID), RequestID: reqID, JobNumber: "JOB-" + reqID[:8], Number: 1,
		NOCTenantID: noc, OSPTenantID: osp, Region: devdata.RegionMetro, Priority: "P1",
		Site: schemas.Site{Name: "Exchange 7"}, Summary: "Fibre cut", RequestedBy: schemas.Requester{Name: "Noor"},
		PeopleNeeded: 1, Engagement: engagement(1, 0, 1200, 10), CreatedAt: e.clock.Now().UTC()}
}

// createdRecord is ev as the eco-processor writes it.
func (e *env) createdRecord(ev schemas.ECOCreated) *kgo.Record {
	e.t.Helper()
	value, err := json.Marshal(ev)
	must(e.t, err)
	must(e.t, e.validator.Validate(schemas.TypeECOCreated, value))
	return cloudevents.Record(topics.ECOEvents, ev.ECOID, cloudevents.Event{ID: ids.EventID(schemas.TypeECOCreated, ev.ECOID),
		Type: schemas.TypeECOCreated, Source: "test", Subject: ev.ECOID, Time: time.Now()}, value)
}

// testLog logs to the test's output when STRIKE_TEST_LOG is set.
func testLog(t testing.TB) zerolog.Logger {
	if os.Getenv("STRIKE_TEST_LOG") == "" {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.NewTestWriter(t)).With().Timestamp().Logger()
}
