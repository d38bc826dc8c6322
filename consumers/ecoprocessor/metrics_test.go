package ecoprocessor_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/ecoprocessor"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/running"
	"github.com/osprey-strike/strike/internal/topics"
)

// The numbering-per-OSP metric counts each job number once, under its OSP's tenant id: a
// redelivered request (same number again) and a rejection (no number) add nothing, and only
// OSPs that got a number have a series, so the label set is the bounded set of OSP tenants.
func TestJobNumbersAllocatedAreCountedPerOSP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	reg := prometheus.NewRegistry()
	p, err := ecoprocessor.New(ecoprocessor.Deps{Store: ecoprocessor.PGStore{Pool: b.db.Pool}, Validator: b.validator, Log: zerolog.Nop(), Registry: reg},
		ecoprocessor.Config{Brokers: b.kafka.Brokers, Security: b.security, TransactionalID: "strike-eco-processor-test-metrics", KafkaOpts: fastGroupOpts()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	running.Start(t, "eco-processor", ctx, cancel, p.Run)

	acme1 := request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro)
	acme2 := request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro)
	bolt := request(devdata.NOCNorthwind, devdata.OSPBolt, devdata.RegionMetro)
	suspended := request(devdata.NOCHarbor, devdata.OSPCedar, devdata.RegionCoast) // rejected: link suspended
	b.produce(t, acme1, bolt, suspended)
	kafkatest.ReadAll(t, b.kafka.Brokers, topics.ECOEvents, 3, 30*time.Second)
	b.produce(t, acme2, acme1) // acme1 again: a NOC tool's retry gets the number it had
	if n := len(kafkatest.ReadAll(t, b.kafka.Brokers, topics.ECOEvents, 5, 30*time.Second)); n != 5 {
		t.Fatalf("read %d events, want 5", n)
	}

	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "strike_eco_processor_job_numbers_allocated_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "osp_tenant_id" {
					got[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	if want := map[string]float64{devdata.OSPAcme: 2, devdata.OSPBolt: 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("strike_eco_processor_job_numbers_allocated_total by osp_tenant_id = %v, want %v", got, want)
	}
}

// An undecodable request is counted on the one DLQ metric every consumer shares, by consumer
// and reason, once its DLQ record is committed.
func TestDLQRecordsAreCountedByConsumerAndReason(t *testing.T) {
	t.Parallel()
	b := setup(t)
	reg := prometheus.NewRegistry()
	p, err := ecoprocessor.New(ecoprocessor.Deps{Store: ecoprocessor.PGStore{Pool: b.db.Pool}, Validator: b.validator, Log: zerolog.Nop(), Registry: reg},
		ecoprocessor.Config{Brokers: b.kafka.Brokers, Security: b.security, TransactionalID: "strike-eco-processor-test-dlq", KafkaOpts: fastGroupOpts()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	running.Start(t, "eco-processor", ctx, cancel, p.Run)
	b.produceRaw(t, &kgo.Record{Topic: topics.ECORequests, Key: []byte(devdata.OSPAcme), Value: []byte(`{not json`)})
	kafkatest.ReadAll(t, b.kafka.Brokers, topics.DLQ, 1, 30*time.Second)
	// The DLQ record is read once committed; the count follows the commit in the same call.
	deadline := time.Now().Add(10 * time.Second)
	for dlqCount(t, reg, "eco-processor", "invalid_json") != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("strike_dlq_records_total{consumer=eco-processor,reason=invalid_json} = %v, want 1",
				dlqCount(t, reg, "eco-processor", "invalid_json"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dlqCount is strike_dlq_records_total{consumer, reason} as gathered from reg.
func dlqCount(t *testing.T, reg *prometheus.Registry, consumer, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "strike_dlq_records_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["consumer"] == consumer && labels["reason"] == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
