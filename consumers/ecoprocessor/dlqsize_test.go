package ecoprocessor_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/dlq"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

// A bad input just under the broker's 1 MB limit would make a DLQ record several times its size
// (JSON escapes each '<' as \u003c). The DLQ record still fits: the original value is truncated
// and its size and SHA-256 kept, and the next valid request is numbered.
func TestANearlyOneMegabyteBadRecordReachesTheDLQ(t *testing.T) {
	t.Parallel()
	b := setup(t) // kfake's message.max.bytes is a real broker's default, 1048588
	value := []byte(`{"request_id":"` + strings.Repeat("<", 990_000) + `"}`)
	bad := &kgo.Record{Topic: topics.ECORequests, Key: []byte(devdata.OSPAcme), Value: value}
	b.produceRaw(t, bad)
	good := request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro)
	b.produce(t, good)
	b.startReplica(t, "a", nil, nil)

	if o := b.awaitOutcomes(t, 1); o.created[good.RequestID].Number != 1 {
		t.Errorf("the valid request after the large bad one: %+v, want number 1", o.created[good.RequestID])
	}
	dl := kafkatest.ReadAll(t, b.kafka.Brokers, topics.DLQ, 1, 30*time.Second)
	if len(dl) != 1 {
		t.Fatalf("DLQ has %d records, want 1", len(dl))
	}
	checkTruncatedDLQ(t, b.validator, dl[0], value, schemas.DLQSchemaViolation)
}

func checkTruncatedDLQ(t *testing.T, v *schemas.Validator, r *kgo.Record, original []byte, reason string) {
	t.Helper()
	sum := sha256.Sum256(original)
	for h, want := range map[string]string{
		dlq.HeaderReason:         reason,
		dlq.HeaderOriginalSize:   strconv.Itoa(len(original)),
		dlq.HeaderOriginalSHA256: hex.EncodeToString(sum[:]),
		dlq.HeaderTruncated:      "true",
	} {
		if got, _ := cloudevents.Header(r, h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	if err := v.Validate(schemas.TypeDLQRecord, r.Value); err != nil {
		t.Errorf("DLQ value does not match its schema: %v", err)
	}
	var rec schemas.DLQRecord
	mustJSON(t, r.Value, &rec)
	if rec.OriginalValue == nil || !strings.HasPrefix(string(original), *rec.OriginalValue) || len(*rec.OriginalValue) == 0 {
		t.Errorf("original_value is not a non-empty prefix of the original")
	}
	if !rec.OriginalTruncated || rec.OriginalSize != len(original) || rec.OriginalSHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("envelope truncated=%v size=%d sha256=%s, want true, %d and the hash", rec.OriginalTruncated, rec.OriginalSize, rec.OriginalSHA256, len(original))
	}
	if n := len(r.Value); n > dlq.MaxValueBytes {
		t.Errorf("DLQ value is %d bytes, over dlq.MaxValueBytes %d", n, dlq.MaxValueBytes)
	}
}
