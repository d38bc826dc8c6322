// Package kafkatest starts a real Kafka-protocol broker (franz-go's kfake) for tests, with
// Strike's topics created, so tests exercise the same client code as production.
package kafkatest

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/topics"
)

// Partitions is the partition count tests use: small, but more than one so ordering and
// co-partitioning are exercised.
const Partitions = 4

// Cluster is a running broker with Strike's topics.
type Cluster struct {
	*kfake.Cluster
	Brokers string
}

// New starts a broker for one test and stops it when the test ends.
func New(t testing.TB, opts ...kfake.Opt) *Cluster {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100 * time.Millisecond)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kafkatest: start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()[0]
	cl := Client(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := topics.Ensure(ctx, kadm.NewClient(cl), topics.Catalog(Partitions), -1); err != nil {
		t.Fatalf("kafkatest: %v", err)
	}
	return &Cluster{Cluster: c, Brokers: brokers}
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
