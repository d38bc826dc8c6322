package ecoprocessor_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/ecorequest"
	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

// A NOC tool writes its own ingress topic; what its principal could write establishes the NOC.
// A request there naming another NOC is rejected (tenant_mismatch), as the sending NOC's, with
// an ECO id of its own: it can neither create nor touch the named NOC's ECO. A request naming
// the topic's own NOC is numbered as usual.
func TestARequestOnANOCsIngressNamingAnotherNOCIsRejected(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(b.producer)
	details, err := adm.ListTopics(ctx, topics.ECORequests)
	must(t, err)
	n := int32(len(details[topics.ECORequests].Partitions))
	for _, noc := range []string{devdata.NOCNorthwind, devdata.NOCHarbor} {
		_, err := adm.CreateTopic(ctx, n, -1, nil, topics.NOCIngress(noc))
		must(t, err)
	}
	b.startReplica(t, "a", nil, nil)

	// Northwind's tool, as its own principal with only its own ACLs.
	northwind := b.kafka.ClientAs(t, b.kafka.NOC(t, devdata.NOCNorthwind), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), kgo.ProducerLinger(0))
	onNorthwinds := func(req *schemas.ECORequest) {
		rec, err := ecorequest.Record(b.validator, req, "test", time.Now())
		must(t, err)
		rec.Topic = topics.NOCIngress(devdata.NOCNorthwind)
		must(t, northwind.ProduceSync(ctx, rec).FirstErr())
	}
	forged := request(devdata.NOCHarbor, devdata.OSPAcme, devdata.RegionMetro)
	own := request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro)
	onNorthwinds(forged)
	onNorthwinds(own)

	o := b.awaitOutcomes(t, 2)
	if _, ok := o.created[forged.RequestID]; ok {
		t.Fatal("Northwind created an ECO for Harbor")
	}
	r, ok := o.rejected[forged.RequestID]
	switch {
	case !ok:
		t.Fatalf("no outcome for the forged request; outcomes %+v", o)
	case r.Reason != schemas.ReasonTenantMismatch:
		t.Errorf("reason %q, want %q", r.Reason, schemas.ReasonTenantMismatch)
	case r.NOCTenantID != devdata.NOCNorthwind:
		t.Errorf("the rejection is %s's, want the sender's (%s)", r.NOCTenantID, devdata.NOCNorthwind)
	case r.ECOID == ids.ECOID(devdata.NOCHarbor, forged.RequestID):
		t.Error("the rejection carries the ECO id Harbor's own request would have: it could touch Harbor's ECO")
	case r.ECOID == ids.ECOID(devdata.NOCNorthwind, forged.RequestID):
		t.Error("the rejection carries the ECO id of Northwind's own request with that id: it could touch that ECO")
	}
	if c, ok := o.created[own.RequestID]; !ok || c.NOCTenantID != devdata.NOCNorthwind {
		t.Errorf("Northwind's own request on its ingress: %+v, want created for Northwind", c)
	}
}

// A refused record whose allocation exists gets that allocation's eco.created again (the
// existing allocation wins), but only for the NOC that sent it: a record on Northwind's ingress
// naming Harbor and one of Harbor's request ids is refused as tenant_mismatch, and Harbor's
// eco.created is not re-sent. Otherwise the presence of a rejection would tell Northwind
// whether Harbor used that id.
func TestARefusedRecordNamingAnotherNOCNeverResendsThatNOCsECO(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(b.producer)
	details, err := adm.ListTopics(ctx, topics.ECORequests)
	must(t, err)
	_, err = adm.CreateTopic(ctx, int32(len(details[topics.ECORequests].Partitions)), -1, nil, topics.NOCIngress(devdata.NOCNorthwind))
	must(t, err)
	harbors := request(devdata.NOCHarbor, devdata.OSPAcme, devdata.RegionMetro)
	b.produce(t, harbors) // on the internal topic, as Harbor's HTTP intake would
	b.startReplica(t, "a", nil, nil)
	if o := b.awaitOutcomes(t, 1); o.createdCount[harbors.RequestID] != 1 {
		t.Fatalf("Harbor's request: %+v", o)
	}

	probe := *harbors // Harbor's request id and body, sent by Northwind
	rec, err := ecorequest.Record(b.validator, &probe, "test", time.Now())
	must(t, err)
	rec.Topic = topics.NOCIngress(devdata.NOCNorthwind)
	b.produceRaw(t, rec)
	var created int
	var rejected []schemas.ECORejected
	for _, r := range kafkatest.ReadAll(t, b.kafka.Brokers, topics.ECOEvents, 2, 30*time.Second) {
		switch cloudevents.Parse(r).Type {
		case schemas.TypeECOCreated:
			created++
		case schemas.TypeECORejected:
			var rej schemas.ECORejected
			mustJSON(t, r.Value, &rej)
			rejected = append(rejected, rej)
		}
	}
	if created != 1 {
		t.Errorf("Harbor's eco.created was sent %d times, want once: Northwind's record re-sent it", created)
	}
	if len(rejected) != 1 || rejected[0].Reason != schemas.ReasonTenantMismatch || rejected[0].NOCTenantID != devdata.NOCNorthwind {
		t.Errorf("rejections %+v, want Northwind's record rejected as tenant_mismatch for Northwind", rejected)
	}
}
