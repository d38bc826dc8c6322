package egress_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/egress"
	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/running"
	"github.com/osprey-strike/strike/internal/topics"
)

func event(topic, noc, id string) *kgo.Record {
	value := fmt.Appendf(nil, `{"eco_id":%q,"noc_tenant_id":%q,"osp_tenant_id":"osp-acme"}`, id, noc)
	return cloudevents.Record(topic, id, cloudevents.Event{ID: "ce-" + id, Type: "strike.test.v1", Source: "test", Subject: id, Time: time.Now()}, value)
}

// Each NOC's outcomes, from both internal event topics, reach that NOC's egress topic once,
// with key, value and headers unchanged, and no other NOC's. A NOC without an egress topic is
// skipped and counted, not retried forever.
func TestEachNOCsOutcomesReachOnlyItsEgressTopic(t *testing.T) {
	t.Parallel()
	k := kafkatest.NewSecured(t)
	prod := kafkatest.Client(t, k.Brokers, kgo.ProducerLinger(0))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(prod).CreateTopics(ctx, 2, -1, nil, topics.NOCEgress("noc-a"), topics.NOCEgress("noc-b")); err != nil {
		t.Fatal(err)
	}
	recs := []*kgo.Record{
		event(topics.ECOEvents, "noc-a", "e1"), event(topics.CalloutEvents, "noc-a", "e1"),
		event(topics.ECOEvents, "noc-b", "e2"), event(topics.ECOEvents, "noc-unprovisioned", "e3"),
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	e, err := egress.New(zerolog.Nop(), reg, egress.Config{Brokers: k.Brokers, Security: k.Principal(t, "egress", "noc-a", "noc-b"), TransactionalID: "strike-egress-test",
		KafkaOpts: []kgo.Opt{kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(context.Background())
	running.Start(t, "egress", rctx, stop, e.Run)

	a := kafkatest.ReadAll(t, k.Brokers, topics.NOCEgress("noc-a"), 2, 30*time.Second)
	b := kafkatest.ReadAll(t, k.Brokers, topics.NOCEgress("noc-b"), 1, 30*time.Second)
	for _, r := range a {
		if ce := cloudevents.Parse(r); string(r.Key) != "e1" || ce.ID != "ce-e1" {
			t.Errorf("NOC A's egress got key %q ce_id %q", r.Key, ce.ID)
		}
	}
	if len(a) != 2 || len(b) != 1 || string(b[0].Key) != "e2" {
		t.Fatalf("egress A %d records, B %d, want 2 and 1 (B's: e2)", len(a), len(b))
	}
	deadline := time.Now().Add(10 * time.Second)
	for skippedNoTopic(t, reg) < 1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := skippedNoTopic(t, reg); got != 1 {
		t.Errorf("skipped{no_topic} = %v, want 1 (the unprovisioned NOC's outcome)", got)
	}
}

// skippedNoTopic reads strike_egress_skipped_total{reason="no_topic"}.
func skippedNoTopic(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "strike_egress_skipped_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == "no_topic" {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// Run as a principal without the egress's ACLs (the sink's: another group), the component
// stops with an error naming the refusal instead of retrying forever.
func TestEgressStopsWhenItsPrincipalLacksAnACL(t *testing.T) {
	t.Parallel()
	k := kafkatest.NewSecured(t)
	e, err := egress.New(zerolog.Nop(), nil, egress.Config{Brokers: k.Brokers, Security: k.Principal(t, "sink"), TransactionalID: "strike-egress-test",
		KafkaOpts: []kgo.Opt{kgo.FetchMaxWait(50 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = e.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "lacks an ACL") || ctx.Err() != nil {
		t.Fatalf("Run = %v (deadline passed: %v), want a stop naming the missing ACL", err, ctx.Err() != nil)
	}
}
