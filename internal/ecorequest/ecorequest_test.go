package ecorequest_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/ecorequest"
	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

// A NOC tool waits on its NOC's egress topic. Its request's outcome is found by NOC and request
// id, also when rejected under an ECO id of the rejection's own (tenant_mismatch); another
// request's outcome, and another NOC's request with the same id (as on strike.eco.events.v1),
// are not taken for its own.
func TestWaiterFindsTheOutcomeOnTheNOCsEgressTopic(t *testing.T) {
	t.Parallel()
	k := kafkatest.NewSecured(t)
	cl := kafkatest.Client(t, k.Brokers, kgo.ProducerLinger(0))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	egress := topics.NOCEgress("noc-a")
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2, -1, nil, egress); err != nil {
		t.Fatal(err)
	}
	w, err := ecorequest.NewWaiter(ctx, []string{k.Brokers}, egress, k.Opts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	produce := func(key, typ string, v any) {
		value, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		rec := cloudevents.Record(egress, key, cloudevents.Event{ID: uuid.NewString(), Type: typ, Source: "test", Subject: key, Time: time.Now()}, value)
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	other, mine, created := uuid.NewString(), uuid.NewString(), uuid.NewString()
	produce(ids.RefusedECOID("noc-a", other, nil), schemas.TypeECORejected, schemas.ECORejected{RequestID: other, NOCTenantID: "noc-a", Reason: schemas.ReasonTenantMismatch})
	produce(ids.ECOID("noc-b", mine), schemas.TypeECOCreated, schemas.ECOCreated{ECOID: ids.ECOID("noc-b", mine), RequestID: mine, NOCTenantID: "noc-b", JobNumber: "NOT-MINE"})
	produce(ids.RefusedECOID("noc-a", mine, nil), schemas.TypeECORejected, schemas.ECORejected{RequestID: mine, NOCTenantID: "noc-a", Reason: schemas.ReasonTenantMismatch})
	o, err := w.Wait(ctx, "noc-a", mine)
	if err != nil || o.Rejected == nil || o.Rejected.RequestID != mine || o.Rejected.Reason != schemas.ReasonTenantMismatch {
		t.Fatalf("outcome of the rejected request: %+v, %v", o, err)
	}

	// One waiter per request, created before the request is sent, as the CLI does.
	w2, err := ecorequest.NewWaiter(ctx, []string{k.Brokers}, egress, k.Opts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	produce(ids.ECOID("noc-b", created), schemas.TypeECOCreated, schemas.ECOCreated{ECOID: ids.ECOID("noc-b", created), RequestID: created, NOCTenantID: "noc-b", JobNumber: "NOT-MINE"})
	produce(ids.ECOID("noc-a", created), schemas.TypeECOCreated, schemas.ECOCreated{ECOID: ids.ECOID("noc-a", created), RequestID: created, NOCTenantID: "noc-a", JobNumber: "ACME-1"})
	o, err = w2.Wait(ctx, "noc-a", created)
	if err != nil || o.Created == nil || o.Created.JobNumber != "ACME-1" {
		t.Fatalf("outcome of the created request: %+v, %v", o, err)
	}
}
