package dialer_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/osprey-strike/strike/consumers/dialer"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/running"
	"github.com/osprey-strike/strike/schemas"
)

// Live ring-downs are exported by state (ringing, waiting_retry), and the time from the NOC's
// request to the first call is observed for ECOs whose request carries requested_at (the HTTP
// intake sets it); an ECO without it is not guessed at.
func TestLiveRingDownsByStateAndTimeFromRequestToFirstCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	reg := prometheus.NewRegistry()
	d, err := dialer.New(dialer.Deps{Store: dialer.PGStore{Pool: e.db.Pool}, Twilio: e.newAdapter(), Validator: e.validator, Log: testLog(t), Registry: reg},
		dialer.Config{Brokers: e.kafka.Brokers, Security: e.kafka.Principal(t, "dialer"), WebhookBase: e.gateway, TransactionalID: "strike-dialer-test-metrics", Clock: dialerClock{e.clock},
			PlaceRetry: 5 * time.Second, ReconcileMargin: 60 * time.Second, RestoreTimeout: 10 * time.Second, KafkaOpts: fastGroupOpts(), CPS: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	running.Start(t, "dialer", ctx, cancel, d.Run)

	osp, _ := e.osp(1) // nobody answers
	// One pass of a 10 s ring, then a retry 1,200 s later: waiting_retry for the rest of the test.
	retrying := e.createdEvent(devdata.NOCNorthwind, osp)
	retrying.Engagement = engagement(1, 1, 1200, 10)
	e.produceEvent(retrying.ECOID, schemas.TypeECOCreated, retrying)
	e.await(retrying.ECOID, 60*time.Second, "the retry scheduled", func(evs []event) bool {
		return len(evs) > 0 && evs[len(evs)-1].Type == schemas.TypeCalloutRetryScheduled
	})
	// Five passes of 600 s rings: ringing for the rest of the test; requested 2 s before created.
	ringing := e.createdEvent(devdata.NOCNorthwind, osp)
	ringing.Engagement = engagement(5, 0, 1200, 600)
	requested := ringing.CreatedAt.Add(-2 * time.Second)
	ringing.RequestedAt = &requested
	e.produceEvent(ringing.ECOID, schemas.TypeECOCreated, ringing)
	e.await(ringing.ECOID, 60*time.Second, "a call placed", func(evs []event) bool { return len(evs) >= 2 })

	var byState map[string]float64
	var count uint64
	var sum float64
	deadline := time.Now().Add(30 * time.Second)
	for {
		byState, count, sum = map[string]float64{}, 0, 0
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			switch mf.GetName() {
			case "strike_dialer_live_ringdowns":
				for _, m := range mf.GetMetric() {
					byState[label(m, "state")] = m.GetGauge().GetValue()
				}
			case "strike_dialer_time_from_request_to_first_call_seconds":
				count, sum = mf.GetMetric()[0].GetHistogram().GetSampleCount(), mf.GetMetric()[0].GetHistogram().GetSampleSum()
			}
		}
		if (byState["ringing"] == 1 && byState["waiting_retry"] == 1 && count == 1) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if byState["ringing"] != 1 || byState["waiting_retry"] != 1 || len(byState) != 2 {
		t.Errorf("strike_dialer_live_ringdowns by state = %v, want ringing 1 and waiting_retry 1", byState)
	}
	if count != 1 || sum < 2 {
		t.Errorf("time from request to first call: %d observations summing %.2f s, want one of at least 2 s (the ECO without requested_at is not observed)", count, sum)
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
