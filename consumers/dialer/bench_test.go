package dialer_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/dialer"
	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/internal/twiliosim"
	"github.com/osprey-strike/strike/schemas"
)

// latencyClock is the wall clock, recording how late each timer fires after its deadline.
type latencyClock struct {
	mu   sync.Mutex
	late []time.Duration
}

func (c *latencyClock) Now() time.Time { return time.Now() }

func (c *latencyClock) AfterFunc(d time.Duration, f func()) dialer.Timer {
	due := time.Now().Add(d)
	return time.AfterFunc(d, func() {
		l := time.Since(due)
		c.mu.Lock()
		c.late = append(c.late, l)
		c.mu.Unlock()
		f()
	})
}

func (c *latencyClock) samples() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.late)
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkRingDowns10k starts 10,000 concurrent ring-downs against the simulator (CPS
// unlimited, real clock) and reports, each beside a baseline measured in the same run:
//
//   - first_call p50/p99: from producing eco.created to the simulator receiving the ECO's
//     first CreateCall; baseline: a bare CreateCall round trip through the adapter;
//   - bytes/ringdown: heap after GC with N ring-downs live minus before, per ring-down, minus
//     the simulator's own heap per live call (baseline, measured with bare CreateCalls);
//   - timer lateness p99: how late the reconciliation timers of the live ring-downs fire;
//     baseline: plain time.AfterFunc timers as many, as spread.
func BenchmarkRingDowns10k(b *testing.B) {
	n := 10_000
	if s := os.Getenv("BENCH_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	ctx := context.Background()
	db := pgtest.New(b)
	store := tenancy.Store{Pool: db.Pool}
	must(b, devdata.Seed(ctx, store))
	v, err := schemas.NewValidator()
	must(b, err)
	k := kafkatest.New(b)

	var (
		mu        sync.Mutex
		firstCall = make(map[string]time.Time, n)
		allFirst  = make(chan struct{})
	)
	sim, err := twiliosim.New(twiliosim.Config{AccountSID: mainSID, AuthToken: authToken,
		Subaccounts: []string{devdata.NOCs[0].TwilioSubaccountSID},
		// Nobody answers and no status callback arrives, so every ring-down stays live and is
		// reconciled by its timer.
		Faults: twiliosim.Faults{Lost: true},
		OnCallCreated: func(c twiliosim.CallRecord) {
			u, err := url.Parse(c.StatusCallback)
			if err != nil {
				return
			}
			eco := u.Query().Get("eco_id")
			mu.Lock()
			defer mu.Unlock()
			if _, ok := firstCall[eco]; !ok && eco != "" {
				firstCall[eco] = time.Now()
				if len(firstCall) == n {
					close(allFirst)
				}
			}
		}}, zerolog.Nop())
	must(b, err)
	must(b, sim.Start(ctx))
	b.Cleanup(func() { _ = sim.Close() })
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	adapter, err := twilio.New(twilio.Config{AccountSID: mainSID, AuthToken: authToken, BaseURL: sim.URL(), CPS: -1, HTTPClient: hc}, zerolog.Nop(), nil)
	must(b, err)

	// Baseline 1: bare CreateCall round trips (also the simulator's heap per live call).
	req := twilio.CallRequest{SubaccountSID: devdata.NOCs[0].TwilioSubaccountSID, To: "+15559990000", From: devdata.NOCs[0].CallerID,
		Timeout: 60 * time.Second, StatusCallbackURL: "http://127.0.0.1:1/twilio/status?eco_id=baseline", Twiml: twilio.SayTwiML("x")}
	const baseN = 2000
	h0 := heap()
	var rtts []time.Duration
	for range baseN {
		t0 := time.Now()
		_, err := adapter.CreateCall(ctx, req)
		must(b, err)
		rtts = append(rtts, time.Since(t0))
	}
	simPerCall := float64(int64(heap())-int64(h0)) / baseN

	// Baseline 2: plain timers, n of them spread over one second, firing 3 s out.
	var tmu sync.Mutex
	var plainLate []time.Duration
	var twg sync.WaitGroup
	for i := range n {
		twg.Add(1)
		d := 3*time.Second + time.Duration(i)*time.Second/time.Duration(n)
		due := time.Now().Add(d)
		time.AfterFunc(d, func() {
			tmu.Lock()
			plainLate = append(plainLate, time.Since(due))
			tmu.Unlock()
			twg.Done()
		})
	}
	twg.Wait()

	osp := "osp-bench"
	must(b, store.UpsertOSP(ctx, tenancy.OSP{ID: osp, Name: osp, JobPrefix: "BNCH"}))
	must(b, store.UpsertLink(ctx, tenancy.Link{NOCTenantID: devdata.NOCNorthwind, OSPTenantID: osp, Status: tenancy.LinkActive}))
	must(b, store.SetRoster(ctx, osp, devdata.RegionMetro, "bench", []tenancy.Contact{
		{Position: 1, Name: "One", Phone: "+15558880001"}, {Position: 2, Name: "Two", Phone: "+15558880002"}}))

	clock := &latencyClock{}
	d, err := dialer.New(dialer.Deps{Store: dialer.PGStore{Pool: db.PoolAs(b, pg.RoleDialer)}, Twilio: adapter, Validator: v, Log: zerolog.Nop()},
		dialer.Config{Brokers: k.Brokers, WebhookBase: "http://127.0.0.1:1", TransactionalID: "bench", Clock: clock, CPS: -1,
			ReconcileMargin: 2 * time.Second, KafkaOpts: fastGroupOpts()})
	must(b, err)
	dctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(dctx) }()
	b.Cleanup(func() { stop(); <-done })

	producer := kafkatest.Client(b, k.Brokers, kgo.ProducerLinger(0))
	// Warm-up: one ring-down, so the group has joined and the partitions are restored.
	warm := make(chan struct{})
	go func() {
		for {
			mu.Lock()
			l := len(firstCall)
			mu.Unlock()
			if l > 0 {
				close(warm)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	produced := map[string]time.Time{}
	produce := func(count int) {
		recs := make([]*kgo.Record, 0, count)
		var idsOf []string
		for range count {
			reqID := uuid.NewString()
			ev := schemas.ECOCreated{ECOID: ids.ECOID(devdata.NOCNorthwind, reqID), RequestID: reqID, JobNumber: "BNCH-" + reqID[:8], Number: 1,
				NOCTenantID: devdata.NOCNorthwind, OSPTenantID: osp, Region: devdata.RegionMetro, Priority: "P1",
				Site: schemas.Site{Name: "Exchange 7", Address: "1 Main St"}, Summary: "Fibre cut on ring 4",
				RequestedBy: schemas.Requester{Name: "Noor"}, PeopleNeeded: 1,
				Engagement: engagement(5, 0, 1200, 10), CreatedAt: time.Now().UTC()}
			value, _ := json.Marshal(ev)
			recs = append(recs, cloudevents.Record(topics.ECOEvents, ev.ECOID, cloudevents.Event{ID: ids.EventID(schemas.TypeECOCreated, ev.ECOID),
				Type: schemas.TypeECOCreated, Source: "bench", Subject: ev.ECOID, Time: time.Now()}, value))
			idsOf = append(idsOf, ev.ECOID)
		}
		now := time.Now()
		for _, id := range idsOf {
			produced[id] = now
		}
		must(b, producer.ProduceSync(ctx, recs...).FirstErr())
	}
	produce(1)
	select {
	case <-warm:
	case <-time.After(60 * time.Second):
		b.Fatal("warm-up ring-down never called")
	}
	time.Sleep(3 * time.Second) // the warm-up's own timers settle; not part of any measurement
	mu.Lock()
	for k := range firstCall {
		delete(produced, k)
	}
	clear(firstCall)
	mu.Unlock()
	_ = clock.samples()
	clock.mu.Lock()
	clock.late = nil
	clock.mu.Unlock()

	h1 := heap()
	b.ResetTimer()
	start := time.Now()
	// n ECOs at 2,000 per second: every one is live (ringing) until the last is placed.
	for i := 0; i < n; i += 200 {
		produce(200)
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case <-allFirst:
	case <-time.After(120 * time.Second):
		mu.Lock()
		b.Logf("produced %d in %v", len(produced), time.Since(start))
		b.Fatalf("only %d of %d first calls within 120s", len(firstCall), n)
	}
	rampUp := time.Since(start)
	h2 := heap()
	var lat []time.Duration
	mu.Lock()
	for id, at := range firstCall {
		if p, ok := produced[id]; ok {
			lat = append(lat, at.Sub(p))
		}
	}
	mu.Unlock()
	// The reconciliation timers of the live ring-downs fire 12 s after each placement.
	deadline := time.Now().Add(90 * time.Second)
	for len(clock.samples()) < n && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	b.StopTimer()
	late := clock.samples()
	perRingDown := float64(int64(h2)-int64(h1))/float64(n) - simPerCall

	b.ReportMetric(float64(pct(lat, 0.50).Microseconds())/1000, "first_call_p50_ms")
	b.ReportMetric(float64(pct(lat, 0.99).Microseconds())/1000, "first_call_p99_ms")
	b.ReportMetric(float64(pct(rtts, 0.50).Microseconds())/1000, "baseline_createcall_p50_ms")
	b.ReportMetric(float64(pct(rtts, 0.99).Microseconds())/1000, "baseline_createcall_p99_ms")
	b.ReportMetric(perRingDown, "bytes/ringdown")
	b.ReportMetric(simPerCall, "baseline_sim_bytes/call")
	b.ReportMetric(float64(pct(late, 0.99).Microseconds())/1000, "timer_late_p99_ms")
	b.ReportMetric(float64(pct(plainLate, 0.99).Microseconds())/1000, "baseline_timer_late_p99_ms")
	b.Logf("%d ring-downs live after %v; first call p50 %v p99 %v (CreateCall alone p50 %v p99 %v); heap %d B/ring-down "+
		"(sim %.0f B/call subtracted); timer lateness p99 %v over %d timers (plain timers p99 %v)",
		len(lat), rampUp, pct(lat, 0.5), pct(lat, 0.99), pct(rtts, 0.5), pct(rtts, 0.99), int(perRingDown), simPerCall,
		pct(late, 0.99), len(late), pct(plainLate, 0.99))
}
