package main

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/topics"
)

// verifyTopics refuses to start a component on a cluster whose topics do not match the
// catalogue's partition counts, cleanup policies or co-partitioning.
func verifyTopics(ctx context.Context, brokers string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafkaclient.SplitBrokers(brokers)...))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	details, err := adm.ListTopics(ctx, topics.ECORequests)
	if err != nil {
		return err
	}
	// Verify against the partition count the cluster was created with.
	n := int32(len(details[topics.ECORequests].Partitions))
	if n == 0 {
		n = topics.DefaultPartitions
	}
	return topics.Verify(ctx, adm, topics.Catalog(n))
}
