package kafkaacl_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/kafkaacl"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/topics"
)

const mech = kafkaclient.MechScram512

func client(t *testing.T, brokers, user, pass string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	sec, err := kafkaclient.Settings{Mechanism: mech, Username: user, Password: pass}.Load()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(kafkaclient.Options(brokers, sec, user, zerolog.Nop(), nil),
		append(opts, kgo.RequestRetries(1), kgo.RetryTimeout(3*time.Second))...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func produce(t *testing.T, cl *kgo.Client, topic string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("osp-acme"), Value: []byte(`{}`)}).FirstErr()
}

// On a broker with SASL and ACLs on, with only the grants kafkaacl gives: NOC A writes its own
// ingress and reads its own egress; it cannot write B's ingress, read B's egress, or write any
// internal topic, and it is told so (authorization errors, not silence).
func TestEachNOCWritesAndReadsOnlyItsOwnTopics(t *testing.T) {
	t.Parallel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser(mech, "strike-admin", "admin-pass"),
		kfake.User(mech, "noc-a", "a-pass"), kfake.User(mech, "noc-b", "b-pass"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := strings.Join(c.ListenAddrs(), ",")
	adm := kadm.NewClient(client(t, brokers, "strike-admin", "admin-pass"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	names := []string{topics.ECORequests, topics.ECOEvents, topics.TelephonyCallbacks, topics.DLQ}
	for _, noc := range []string{"a", "b"} {
		names = append(names, topics.NOCIngress(noc), topics.NOCEgress(noc))
	}
	if _, err := adm.CreateTopics(ctx, 2, -1, nil, names...); err != nil {
		t.Fatal(err)
	}
	for _, noc := range []string{"a", "b"} {
		// Twice: applying is idempotent.
		for range 2 {
			if err := kafkaacl.Apply(ctx, adm, kafkaacl.ForNOC(noc, "User:noc-"+noc)); err != nil {
				t.Fatal(err)
			}
		}
	}

	a := client(t, brokers, "noc-a", "a-pass")
	if err := produce(t, a, topics.NOCIngress("a")); err != nil {
		t.Errorf("NOC A writing its own ingress: %v", err)
	}
	for _, forbidden := range []string{topics.NOCIngress("b"), topics.ECORequests, topics.ECOEvents, topics.TelephonyCallbacks, topics.DLQ} {
		if err := produce(t, a, forbidden); !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Errorf("NOC A writing %s: %v, want TOPIC_AUTHORIZATION_FAILED", forbidden, err)
		}
	}

	read := func(topic, group string) error {
		cl := client(t, brokers, "noc-a", "a-pass", kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group))
		pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		cl.PollFetches(pctx).EachError(func(_ string, _ int32, e error) {
			if !errors.Is(e, context.DeadlineExceeded) {
				err = e
			}
		})
		return err
	}
	if err := read(topics.NOCEgress("a"), kafkaacl.NOCGroupPrefix("a")+"board"); err != nil {
		t.Errorf("NOC A reading its own egress: %v", err)
	}
	if err := read(topics.NOCEgress("b"), kafkaacl.NOCGroupPrefix("a")+"board"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("NOC A reading B's egress: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
}

func TestEveryComponentHasGrants(t *testing.T) {
	t.Parallel()
	for _, c := range kafkaacl.Components {
		gs, err := kafkaacl.ForComponent(c, "User:strike-"+c)
		if err != nil || len(gs) == 0 {
			t.Errorf("%s: %d grants, %v", c, len(gs), err)
		}
	}
	if _, err := kafkaacl.ForComponent("nope", "User:x"); err == nil {
		t.Error("an unknown component got grants")
	}
}
