package main

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/internal/topics"
)

// strike lag --once prints each group's lag: a Kafka-committed group against its commits, the
// sink's group against its offsets in PostgreSQL.
func TestLagCommandPrintsKafkaAndStoredPositions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := kafkatest.New(t)
	db := pgtest.New(t)
	prod := kafkatest.Client(t, c.Brokers, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	recs := make([]*kgo.Record, 7)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topics.ECOEvents, Partition: 1, Value: []byte("{}")}
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := prod.ProduceSync(pctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var os kadm.Offsets
	os.AddOffset(topics.ECOEvents, 1, 2, -1)
	if err := kadm.NewClient(prod).CommitAllOffsets(ctx, groupRenderDispatch, os); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO sink_offsets (consumer_group, topic, partition, next_offset) VALUES ('strike-sink', $1, 1, 6)`, topics.ECOEvents); err != nil {
		t.Fatal(err)
	}

	out, err := runCLI(t, "lag", "--once", "--brokers", c.Brokers, "--database-url", db.URL,
		"--group", groupRenderDispatch+",strike-sink")
	if err != nil {
		t.Fatalf("strike lag: %v\n%s", err, out)
	}
	for _, want := range []string{
		`strike-render-dispatch\s+\S+\s+0\s+strike.eco.events.v1\s+1\s+2\s+7\s+5\n`,
		`strike-render-dispatch\s+\S+\s+0\s+\(total\)\s+5\n`,
		`strike-sink\s+\S+\s+0\s+strike.eco.events.v1\s+1\s+6\s+7\s+1\n`,
		`strike-sink\s+\S+\s+0\s+\(total\)\s+1\n`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
