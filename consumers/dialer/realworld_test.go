package dialer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/dialer"
	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

// These tests pin the dialer's promises where production differs from a quiet test: replicas
// joining while calls wait on the CPS limit, an eco.created delivered again long after its
// ring-down ended, a CreateCall whose answer is lost, and Twilio account problems.

// callsPerPhone counts the simulator's calls to each number, and the calls created after the
// ECO that called that number was filled.
func (e *env) callsPerPhone(filledAt map[string]time.Time) (perPhone map[string]int, afterFill int) {
	perPhone = map[string]int{}
	for _, c := range e.sim.Calls() {
		perPhone[c.To]++
		if at, ok := filledAt[c.To]; ok && c.Created.After(at) {
			afterFill++
		}
	}
	return perPhone, afterFill
}

func acceptedAt(t *testing.T, evs []event) time.Time {
	t.Helper()
	return acceptedBy(t, evs).AcceptedAt
}

// TestScaleOutNeverPlacesACallTwice: twelve ECOs wait on a CPS limit of 1 on one replica when a
// second joins and takes half the partitions. The calls queued for those partitions leave with
// them: every attempt is placed once, and nothing after its ECO was filled.
func TestScaleOutNeverPlacesACallTwice(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cps: 1})
	e.startDialer("r1", nil)
	type eco struct{ id, phone string }
	var ecos []eco
	for range 12 {
		osp, ph := e.osp(1)
		e.sim.SetBehaviour(ph[0], accept(time.Second))
		ecos = append(ecos, eco{e.created(osp, engagement(1, 0, 1200, 20), 1), ph[0]})
	}
	// Join while most calls still wait on the limiter (one call per wall-clock second).
	e.await(ecos[0].id, 30*time.Second, "first call placed", func(evs []event) bool {
		return len(of[schemas.CallPlaced](t, evs, schemas.TypeCalloutCallPlaced)) >= 1
	})
	e.startDialer("r2", nil)
	filled := map[string]time.Time{}
	for _, x := range ecos {
		filled[x.phone] = acceptedAt(t, e.awaitFinal(x.id))
	}
	perPhone, afterFill := e.callsPerPhone(filled)
	for _, x := range ecos {
		if n := perPhone[x.phone]; n != 1 {
			t.Errorf("ECO %s: %d calls for its one attempt, want 1", x.id, n)
		}
	}
	if afterFill != 0 {
		t.Errorf("%d calls placed after their ECO was filled", afterFill)
	}
}

// stateRecords counts the records of key in strike.callout.state.v1 (read-committed).
func (e *env) stateRecords(key string) int {
	e.t.Helper()
	cl := kafkatest.Client(e.t, e.kafka.Brokers, kgo.ConsumeTopics(topics.CalloutState),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.KeepControlRecords()) // the transaction markers mark the exact end
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := adm.ListCommittedOffsets(ctx, topics.CalloutState)
	must(e.t, err)
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	n := 0
	for len(left) > 0 && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Key) == key && !r.Attrs.IsControl() {
				n++
			}
			if end, ok := left[r.Partition]; ok && r.Offset+1 >= end {
				delete(left, r.Partition)
			}
		})
	}
	return n
}

// awaitGroupPast waits until the dialer group's committed offset of the partition passes offset.
func (e *env) awaitGroupPast(group string, partition int32, offset int64) {
	e.t.Helper()
	adm := kadm.NewClient(e.producer)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		os, err := adm.FetchOffsets(context.Background(), group)
		if err == nil {
			if o, ok := os.Lookup(topics.ECOEvents, partition); ok && o.At > offset {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("group %s did not commit past %s/%d@%d", group, topics.ECOEvents, partition, offset)
}

// TestRedeliveredCreatedNeverRingsAFinishedECO: an ECO is filled, its retention passes, and the
// same eco.created arrives again (a producer retry an hour later, an offset reset): nobody is
// called again, neither by the group that rang it nor by a new group reading from the start.
func TestRedeliveredCreatedNeverRingsAFinishedECO(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	r1 := e.startDialerWith("r1", func(c *dialer.Config) { c.Retention = 30 * time.Minute }, nil)
	osp, ph := e.osp(1)
	e.sim.SetBehaviour(ph[0], accept(time.Second))
	reqID := uuid.NewString()
	created := schemas.ECOCreated{ECOID: ids.ECOID(devdata.NOCNorthwind, reqID), RequestID: reqID, JobNumber: "JOB-" + reqID[:8], Number: 1,
		NOCTenantID: devdata.NOCNorthwind, OSPTenantID: osp, Region: devdata.RegionMetro, Priority: "P1",
		Site: schemas.Site{Name: "Exchange 7"}, Summary: "Fibre cut", RequestedBy: schemas.Requester{Name: "Noor"},
		PeopleNeeded: 1, Engagement: engagement(1, 0, 1200, 10), CreatedAt: e.clock.Now().UTC()}
	id := created.ECOID
	e.produceCreated(created)
	e.awaitFinal(id)
	before := e.stateRecords(id)
	e.clock.Jump(2 * time.Hour)
	deadline := time.Now().Add(20 * time.Second)
	for e.stateRecords(id) == before {
		if time.Now().After(deadline) {
			t.Fatal("the finished ring-down's retention was never written")
		}
		time.Sleep(100 * time.Millisecond)
	}

	evs := e.await(id, time.Second, "started", func([]event) bool { return true })
	started := len(of[schemas.CalloutStarted](t, evs, schemas.TypeCalloutStarted))
	rec := e.produceCreated(created) // the same event again, an hour later
	e.awaitGroupPast(dialer.DefaultGroup, rec.Partition, rec.Offset)
	r1.Stop(t)

	r2 := e.startDialerWith("r2", func(c *dialer.Config) { c.Group = "strike-dialer-after-reset" }, nil)
	e.awaitGroupPast("strike-dialer-after-reset", rec.Partition, rec.Offset)
	r2.Stop(t)

	if n := len(e.sim.Calls()); n != 1 {
		t.Errorf("%d calls, want the one call before the fill", n)
	}
	evs = e.await(id, time.Second, "events", func([]event) bool { return true })
	if n := len(of[schemas.CalloutStarted](t, evs, schemas.TypeCalloutStarted)); n != started {
		t.Errorf("%d callout.started events, want %d: the finished ECO was started again", n, started)
	}
}

// produceCreated produces ev and returns the record as written (partition and offset).
func (e *env) produceCreated(ev schemas.ECOCreated) *kgo.Record {
	e.t.Helper()
	value, err := json.Marshal(ev)
	must(e.t, err)
	must(e.t, e.validator.Validate(schemas.TypeECOCreated, value))
	rec := cloudevents.Record(topics.ECOEvents, ev.ECOID, cloudevents.Event{ID: ids.EventID(schemas.TypeECOCreated, ev.ECOID),
		Type: schemas.TypeECOCreated, Source: "test", Subject: ev.ECOID, Time: time.Now()}, value)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := e.producer.ProduceSync(ctx, rec).First()
	must(e.t, err)
	return r
}

// lostAnswer forwards a CreateCall for one number to Twilio and then loses Twilio's answer, as
// a proxy timing out or a connection reset would: the call exists, the dialer does not know it.
type lostAnswer struct {
	next  http.RoundTripper
	phone string
	mu    sync.Mutex
	lost  int
}

func (l *lostAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/Calls.json") {
		return l.next.RoundTrip(r)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	res, err := l.next.RoundTrip(r)
	if err != nil || form.Get("To") != l.phone {
		return res, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost > 0 {
		return res, nil
	}
	l.lost++
	_ = res.Body.Close()
	return nil, errors.New("read tcp: connection reset by peer")
}

// TestLostCreateCallAnswerNeverRingsTwice: Twilio documents call creation as not idempotent.
// When the answer to CreateCall is lost the call may exist: the dialer learns it from the call's
// callbacks or the Calls list, and never places the attempt a second time.
func TestLostCreateCallAnswerNeverRingsTwice(t *testing.T) {
	t.Parallel()
	lost := &lostAnswer{}
	e := newEnv(t, envOpts{transport: func(next http.RoundTripper) http.RoundTripper { lost.next = next; return lost }})
	e.startDialer("a", nil)
	osp, ph := e.osp(2)
	lost.phone = ph[0]
	e.sim.SetBehaviour(ph[0], accept(2*time.Second))
	id := e.created(osp, engagement(1, 0, 1200, 10), 1)
	a := acceptedBy(t, e.awaitFinal(id))
	if a.Contact.Position != 1 {
		t.Errorf("accepted by position %d, want 1 (whose call was created though its answer was lost)", a.Contact.Position)
	}
	if lost.lost != 1 {
		t.Fatalf("the fault fired %d times, want 1", lost.lost)
	}
	assertSeq(t, e, ph, 1)
}

// TestTwilioAccountProblemIsNotAnInvalidNumber: Twilio refuses a call for a reason of the
// NOC's subaccount (21215: geo permissions). The contact's number is fine: the roster is not
// marked invalid contact by contact; the ring-down says what is wrong and retries per policy.
func TestTwilioAccountProblemIsNotAnInvalidNumber(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.startDialer("a", nil)
	osp, ph := e.osp(2)
	e.sim.SetBehaviour(ph[0], accept(time.Second))
	e.sim.SetBehaviour(ph[1], accept(time.Second))
	e.sim.FailNext(1, http.StatusBadRequest, 21215)
	id := e.created(osp, engagement(1, 1, 60, 10), 1)
	evs := e.awaitFinal(id)
	for _, r := range results(t, evs) {
		if r == schemas.CallInvalidNumber {
			t.Errorf("results %v: an account problem marked a contact's number invalid", results(t, evs))
		}
	}
	if n := len(of[schemas.RetryScheduled](t, evs, schemas.TypeCalloutRetryScheduled)); n != 1 {
		t.Errorf("%d retries scheduled, want 1 (the policy's retry after the account problem)", n)
	}
	if a := acceptedBy(t, evs); a.Contact.Position != 1 {
		t.Errorf("accepted by position %d in the retry, want 1", a.Contact.Position)
	}
}
