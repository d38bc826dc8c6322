// Package kafkatest starts a real Kafka-protocol broker for tests, with Strike's topics created,
// so tests exercise the same client code as production. By default it is franz-go's kfake, in
// process. With STRIKE_TEST_BROKER=container it is a real Apache Kafka broker (KRaft) in a
// container started by testcontainers-go, for running the same suites where Docker exists
// (`make test-docker`).
package kafkatest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tckafka "github.com/testcontainers/testcontainers-go/modules/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/topics"
)

// Partitions is the partition count tests use: small, but more than one so ordering and
// co-partitioning are exercised.
const Partitions = 4

// Cluster is a running broker with Strike's topics. Cluster is nil for a container broker.
type Cluster struct {
	*kfake.Cluster
	Brokers string
}

// New starts a broker for one test and stops it when the test ends. kfake options apply only to
// the in-process broker.
func New(t testing.TB, opts ...kfake.Opt) *Cluster {
	t.Helper()
	if os.Getenv("STRIKE_TEST_BROKER") == "container" {
		return newContainer(t)
	}
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100 * time.Millisecond)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kafkatest: start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()[0]
	ensureTopics(t, brokers)
	return &Cluster{Cluster: c, Brokers: brokers}
}

// newContainer starts a real Kafka broker in a container for one test.
func newContainer(t testing.TB) *Cluster {
	t.Helper()
	// testcontainers-go panics when it finds no Docker; say so plainly instead.
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("kafkatest: STRIKE_TEST_BROKER=container needs a Docker engine: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kc, err := tckafka.Run(ctx, "confluentinc/confluent-local:7.5.0", tckafka.WithClusterID("strike-test"))
	if err != nil {
		t.Fatalf("kafkatest: start Kafka container (is Docker running?): %v", err)
	}
	t.Cleanup(func() { _ = testcontainers.TerminateContainer(kc) })
	brokers, err := kc.Brokers(ctx)
	if err != nil || len(brokers) == 0 {
		t.Fatalf("kafkatest: container brokers: %v", err)
	}
	ensureTopics(t, brokers[0])
	return &Cluster{Brokers: brokers[0]}
}

func ensureTopics(t testing.TB, brokers string) {
	t.Helper()
	cl := Client(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := topics.Ensure(ctx, kadm.NewClient(cl), topics.Catalog(Partitions), -1); err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
}

// Client returns a plain client for producing and reading in tests, closed with the test.
func Client(t testing.TB, brokers string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers)}, opts...)...)
	if err != nil {
		t.Fatalf("kafkatest: client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// ReadAll consumes topic read-committed from the start until want records have arrived or
// timeout passes, and returns what it read.
func ReadAll(t testing.TB, brokers, topic string, want int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl := Client(t, brokers, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		out = append(out, fs.Records()...)
	}
	return out
}
