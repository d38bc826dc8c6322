package ecoprocessor_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/osprey-strike/strike/consumers/ecoprocessor"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/ecorequest"
	"github.com/osprey-strike/strike/internal/engagement"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/internal/running"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

// startReplicaWith runs one eco-processor with guardrails g.
func (b *bundle) startReplicaWith(t testing.TB, name string, store ecoprocessor.Store, g engagement.Guardrails) *running.Component {
	t.Helper()
	p, err := ecoprocessor.New(ecoprocessor.Deps{Store: store, Validator: b.validator, Log: zerolog.Nop()},
		ecoprocessor.Config{Brokers: b.kafka.Brokers, Security: b.security, TransactionalID: "strike-eco-processor-test-" + name, Guardrails: &g, KafkaOpts: fastGroupOpts()})
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	return running.Start(t, "eco-processor "+name, ctx, cancel, p.Run)
}

// A release (or a replica with other settings) allocates numbers in PostgreSQL and dies before
// its Kafka transaction commits. The replica that gets the requests again refuses them in Go
// (stricter guardrails; a schema that no longer accepts the record), before the database. The
// allocation must win: each request gets its eco.created re-sent from the stored original, so
// no number is left as a gap.
func TestAnExistingAllocationWinsOverAStricterRedelivery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	loose := engagement.Defaults()
	loose.LoopCountMax = 9
	loops := 9
	wide := withOverrides(request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro),
		&schemas.EngagementOverrides{LoopCount: &loops})
	plain := request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro)
	b.produce(t, wide, plain)

	// The old replica allocates both in PostgreSQL, but none of its Kafka transactions commits.
	old := b.startReplicaWith(t, "old", &failingStore{PGStore: ecoprocessor.PGStore{Pool: b.db.PoolAs(t, pg.RoleECOProcessor)}, fails: 1 << 30}, loose)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		must(t, b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM job_allocations`).Scan(&n))
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the old replica allocated %d requests, want 2", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	old.Stop(t)

	// The new release refuses loop count 9 (bound 1..5), and a schema change makes it refuse the
	// plain request's record too: here, the same document with a property it does not know.
	rec, err := ecorequest.Record(b.validator, plain, "test", time.Now())
	must(t, err)
	rec.Value = append(bytes.TrimSuffix(rec.Value, []byte("}")), []byte(`,"legacy_field":true}`)...)
	if err := b.validator.Validate(schemas.TypeECORequest, rec.Value); err == nil {
		t.Fatal("the altered record should be refused by today's schema")
	}
	next := request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro)
	b.produceRaw(t, rec)
	b.produce(t, next)
	b.startReplicaWith(t, "new", ecoprocessor.PGStore{Pool: b.db.PoolAs(t, pg.RoleECOProcessor)}, engagement.Defaults())

	// wide, plain, plain's refused copy and next.
	recs := kafkatest.ReadAll(t, b.kafka.Brokers, topics.ECOEvents, 4, 30*time.Second)
	created := map[string][]schemas.ECOCreated{}
	for _, r := range recs {
		var ev schemas.ECOCreated
		mustJSON(t, r.Value, &ev)
		if ev.JobNumber == "" {
			t.Errorf("not an eco.created: %s", r.Value)
			continue
		}
		created[ev.RequestID] = append(created[ev.RequestID], ev)
	}
	check := func(name string, req *schemas.ECORequest, copies int, number int64) []schemas.ECOCreated {
		t.Helper()
		evs := created[req.RequestID]
		if len(evs) != copies {
			t.Fatalf("%s: %d eco.created, want %d (all events: %d)", name, len(evs), copies, len(recs))
		}
		for _, ev := range evs {
			if ev.Number != number {
				t.Errorf("%s: number %d, want %d", name, ev.Number, number)
			}
		}
		return evs
	}
	if ev := check("request allocated with loop count 9", wide, 1, 1); ev[0].Engagement.LoopCount != 9 {
		t.Errorf("re-sent eco.created has loop count %d, want the original's 9", ev[0].Engagement.LoopCount)
	}
	check("request whose record a later schema refuses", plain, 2, 2)
	check("next request", next, 1, 3)
	if dl := kafkatest.ReadAll(t, b.kafka.Brokers, topics.DLQ, 1, 2*time.Second); len(dl) != 0 {
		t.Errorf("%d DLQ records, want none: the allocation wins over the schema", len(dl))
	}
}
