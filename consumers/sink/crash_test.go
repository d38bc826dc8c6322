package sink_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/sink"
	"github.com/osprey-strike/strike/consumers/sink/sinktest"
	"github.com/osprey-strike/strike/internal/childproc"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/schemas"
)

// TestChildSink is not a test on its own: TestSinkKilledWithSIGKILLMidTransaction runs the test
// binary again with it selected, as a real second process that it can SIGKILL.
func TestChildSink(t *testing.T) {
	brokers, dbURL := os.Getenv("STRIKE_SINK_CHILD_BROKERS"), os.Getenv("STRIKE_SINK_CHILD_DB")
	if brokers == "" {
		t.Skip("only runs as the child of TestSinkKilledWithSIGKILLMidTransaction")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	s, err := sink.New(sink.Deps{Pool: pool, Validator: v, Log: zerolog.Nop()},
		sink.Config{Brokers: brokers, Security: kafkatest.ChildPrincipal(t, "sink"), MaxPollRecords: 25, KafkaOpts: []kgo.Opt{kgo.FetchMaxWait(100 * time.Millisecond),
			// A short session, so the parent's replica takes over soon after the SIGKILL.
			kgo.SessionTimeout(1500 * time.Millisecond), kgo.HeartbeatInterval(150 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	batches := 0
	s.SetMidTransaction(func() {
		// The third batch's rows and offsets are written but not committed: tell the parent,
		// then wait to be killed.
		if batches++; batches == 3 {
			childproc.Announce("MID-TRANSACTION")
			select {}
		}
	})
	_ = s.Run(ctx)
}

func TestSinkKilledWithSIGKILLMidTransactionConvergesToARebuild(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a second process")
	}
	b := setup(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	var recs []*kgo.Record
	for i := range 20 {
		recs = append(recs, sinktest.NewECO("noc-a", "osp-a", i, now.Add(time.Duration(i)*time.Second)).Lifecycle()...)
	}
	b.produce(t, recs...)

	child := childproc.Start(t, "TestChildSink", "STRIKE_SINK_CHILD_BROKERS="+b.kafka.Brokers, "STRIKE_SINK_CHILD_DB="+b.db.URLAs(pg.RoleSink), b.kafka.ChildEnv())
	child.WaitFor(t, "MID-TRANSACTION", 60*time.Second)
	child.Kill(t) // SIGKILL: no cleanup, no rollback by the client
	var stored int64
	if err := b.db.Pool.QueryRow(context.Background(), `SELECT coalesce(sum(next_offset), 0) FROM sink_offsets`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored == 0 || stored >= int64(len(recs)) {
		t.Fatalf("stored offsets sum to %d of %d records: the kill did not land mid-stream", stored, len(recs))
	}

	b.start(t, 0, nil)
	b.awaitCaughtUp(t)
	live := sinktest.Snapshot(t, b.db.Pool)
	if _, err := sink.Rebuild(context.Background(), sink.Deps{Pool: b.db.Pool, Validator: b.v, Log: zerolog.Nop()},
		sink.RebuildConfig{Brokers: b.kafka.Brokers, Security: b.security}); err != nil {
		t.Fatal(err)
	}
	if rebuilt := sinktest.Snapshot(t, b.db.Pool); rebuilt != live {
		t.Error("after a SIGKILL mid-transaction the projections differ from a rebuild")
	}
}
