package ecoprocessor_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/ecoprocessor"
	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/dlq"
	"github.com/osprey-strike/strike/internal/ecorequest"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

// murmur2Partition is the partition franz-go's default partitioner (Kafka's murmur2) gives key.
func murmur2Partition(key string) int32 {
	p := kgo.StickyKeyPartitioner(nil).ForTopic(topics.ECORequests)
	return int32(p.Partition(&kgo.Record{Key: []byte(key)}, kafkatest.Partitions))
}

// A NOC tool with another partitioner (librdkafka's default consistent_random is crc32) puts
// some of an OSP's requests on another partition, where they would be numbered out of request
// order. Such a record goes to the DLQ; every correctly partitioned request is still numbered
// in order, and nothing is numbered for the misplaced one.
func TestRecordOnAnotherPartitionThanMurmur2GoesToTheDLQ(t *testing.T) {
	t.Parallel()
	b := setup(t)
	osps := b.addOSPs(t, 12)
	manual := kafkatest.Client(t, b.kafka.Brokers, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))

	byOSP := map[string][]*schemas.ECORequest{}
	var recs, misplaced []*kgo.Record
	for _, osp := range osps {
		right := murmur2Partition(osp)
		for i := range 3 {
			req := request(devdata.NOCNorthwind, osp, devdata.RegionMetro)
			rec, err := ecorequest.Record(b.validator, req, "test", time.Now())
			must(t, err)
			rec.Partition = right
			if i == 1 { // the middle request lands on the neighbouring partition
				rec.Partition = (right + 1) % kafkatest.Partitions
				misplaced = append(misplaced, rec)
			} else {
				byOSP[osp] = append(byOSP[osp], req)
			}
			recs = append(recs, rec)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	must(t, manual.ProduceSync(ctx, recs...).FirstErr())
	b.startReplica(t, "a", nil, nil)

	assertContiguous(t, b.awaitOutcomes(t, 2*len(osps)), byOSP)
	dl := kafkatest.ReadAll(t, b.kafka.Brokers, topics.DLQ, len(misplaced), 30*time.Second)
	if len(dl) != len(misplaced) {
		t.Fatalf("DLQ has %d records, want %d", len(dl), len(misplaced))
	}
	byOrigin := map[string]*kgo.Record{}
	for _, r := range dl {
		part, _ := cloudevents.Header(r, dlq.HeaderOriginPartition)
		off, _ := cloudevents.Header(r, dlq.HeaderOriginOffset)
		byOrigin[part+"/"+off] = r
	}
	for _, in := range misplaced {
		r, ok := byOrigin[fmt.Sprintf("%d/%d", in.Partition, in.Offset)]
		if !ok {
			t.Errorf("no DLQ record for the misplaced record at %d/%d", in.Partition, in.Offset)
			continue
		}
		if reason, _ := cloudevents.Header(r, dlq.HeaderReason); reason != schemas.DLQPartitionMismatch {
			t.Errorf("reason %q, want %q", reason, schemas.DLQPartitionMismatch)
		}
		if topic, _ := cloudevents.Header(r, dlq.HeaderOriginTopic); topic != topics.ECORequests {
			t.Errorf("origin topic %q", topic)
		}
		if consumer, _ := cloudevents.Header(r, dlq.HeaderConsumer); consumer != ecoprocessor.Name {
			t.Errorf("consumer %q", consumer)
		}
		msg, _ := cloudevents.Header(r, dlq.HeaderError)
		for _, want := range []string{"murmur2", "murmur2_random"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not name the fix (%q)", msg, want)
			}
		}
		if err := b.validator.Validate(schemas.TypeDLQRecord, r.Value); err != nil {
			t.Errorf("DLQ value does not match its schema: %v", err)
		}
	}
	var n int
	must(t, b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM job_allocations`).Scan(&n))
	if want := 2 * len(osps); n != want {
		t.Errorf("%d allocations, want %d: a misplaced request must not be numbered", n, want)
	}
}
