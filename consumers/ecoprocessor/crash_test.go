package ecoprocessor_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/osprey-strike/strike/consumers/ecoprocessor"
	"github.com/osprey-strike/strike/internal/childproc"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/schemas"
)

// TestChildProcessor is not a test on its own: TestReplicaKilledMidTransactionIsResumedWithoutGapsOrDuplicates runs the test
// binary again with it selected, as a real second process that it can SIGKILL.
func TestChildProcessor(t *testing.T) {
	brokers, dbURL := os.Getenv("STRIKE_CHILD_BROKERS"), os.Getenv("STRIKE_CHILD_DB")
	if brokers == "" {
		t.Skip("only runs as the child of TestReplicaKilledMidTransactionIsResumedWithoutGapsOrDuplicates")
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
	p, err := ecoprocessor.New(ecoprocessor.Deps{Store: ecoprocessor.PGStore{Pool: pool}, Validator: v, Log: zerolog.Nop()},
		ecoprocessor.Config{Brokers: brokers, Security: kafkatest.ChildPrincipal(t, "eco-processor"), TransactionalID: "strike-eco-processor-child", KafkaOpts: fastGroupOpts()})
	if err != nil {
		t.Fatal(err)
	}
	p.SetBeforeCommit(func() {
		// Outputs are produced and job numbers committed in PostgreSQL; the Kafka transaction is
		// open. Tell the parent, then wait to be killed.
		childproc.Announce("TRANSACTION-OPEN")
		select {}
	})
	_ = p.Run(ctx)
}

func TestReplicaKilledMidTransactionIsResumedWithoutGapsOrDuplicates(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a second process")
	}
	b := setup(t)
	var reqs []*schemas.ECORequest
	for range 40 {
		reqs = append(reqs, request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro))
	}
	b.produce(t, reqs...)

	child := childproc.Start(t, "TestChildProcessor", "STRIKE_CHILD_BROKERS="+b.kafka.Brokers, "STRIKE_CHILD_DB="+b.db.URLAs(pg.RoleECOProcessor), b.kafka.ChildEnv())
	child.WaitFor(t, "TRANSACTION-OPEN", 60*time.Second)
	var allocated int
	must(t, b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM job_allocations`).Scan(&allocated))
	if allocated == 0 {
		t.Fatal("child had allocated nothing before the kill; the test would prove nothing")
	}
	child.Kill(t)

	b.startReplica(t, "survivor", nil, nil)
	assertContiguous(t, b.awaitOutcomes(t, len(reqs)), map[string][]*schemas.ECORequest{devdata.OSPAcme: reqs})
}
