package status_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/dlq"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/lag"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/internal/status"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

func TestStatusShowsTheSeededSituation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := kafkatest.NewSecured(t)
	db := pgtest.New(t)
	cl := kafkatest.Client(t, k.Brokers, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produce := func(rs ...*kgo.Record) {
		t.Helper()
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	// Lag: 3 requests on partition 0, the eco-processor's group committed 1 of them.
	for range 3 {
		produce(&kgo.Record{Topic: topics.ECORequests, Partition: 0, Value: []byte(`{}`)})
	}
	adm := kadm.NewClient(cl)
	var off kadm.Offsets
	off.AddOffset(topics.ECORequests, 0, 1, -1)
	if _, err := adm.CommitOffsets(ctx, "strike-eco-processor", off); err != nil {
		t.Fatal(err)
	}

	// Ring-downs: latest state per ECO; two live (one ringing, one waiting to retry).
	st := func(id, v string) *kgo.Record {
		r := &kgo.Record{Topic: topics.CalloutState, Partition: 1, Key: []byte(id)}
		if v != "" {
			r.Value = []byte(v)
		}
		return r
	}
	produce(
		st("eco-1", `{"phase":"ringing"}`),
		st("eco-2", `{"phase":"ringing"}`), st("eco-2", `{"phase":"waiting_retry"}`),
		st("eco-3", `{"phase":"ringing"}`), st("eco-3", `{"v":1,"retired":true,"phase":"accepted"}`),
		st("eco-4", `{"phase":"exhausted"}`),
		st("eco-5", `{"phase":"ringing"}`), st("eco-5", ""),
	)

	// DLQ: three records in the window, one from two days ago.
	dl := func(reason string, at time.Time) *kgo.Record {
		r := dlq.Record("sink", &kgo.Record{Topic: topics.ECOEvents, Value: []byte(`x`)}, reason, errors.New("e"), at)
		r.Timestamp = at
		return r
	}
	now := time.Now()
	produce(dl(schemas.DLQInvalidJSON, now.Add(-48*time.Hour)), dl(schemas.DLQSchemaViolation, now),
		dl(schemas.DLQSchemaViolation, now), dl(schemas.DLQInvalidJSON, now))

	// Render: two instances, one failing.
	if err := devdata.Seed(ctx, tenancy.Store{Pool: db.Pool}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO render_instances (id, osp_tenant_id, base_url, client_id, client_secret_sealed)
			VALUES ('acme-main', 'osp-acme', 'https://a.example', 'c', 'v1:k1:n:c'),
			       ('bolt-main', 'osp-bolt', 'https://b.example', 'c', 'v1:k1:n:c')`,
		`INSERT INTO render_poll_state (instance_id, failures, last_result, last_error, last_poll_at)
			VALUES ('acme-main', 0, 'ok', '', now()), ('bolt-main', 4, 'auth', 'token refused: 401', now() - interval '30 seconds')`,
	} {
		if _, err := db.Pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}

	// Readiness: one ready, one not, one unreachable.
	okSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
		}
	}))
	defer okSrv.Close()
	notSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "kafka: not connected", http.StatusServiceUnavailable)
	}))
	defer notSrv.Close()

	rep := status.Gather(ctx, status.Config{
		Base:   append(k.Opts(), kgo.SeedBrokers(k.Brokers)),
		Pool:   db.Pool,
		Groups: []lag.Group{{Name: "strike-eco-processor", Topics: []string{topics.ECORequests}}},
		Ops:    []status.OpsURL{{"sink", okSrv.URL}, {"dialer", notSrv.URL}, {"gateway", "http://127.0.0.1:1"}},
	})
	if rep.LagErr != nil || rep.RingErr != nil || rep.DLQErr != nil || rep.RenderErr != nil {
		t.Fatalf("errors: %v %v %v %v", rep.LagErr, rep.RingErr, rep.DLQErr, rep.RenderErr)
	}
	if got := rep.Lag.Total("strike-eco-processor"); got != 2 {
		t.Errorf("lag %d, want 2", got)
	}
	if rep.Ringing["ringing"] != 1 || rep.Ringing["waiting_retry"] != 1 {
		t.Errorf("ring-downs %v", rep.Ringing)
	}
	if len(rep.DLQ) != 2 || rep.DLQ["schema_violation"] != 2 || rep.DLQ["invalid_json"] != 1 {
		t.Errorf("DLQ %v", rep.DLQ)
	}
	if len(rep.Render) != 1 || rep.Render[0].ID != "bolt-main" || rep.Render[0].Failures != 4 || rep.RenderOK != 1 {
		t.Errorf("render %+v ok %d", rep.Render, rep.RenderOK)
	}
	if !rep.Ready[0].Ready || rep.Ready[1].Ready || rep.Ready[2].Ready {
		t.Errorf("readiness %+v", rep.Ready)
	}

	var out bytes.Buffer
	if err := rep.Print(&out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	t.Log("\n" + text)
	for _, l := range strings.Split(text, "\n") {
		if n := len([]rune(l)); n > status.Width {
			t.Errorf("line of %d columns: %q", n, l)
		}
	}
	for _, w := range []string{
		"2 (strike.eco.requests.v1/0)",
		"ringing 1, waiting_retry 1, total 2",
		"invalid_json  1", "schema_violation  2", "total  3",
		"1 failing, 1 healthy", "bolt-main", "osp-bolt", "token refused: 401", "30s ago",
		"sink", "dialer", "NOT READY", "503: kafka: not connected", "200\n",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("output lacks %q", w)
		}
	}
	if !strings.Contains(text, "strike-eco-processor") || !regexpLine(text, `strike-eco-processor\s+\S+\s+0\s+2\s+2 \(`) {
		t.Errorf("group line wrong")
	}
}

func regexpLine(text, re string) bool { return regexp.MustCompile(re).MatchString(text) }
