package sink_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/osprey-strike/strike/consumers/sink/sinktest"
	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/dlq"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/projection"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

// The sink's DLQ path with an input just under the broker's 1 MB limit: its DLQ record fits, and
// the events after it are projected.
func TestANearlyOneMegabyteBadRecordReachesTheDLQAndTheSinkGoesOn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.start(t, 0, nil)
	e := sinktest.NewECO("noc-a", "osp-a", 1, time.Now())
	value := []byte(`{"eco_id":"` + strings.Repeat("<", 990_000) + `"}`)
	bad := cloudevents.Record(topics.ECOEvents, e.ECOID, cloudevents.Event{ID: "x-big", Type: schemas.TypeECOCreated, Time: time.Now()}, value)
	b.produce(t, bad, e.Created(), e.Started(time.Second))
	b.awaitCaughtUp(t)
	if st, _, _ := b.boardStatus(t, e.ECOID); st != projection.StatusRinging {
		t.Errorf("status %q: the events after the large bad one must be projected", st)
	}
	dl := kafkatest.ReadAll(t, b.kafka.Brokers, topics.DLQ, 1, 30*time.Second)
	if len(dl) != 1 {
		t.Fatalf("%d DLQ records, want 1", len(dl))
	}
	sum := sha256.Sum256(value)
	for h, want := range map[string]string{
		dlq.HeaderReason:         schemas.DLQSchemaViolation,
		dlq.HeaderOriginalSize:   strconv.Itoa(len(value)),
		dlq.HeaderOriginalSHA256: hex.EncodeToString(sum[:]),
		dlq.HeaderTruncated:      "true",
	} {
		if got, _ := cloudevents.Header(dl[0], h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(schemas.TypeDLQRecord, dl[0].Value); err != nil {
		t.Errorf("DLQ value does not match its schema: %v", err)
	}
	var rec schemas.DLQRecord
	if err := json.Unmarshal(dl[0].Value, &rec); err != nil {
		t.Fatal(err)
	}
	if !rec.OriginalTruncated || rec.OriginalSize != len(value) {
		t.Errorf("envelope truncated=%v size=%d, want true and %d", rec.OriginalTruncated, rec.OriginalSize, len(value))
	}
}
