package ecoprocessor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/ecoprocessor"
	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/ecorequest"
	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/internal/running"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

type bundle struct {
	kafka     *kafkatest.Cluster
	db        *pgtest.Schema
	tenancy   tenancy.Store
	validator *schemas.Validator
	producer  *kgo.Client
	// security is how replicas connect: as the eco-processor's own principal, with only its
	// own ACLs, on the secured broker.
	security kafkaclient.Security
}

// setup is a broker with SASL and ACLs on; the test's own clients are its superuser, the
// replicas the eco-processor's principal (with the demo NOCs' ingress topics).
func setup(t testing.TB) *bundle { return setupOn(t, kafkatest.NewSecured(t)) }

func setupOn(t testing.TB, k *kafkatest.Cluster) *bundle {
	t.Helper()
	db, store := seeded(t)
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{kafka: k, db: db, tenancy: store, validator: v,
		producer: kafkatest.Client(t, k.Brokers, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), kgo.ProducerLinger(0)),
		security: k.Principal(t, "eco-processor", devdata.NOCNorthwind, devdata.NOCHarbor)}
}

// replica runs one eco-processor until the returned stop is called or the test ends.
// seeded is a migrated schema with the demo tenants.
func seeded(t testing.TB) (*pgtest.Schema, tenancy.Store) {
	t.Helper()
	db := pgtest.New(t)
	store := tenancy.Store{Pool: db.Pool}
	if err := devdata.Seed(context.Background(), store); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return db, store
}

type replica struct {
	*running.Component
	p *ecoprocessor.Processor
}

func (b *bundle) startReplica(t testing.TB, name string, store ecoprocessor.Store, hook func(*ecoprocessor.Processor)) *replica {
	t.Helper()
	if store == nil {
		store = ecoprocessor.PGStore{Pool: b.db.PoolAs(t, pg.RoleECOProcessor)}
	}
	p, err := ecoprocessor.New(ecoprocessor.Deps{Store: store, Validator: b.validator, Log: zerolog.Nop()},
		ecoprocessor.Config{
			Brokers:         b.kafka.Brokers,
			Security:        b.security,
			TransactionalID: "strike-eco-processor-test-" + name,
			KafkaOpts:       fastGroupOpts(),
		})
	if err != nil {
		t.Fatal(err)
	}
	if hook != nil {
		hook(p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &replica{Component: running.Start(t, "eco-processor "+name, ctx, cancel, p.Run), p: p}
}

func fastGroupOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.SessionTimeout(1500 * time.Millisecond),
		kgo.HeartbeatInterval(150 * time.Millisecond),
		kgo.RebalanceTimeout(3 * time.Second),
		kgo.TransactionTimeout(3 * time.Second),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}
}

func request(noc, osp, region string) *schemas.ECORequest {
	return &schemas.ECORequest{
		RequestID: uuid.NewString(), NOCTenantID: noc, OSPTenantID: osp, Region: region,
		Priority: "P1", Site: schemas.Site{Name: "Exchange 7", Address: "1 Main St"},
		Summary: "Fibre cut", RequestedBy: schemas.Requester{Name: "Noor"},
	}
}

// produce sends requests in order (per key order is what the processor preserves).
func (b *bundle) produce(t testing.TB, reqs ...*schemas.ECORequest) {
	t.Helper()
	recs := make([]*kgo.Record, len(reqs))
	for i, r := range reqs {
		rec, err := ecorequest.Record(b.validator, r, "test", time.Now())
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		recs[i] = rec
	}
	b.produceRaw(t, recs...)
}

func (b *bundle) produceRaw(t testing.TB, recs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

type outcomes struct {
	created  map[string]schemas.ECOCreated // by request id
	rejected map[string]schemas.ECORejected
	// createdCount counts eco.created records per request id, to catch duplicates.
	createdCount map[string]int
	ids          map[string]string // request id -> ce_id of its eco.created
}

// awaitOutcomes reads strike.eco.events.v1 until every request has an outcome.
func (b *bundle) awaitOutcomes(t testing.TB, n int) outcomes {
	t.Helper()
	recs := kafkatest.ReadAll(t, b.kafka.Brokers, topics.ECOEvents, n, 60*time.Second)
	o := outcomes{created: map[string]schemas.ECOCreated{}, rejected: map[string]schemas.ECORejected{},
		createdCount: map[string]int{}, ids: map[string]string{}}
	for _, r := range recs {
		ce := cloudevents.Parse(r)
		switch ce.Type {
		case schemas.TypeECOCreated:
			var ev schemas.ECOCreated
			mustJSON(t, r.Value, &ev)
			if string(r.Key) != ev.ECOID {
				t.Errorf("eco.created keyed %q, want eco_id %q", r.Key, ev.ECOID)
			}
			o.created[ev.RequestID] = ev
			o.createdCount[ev.RequestID]++
			o.ids[ev.RequestID] = ce.ID
		case schemas.TypeECORejected:
			var ev schemas.ECORejected
			mustJSON(t, r.Value, &ev)
			o.rejected[ev.RequestID] = ev
		default:
			t.Errorf("unexpected ce_type %q on %s", ce.Type, topics.ECOEvents)
		}
	}
	if got := len(o.created) + len(o.rejected); got < n {
		t.Fatalf("got outcomes for %d requests, want %d", got, n)
	}
	return o
}

func mustJSON(t testing.TB, raw []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
}

// assertContiguous checks that, per OSP, the requests in order got numbers 1..n (or continuing
// from first) with no gap, no duplicate and no reordering, each exactly once.
func assertContiguous(t testing.TB, o outcomes, byOSP map[string][]*schemas.ECORequest) {
	t.Helper()
	for osp, reqs := range byOSP {
		for i, r := range reqs {
			ev, ok := o.created[r.RequestID]
			if !ok {
				t.Fatalf("OSP %s request %d (%s) has no eco.created (rejected: %+v)", osp, i, r.RequestID, o.rejected[r.RequestID])
			}
			if want := int64(i + 1); ev.Number != want {
				t.Fatalf("OSP %s request %d got number %d, want %d", osp, i, ev.Number, want)
			}
			if c := o.createdCount[r.RequestID]; c != 1 {
				t.Fatalf("OSP %s request %s has %d eco.created records, want exactly 1", osp, r.RequestID, c)
			}
		}
	}
}

// addOSPs creates n extra OSPs linked to Northwind, each with a metro-north roster.
func (b *bundle) addOSPs(t testing.TB, n int) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for i := range n {
		id := fmt.Sprintf("osp-load-%02d", i)
		must(t, b.tenancy.UpsertOSP(ctx, tenancy.OSP{ID: id, Name: id, JobPrefix: fmt.Sprintf("L%02d", i)}))
		must(t, b.tenancy.UpsertLink(ctx, tenancy.Link{NOCTenantID: devdata.NOCNorthwind, OSPTenantID: id, Status: tenancy.LinkActive}))
		must(t, b.tenancy.SetRoster(ctx, id, devdata.RegionMetro, "", []tenancy.Contact{{Position: 1, Name: "On Call", Phone: "+15550199000"}}))
		out = append(out, id)
	}
	return out
}

// spread makes n Northwind requests dealt round-robin over osps, in production order overall
// and per OSP.
func spread(osps []string, n int) ([]*schemas.ECORequest, map[string][]*schemas.ECORequest) {
	all := make([]*schemas.ECORequest, n)
	byOSP := map[string][]*schemas.ECORequest{}
	for i := range all {
		osp := osps[i%len(osps)]
		all[i] = request(devdata.NOCNorthwind, osp, devdata.RegionMetro)
		byOSP[osp] = append(byOSP[osp], all[i])
	}
	return all, byOSP
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestValidRequestGetsTheOSPsNextJobNumber(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.startReplica(t, "a", nil, nil)
	req := request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro)
	b.produce(t, req)

	o := b.awaitOutcomes(t, 1)
	ev := o.created[req.RequestID]
	year := time.Now().UTC().Year()
	if want := fmt.Sprintf("ACME-NWND-00001-%d", year); ev.JobNumber != want {
		t.Errorf("job number = %q, want %q", ev.JobNumber, want)
	}
	if ev.NOCTenantID != devdata.NOCNorthwind || ev.OSPTenantID != devdata.OSPAcme {
		t.Errorf("tenants = %s/%s, want both tenant ids carried", ev.NOCTenantID, ev.OSPTenantID)
	}
	// Northwind's policy (loop 2, failover to Bolt) and Strike's ring-duration default.
	want := schemas.Engagement{LoopCount: 2, RetryAfterSeconds: 1200, MaxRetries: 1,
		FailoverOSPIDs: []string{devdata.OSPBolt}, RingDurationSeconds: 25}
	if fmt.Sprint(ev.Engagement) != fmt.Sprint(want) {
		t.Errorf("engagement = %+v, want %+v", ev.Engagement, want)
	}
	if ev.PeopleNeeded != 1 {
		t.Errorf("people_needed = %d, want the default 1", ev.PeopleNeeded)
	}
}

func TestManyOSPsConcurrentlyGetContiguousNumbersInRequestOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	osps := b.addOSPs(t, 20)
	all, byOSP := spread(osps, 400)
	b.startReplica(t, "a", nil, nil)
	b.produce(t, all...)
	assertContiguous(t, b.awaitOutcomes(t, len(all)), byOSP)
}

func TestOneHotOSPGetsContiguousNumbersInRequestOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var reqs []*schemas.ECORequest
	for range 500 {
		reqs = append(reqs, request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro))
	}
	b.startReplica(t, "a", nil, nil)
	b.produce(t, reqs...)
	assertContiguous(t, b.awaitOutcomes(t, len(reqs)), map[string][]*schemas.ECORequest{devdata.OSPAcme: reqs})
}

func TestRedeliveredRequestGetsTheNumberItAlreadyHad(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.startReplica(t, "a", nil, nil)
	first := request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro)
	second := request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro)
	b.produce(t, first, second, first) // a NOC tool retried the first request

	recs := kafkatest.ReadAll(t, b.kafka.Brokers, topics.ECOEvents, 3, 30*time.Second)
	if len(recs) != 3 {
		t.Fatalf("got %d events, want 3", len(recs))
	}
	numbers := map[string][]int64{}
	var idsOfFirst []string
	for _, r := range recs {
		var ev schemas.ECOCreated
		mustJSON(t, r.Value, &ev)
		numbers[ev.RequestID] = append(numbers[ev.RequestID], ev.Number)
		if ev.RequestID == first.RequestID {
			idsOfFirst = append(idsOfFirst, cloudevents.Parse(r).ID)
		}
	}
	if got := fmt.Sprint(numbers[first.RequestID], numbers[second.RequestID]); got != "[1 1] [2]" {
		t.Errorf("numbers (first, second) = %s, want [1 1] [2]: the retried request keeps its number", got)
	}
	if len(idsOfFirst) != 2 || idsOfFirst[0] != idsOfFirst[1] {
		t.Errorf("ce_ids of the repeated eco.created = %v, want two equal ids so consumers can drop the duplicate", idsOfFirst)
	}
	var last int64
	must(t, b.db.Pool.QueryRow(context.Background(), `SELECT last_number FROM job_counters WHERE osp_tenant_id = $1`, devdata.OSPAcme).Scan(&last))
	if last != 2 {
		t.Errorf("counter = %d, want 2", last)
	}
}

// failingStore commits allocations in PostgreSQL and then reports failure, as if the process had
// lost its Kafka transaction right after the database commit.
type failingStore struct {
	ecoprocessor.PGStore
	mu    sync.Mutex
	fails int
}

func (s *failingStore) Allocate(ctx context.Context, reqs []ecoprocessor.AllocationRequest) ([]ecoprocessor.Allocation, error) {
	out, err := s.PGStore.Allocate(ctx, reqs)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && s.fails > 0 {
		s.fails--
		return nil, fmt.Errorf("injected failure after the PostgreSQL commit")
	}
	return out, err
}

func TestFailureBetweenPostgresCommitAndKafkaCommitLeavesNoGap(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var reqs []*schemas.ECORequest
	for range 50 {
		reqs = append(reqs, request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro))
	}
	b.produce(t, reqs...)
	b.startReplica(t, "a", &failingStore{PGStore: ecoprocessor.PGStore{Pool: b.db.PoolAs(t, pg.RoleECOProcessor)}, fails: 3}, nil)
	assertContiguous(t, b.awaitOutcomes(t, len(reqs)), map[string][]*schemas.ECORequest{devdata.OSPAcme: reqs})
}

func TestTwoReplicasWithRebalanceChurnKeepNumbersContiguous(t *testing.T) {
	t.Parallel()
	b := setup(t)
	osps := b.addOSPs(t, 8)
	all, byOSP := spread(osps, 800)
	a := b.startReplica(t, "a", nil, nil)
	bb := b.startReplica(t, "b", nil, nil)
	// Produce in waves while replicas join and leave.
	for w := range 8 {
		b.produce(t, all[w*100:(w+1)*100]...)
		switch w {
		case 2:
			a.Stop(t)
		case 3:
			a = b.startReplica(t, "a2", nil, nil)
		case 5:
			bb.Stop(t)
		case 6:
			b.startReplica(t, "c", nil, nil)
		}
	}
	assertContiguous(t, b.awaitOutcomes(t, len(all)), byOSP)
}

// A zombie: replica A decides a batch in PostgreSQL, then stalls before its Kafka commit while
// the group hands its partitions to B. B redoes the batch (same numbers); A's late commit is
// refused. Every request ends with exactly one eco.created and no number is skipped.
func TestZombieWithAStaleBatchCannotBreakNumbering(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var reqs []*schemas.ECORequest
	for range 30 {
		reqs = append(reqs, request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro))
	}
	stalled := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	b.startReplica(t, "zombie", nil, func(p *ecoprocessor.Processor) {
		p.SetBeforeCommit(func() {
			once.Do(func() {
				close(stalled)
				<-release
			})
		})
	})
	b.produce(t, reqs...)
	<-stalled
	// B joins; A is stuck mid-transaction and loses its partitions.
	b.startReplica(t, "b", nil, nil)
	o := b.awaitOutcomes(t, len(reqs))
	close(release)
	assertContiguous(t, o, map[string][]*schemas.ECORequest{devdata.OSPAcme: reqs})
	// A's late commit must not add a second copy: ask for one record more than there should be
	// and give A's transaction time to end.
	if extra := kafkatest.ReadAll(t, b.kafka.Brokers, topics.ECOEvents, len(reqs)+1, 5*time.Second); len(extra) != len(reqs) {
		t.Errorf("%d events after the zombie was released, want exactly %d", len(extra), len(reqs))
	}
}

func TestBusinessRefusalsBecomeRejectionsWithAReason(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// Acme is linked to Northwind; the link then gets removed after one ECO was created.
	before := request(devdata.NOCNorthwind, devdata.OSPBolt, devdata.RegionMetro)
	b.startReplica(t, "a", nil, nil)
	b.produce(t, before)
	o := b.awaitOutcomes(t, 1)
	if _, ok := o.created[before.RequestID]; !ok {
		t.Fatalf("request before link removal was not created: %+v", o.rejected)
	}
	must(t, b.tenancy.UpsertLink(ctx, tenancy.Link{NOCTenantID: devdata.NOCNorthwind, OSPTenantID: devdata.OSPBolt, Status: tenancy.LinkRemoved}))

	loops := 9
	ring := 5
	cases := []struct {
		name   string
		req    *schemas.ECORequest
		reason string
	}{
		{"unknown NOC", request("noc-nobody", devdata.OSPAcme, devdata.RegionMetro), schemas.ReasonUnknownNOC},
		{"unknown OSP", request(devdata.NOCNorthwind, "osp-nobody", devdata.RegionMetro), schemas.ReasonUnknownOSP},
		{"suspended link", request(devdata.NOCHarbor, devdata.OSPCedar, devdata.RegionCoast), schemas.ReasonLinkNotActive},
		{"removed link", request(devdata.NOCNorthwind, devdata.OSPBolt, devdata.RegionMetro), schemas.ReasonLinkNotActive},
		{"no link at all", request(devdata.NOCNorthwind, devdata.OSPCedar, devdata.RegionCoast), schemas.ReasonLinkNotActive},
		{"no roster for region", request(devdata.NOCNorthwind, devdata.OSPAcme, "far-away"), schemas.ReasonNoRosterForRegion},
		{"loop count over bound", withOverrides(request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro), &schemas.EngagementOverrides{LoopCount: &loops}), schemas.ReasonOverrideOutOfBounds},
		{"ring duration under bound", withOverrides(request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro), &schemas.EngagementOverrides{RingDurationSeconds: &ring}), schemas.ReasonOverrideOutOfBounds},
		{"failover to a suspended link", withOverrides(request(devdata.NOCHarbor, devdata.OSPAcme, devdata.RegionMetro), &schemas.EngagementOverrides{FailoverOSPIDs: []string{devdata.OSPCedar}}), schemas.ReasonFailoverLinkNotActive},
	}
	var reqs []*schemas.ECORequest
	for _, c := range cases {
		reqs = append(reqs, c.req)
	}
	b.produce(t, reqs...)
	o = b.awaitOutcomes(t, 1+len(reqs))
	for _, c := range cases {
		rej, ok := o.rejected[c.req.RequestID]
		if !ok {
			t.Errorf("%s: no eco.rejected (created: %+v)", c.name, o.created[c.req.RequestID])
			continue
		}
		if rej.Reason != c.reason || rej.Detail == "" {
			t.Errorf("%s: reason %q (%q), want %q with a detail", c.name, rej.Reason, rej.Detail, c.reason)
		}
	}
	// History is untouched: the ECO created before the removal keeps its allocation.
	var n int
	must(t, b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM job_allocations WHERE request_id = $1`, before.RequestID).Scan(&n))
	if n != 1 {
		t.Errorf("allocation of the pre-removal ECO: %d rows, want 1", n)
	}
	var last int64
	must(t, b.db.Pool.QueryRow(ctx, `SELECT last_number FROM job_counters WHERE osp_tenant_id = $1`, devdata.OSPAcme).Scan(&last))
	if last != 0 {
		t.Errorf("Acme counter = %d after only rejections, want 0: a refusal never consumes a number", last)
	}
}

func withOverrides(r *schemas.ECORequest, o *schemas.EngagementOverrides) *schemas.ECORequest {
	r.Engagement = o
	return r
}

// A NOC reusing its own request id for another request is refused as a conflict, under an ECO
// id of the refusal's own. (Another NOC's use of the id is no conflict at all:
// requestid_test.go.)
func TestReusedRequestIDForAnotherRequestIsRejected(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.startReplica(t, "a", nil, nil)
	first := request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro)
	other := request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro) // same key: after first
	other.RequestID, other.Summary = first.RequestID, "another outage"
	b.produce(t, first, other)
	recs := kafkatest.ReadAll(t, b.kafka.Brokers, topics.ECOEvents, 2, 30*time.Second)
	if len(recs) != 2 {
		t.Fatalf("got %d events, want 2", len(recs))
	}
	// The two are keyed by different ECO ids, so they may be read in either order.
	var created schemas.ECOCreated
	var rej schemas.ECORejected
	for _, r := range recs {
		switch cloudevents.Parse(r).Type {
		case schemas.TypeECOCreated:
			mustJSON(t, r.Value, &created)
		case schemas.TypeECORejected:
			mustJSON(t, r.Value, &rej)
		}
	}
	if created.Summary != first.Summary {
		t.Errorf("created %+v, want the first request's ECO", created)
	}
	if rej.Reason != schemas.ReasonRequestIDConflict || rej.NOCTenantID != devdata.NOCNorthwind {
		t.Errorf("rejection %+v, want Northwind's second request rejected as request_id_conflict", rej)
	}
	if created.ECOID == "" || rej.ECOID == created.ECOID {
		t.Errorf("the conflict is shown under ECO %s, the created ECO's (%s)", rej.ECOID, created.ECOID)
	}
}

// The same for a request refused in Go (an override out of bounds) whose id this NOC already
// used at another OSP: a conflict under an ECO id of its own, not a rejection stamped on the ECO.
func TestAGuardrailRefusalReusingAnIDIsAConflict(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.startReplica(t, "a", nil, nil)
	first := request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro)
	b.produce(t, first)
	created := b.awaitOutcomes(t, 1).created[first.RequestID]
	loops := 9
	other := withOverrides(request(devdata.NOCNorthwind, devdata.OSPBolt, devdata.RegionMetro),
		&schemas.EngagementOverrides{LoopCount: &loops})
	other.RequestID = first.RequestID
	b.produce(t, other)
	var rej *schemas.ECORejected
	for _, r := range kafkatest.ReadAll(t, b.kafka.Brokers, topics.ECOEvents, 2, 30*time.Second) {
		if cloudevents.Parse(r).Type == schemas.TypeECORejected {
			rej = new(schemas.ECORejected)
			mustJSON(t, r.Value, rej)
		}
	}
	if rej == nil || rej.Reason != schemas.ReasonRequestIDConflict || rej.ECOID == created.ECOID || created.ECOID == "" {
		t.Errorf("rejection %+v of the reused id (the ECO is %s), want request_id_conflict under another ECO id", rej, created.ECOID)
	}
}

func TestUndecodableInputGoesToTheDLQWithReasonAndOrigin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	good := request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro)
	goodRec, err := ecorequest.Record(b.validator, good, "test", time.Now())
	must(t, err)
	mismatched, err := ecorequest.Record(b.validator, request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro), "test", time.Now())
	must(t, err)
	mismatched.Key = []byte(devdata.OSPBolt)
	wrongType, err := ecorequest.Record(b.validator, request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro), "test", time.Now())
	must(t, err)
	for i := range wrongType.Headers {
		if wrongType.Headers[i].Key == cloudevents.HeaderType {
			wrongType.Headers[i].Value = []byte("strike.something.else.v1")
		}
	}
	bad := []struct {
		rec    *kgo.Record
		reason string
	}{
		{&kgo.Record{Topic: topics.ECORequests, Key: []byte(devdata.OSPAcme), Value: []byte(`{"request_id": `)}, schemas.DLQInvalidJSON},
		{&kgo.Record{Topic: topics.ECORequests, Key: []byte(devdata.OSPAcme), Value: []byte{0xff, 0xfe, 0x00}}, schemas.DLQInvalidJSON},
		{&kgo.Record{Topic: topics.ECORequests, Key: []byte(devdata.OSPAcme), Value: []byte(`{"request_id":"not-a-uuid"}`)}, schemas.DLQSchemaViolation},
		{mismatched, schemas.DLQKeyMismatch},
		{wrongType, schemas.DLQUnsupportedType},
	}
	var recs []*kgo.Record
	for _, c := range bad {
		recs = append(recs, c.rec)
	}
	recs = append(recs, goodRec)
	b.startReplica(t, "a", nil, nil)
	b.produceRaw(t, recs...)

	// The good request after the bad ones still gets through: the processor never stops.
	o := b.awaitOutcomes(t, 1)
	if o.created[good.RequestID].Number != 1 {
		t.Errorf("the valid request after the bad ones: %+v, want number 1", o.created[good.RequestID])
	}
	dl := kafkatest.ReadAll(t, b.kafka.Brokers, topics.DLQ, len(bad), 30*time.Second)
	if len(dl) != len(bad) {
		t.Fatalf("DLQ has %d records, want %d", len(dl), len(bad))
	}
	byOffset := map[string]*kgo.Record{}
	for _, r := range dl {
		off, _ := cloudevents.Header(r, "strike_dlq_origin_offset")
		part, _ := cloudevents.Header(r, "strike_dlq_origin_partition")
		byOffset[part+"/"+off] = r
	}
	for _, c := range bad {
		key := fmt.Sprintf("%d/%d", c.rec.Partition, c.rec.Offset)
		r, ok := byOffset[key]
		if !ok {
			t.Errorf("no DLQ record for origin %s (%s)", key, c.reason)
			continue
		}
		if reason, _ := cloudevents.Header(r, "strike_dlq_reason"); reason != c.reason {
			t.Errorf("origin %s: reason %q, want %q", key, reason, c.reason)
		}
		if topic, _ := cloudevents.Header(r, "strike_dlq_origin_topic"); topic != topics.ECORequests {
			t.Errorf("origin topic header = %q", topic)
		}
		if string(r.Key) != string(c.rec.Key) {
			t.Errorf("DLQ key = %q, want the original key %q", r.Key, c.rec.Key)
		}
		if err := b.validator.Validate(schemas.TypeDLQRecord, r.Value); err != nil {
			t.Errorf("DLQ value does not match its schema: %v", err)
		}
		var v schemas.DLQRecord
		mustJSON(t, r.Value, &v)
		if v.Error == "" || v.Consumer != ecoprocessor.Name || (v.OriginalValue == nil && v.OriginalValueBase64 == "") {
			t.Errorf("DLQ value %+v lacks error, consumer or the original value", v)
		}
	}
}

func TestARefusedRequestRepeatedInOneBatchIsRefusedTwice(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bad := request(devdata.NOCNorthwind, devdata.OSPAcme, "far-away")
	good := request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro)
	// Produced before the replica starts, so all three arrive in one batch.
	b.produce(t, bad, good, bad)
	b.startReplica(t, "a", nil, nil)
	recs := kafkatest.ReadAll(t, b.kafka.Brokers, topics.ECOEvents, 3, 30*time.Second)
	counts := map[string]int{}
	for _, r := range recs {
		counts[cloudevents.Parse(r).Type]++
	}
	if counts[schemas.TypeECORejected] != 2 || counts[schemas.TypeECOCreated] != 1 {
		t.Errorf("outcomes %v, want the refused request rejected twice and the good one created", counts)
	}
	var last int64
	must(t, b.db.Pool.QueryRow(context.Background(), `SELECT last_number FROM job_counters WHERE osp_tenant_id = $1`, devdata.OSPAcme).Scan(&last))
	if last != 1 {
		t.Errorf("counter = %d, want 1", last)
	}
}

func TestCancelOfAnExistingECOBecomesECOCancelledAndOthersAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro)
	ecoID := ids.ECOID(req.NOCTenantID, req.RequestID)
	cancel := func(noc, osp, eco string) *kgo.Record {
		rec, err := ecorequest.CancelRecord(b.validator, &schemas.ECOCancel{ECOID: eco, NOCTenantID: noc, OSPTenantID: osp,
			RequestedBy: schemas.Requester{Name: "Noor"}, Reason: "restored"}, "test", time.Now())
		must(t, err)
		return rec
	}
	reqRec, err := ecorequest.Record(b.validator, req, "test", time.Now())
	must(t, err)
	// The ECO's request and its cancel in one batch, then a cancel by another NOC and one for an
	// ECO that does not exist.
	b.produceRaw(t, reqRec, cancel(devdata.NOCNorthwind, devdata.OSPAcme, ecoID),
		cancel(devdata.NOCHarbor, devdata.OSPAcme, ecoID),
		cancel(devdata.NOCNorthwind, devdata.OSPAcme, uuid.NewString()))
	b.startReplica(t, "a", nil, nil)
	recs := kafkatest.ReadAll(t, b.kafka.Brokers, topics.ECOEvents, 4, 30*time.Second)
	var types []string
	var got schemas.ECOCancelled
	rejected := 0
	for _, r := range recs {
		ce := cloudevents.Parse(r)
		types = append(types, ce.Type)
		switch ce.Type {
		case schemas.TypeECOCancelled:
			mustJSON(t, r.Value, &got)
		case schemas.TypeECORejected:
			var rej schemas.ECORejected
			mustJSON(t, r.Value, &rej)
			if rej.Reason != schemas.ReasonUnknownECO {
				t.Errorf("rejection reason %q, want unknown_eco", rej.Reason)
			}
			rejected++
		}
	}
	if got.ECOID != ecoID || got.JobNumber == "" || got.CancelledBy.Name != "Noor" {
		t.Errorf("eco.cancelled = %+v (events %v)", got, types)
	}
	if rejected != 2 {
		t.Errorf("%d rejections, want 2: another NOC's cancel and an unknown ECO (events %v)", rejected, types)
	}
}

func TestALinksEngagementOverridesApplyBetweenPolicyAndRequest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	loops, ring := 4, 40
	must(t, b.tenancy.UpsertLink(context.Background(), tenancy.Link{NOCTenantID: devdata.NOCNorthwind,
		OSPTenantID: devdata.OSPBolt, Status: tenancy.LinkActive, LoopCount: &loops, RingDurationSeconds: &ring}))
	viaLink := request(devdata.NOCNorthwind, devdata.OSPBolt, devdata.RegionMetro)
	requestWins := withOverrides(request(devdata.NOCNorthwind, devdata.OSPBolt, devdata.RegionMetro),
		&schemas.EngagementOverrides{LoopCount: ptrInt(1)})
	otherLink := request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro)
	b.produce(t, viaLink, requestWins, otherLink)
	b.startReplica(t, "a", nil, nil)
	o := b.awaitOutcomes(t, 3)
	if e := o.created[viaLink.RequestID].Engagement; e.LoopCount != 4 || e.RingDurationSeconds != 40 || e.RetryAfterSeconds != 1200 {
		t.Errorf("via the Bolt link: %+v, want loop 4 and ring 40 from the link, retry-after 1200 from the policy", e)
	}
	if e := o.created[requestWins.RequestID].Engagement; e.LoopCount != 1 || e.RingDurationSeconds != 40 {
		t.Errorf("request override: %+v, want loop 1 from the request, ring 40 from the link", e)
	}
	if e := o.created[otherLink.RequestID].Engagement; e.LoopCount != 2 || e.RingDurationSeconds != 25 {
		t.Errorf("via the Acme link (no overrides): %+v, want the policy's loop 2 and the default ring 25", e)
	}
}

func ptrInt(v int) *int { return &v }
