package sink_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/sink"
	"github.com/osprey-strike/strike/consumers/sink/sinktest"
	"github.com/osprey-strike/strike/internal/pgtest"
)

// BenchmarkSinkThroughput measures the sink end to end (kfake → decode and validate → fenced,
// batched PostgreSQL transaction with offsets) beside a raw baseline in the same run: the same
// projection rows, decoded beforehand, written with the same upserts in pgx batches of the same
// size, without Kafka, validation or offsets. It reports both rates and their ratio
// (target ≥ 0.5).
func BenchmarkSinkThroughput(b *testing.B) {
	const ecos = 1500 // × 9 events each
	const batch = 2000
	ctx := context.Background()
	now := time.Now().UTC()
	var recs []*kgo.Record
	for i := range ecos {
		recs = append(recs, sinktest.NewECO(fmt.Sprintf("noc-%d", i%5), fmt.Sprintf("osp-%d", i%7), i, now.Add(time.Duration(i)*time.Second)).Lifecycle()...)
	}
	events := len(recs)

	for b.Loop() {
		// Baseline: the same rows, straight into PostgreSQL.
		base := pgtest.New(b)
		stmts := sink.Statements(b, recs)
		start := time.Now()
		for i := 0; i < len(stmts); i += batch {
			end := min(i+batch, len(stmts))
			err := pgx.BeginFunc(ctx, base.Pool, func(tx pgx.Tx) error {
				pb := &pgx.Batch{}
				for _, group := range stmts[i:end] {
					for _, s := range group {
						pb.Queue(s.SQL, s.Args...)
					}
				}
				return tx.SendBatch(ctx, pb).Close()
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		rawRate := float64(events) / time.Since(start).Seconds()

		// The sink, from Kafka.
		bd := setup(b)
		bd.produce(b, recs...)
		start = time.Now()
		r := bd.start(b, batch, nil)
		bd.awaitCaughtUp(b)
		sinkRate := float64(events) / time.Since(start).Seconds()
		r.Stop(b)

		b.ReportMetric(sinkRate, "sink_events/s")
		b.ReportMetric(rawRate, "raw_upsert_events/s")
		b.ReportMetric(sinkRate/rawRate, "sink/raw")
	}
}
