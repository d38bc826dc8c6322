package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/ecoprocessor"
	"github.com/osprey-strike/strike/consumers/sink"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/producers/gateway"
)

// TestIntakeReachesBothBoardsThroughThePipeline follows one ECO from an HTTP POST through the
// real eco-processor and sink to the NOC's and the OSP's boards, then its cancel the same way.
func TestIntakeReachesBothBoardsThroughThePipeline(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	fast := []kgo.Opt{kgo.SessionTimeout(1500 * time.Millisecond), kgo.HeartbeatInterval(150 * time.Millisecond),
		kgo.FetchMaxWait(100 * time.Millisecond), kgo.TransactionTimeout(3 * time.Second),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	proc, err := ecoprocessor.New(ecoprocessor.Deps{Store: ecoprocessor.PGStore{Pool: w.db.Pool}, Validator: w.v, Log: zerolog.Nop()},
		ecoprocessor.Config{Brokers: w.kafka.Brokers, Security: w.kafka.Principal(t, "eco-processor"), TransactionalID: "strike-eco-processor-e2e", KafkaOpts: fast})
	if err != nil {
		t.Fatal(err)
	}
	sk, err := sink.New(sink.Deps{Pool: w.db.Pool, Validator: w.v, Log: zerolog.Nop()},
		sink.Config{Brokers: w.kafka.Brokers, Security: w.kafka.Principal(t, "sink"), KafkaOpts: fast[:3]})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 2)
	go func() { _ = proc.Run(ctx); done <- struct{}{} }()
	go func() { _ = sk.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })

	r := w.do(t, single, "POST", "/v1/nocs/noc-northwind/ecos", validCreate(devdata.OSPAcme))
	if r.status != 202 {
		t.Fatalf("intake: %d %s", r.status, r.body)
	}
	ack := decode[gateway.IntakeResponse](t, r)

	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		r := w.do(t, single, "GET", ack.ECOURL, nil)
		if r.status == 200 {
			d := decode[gateway.ECODetail](t, r)
			if d.Status != "created" || d.JobNumber == nil || *d.JobNumber == "" || len(d.Timeline) != 1 {
				t.Fatalf("ECO after the pipeline: %s", r.body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ECO never reached the NOC's board: %d %s", r.status, r.body)
		}
		<-tick.C
	}
	if r := w.do(t, agent, "GET", "/v1/osps/osp-acme/ecos/"+ack.ECOID, nil); r.status != 200 {
		t.Errorf("the OSP does not see the new ECO: %d", r.status)
	}

	// The NOC cancels; the eco-processor turns the request into eco.cancelled, the sink
	// projects it, and both tenants see the ECO cancelled.
	if r := w.do(t, single, "POST", ack.ECOURL+"/cancel", map[string]string{"reason": "fixed remotely"}); r.status != 202 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	for {
		d := decode[gateway.ECODetail](t, w.do(t, agent, "GET", "/v1/osps/osp-acme/ecos/"+ack.ECOID, nil))
		if d.Status == "cancelled" {
			if d.CancelReason == nil || *d.CancelReason != "fixed remotely" {
				t.Errorf("cancel reason %v", d.CancelReason)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cancel never reached the OSP's board: status %s", d.Status)
		}
		<-tick.C
	}
}
