package kafkaacl_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/kafkaacl"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/kafkatest"
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
// ingress and reads its own egress; it cannot write B's ingress, read B's egress, or write or
// read any internal topic, and it is told so (authorization errors, not silence).
func TestEachNOCWritesAndReadsOnlyItsOwnTopics(t *testing.T) {
	t.Parallel()
	k := kafkatest.NewSecured(t)
	adm := kadm.NewClient(kafkatest.Client(t, k.Brokers))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var names []string
	for _, noc := range []string{"noc-a", "noc-b"} {
		names = append(names, topics.NOCIngress(noc), topics.NOCEgress(noc))
	}
	if _, err := adm.CreateTopics(ctx, 2, -1, nil, names...); err != nil {
		t.Fatal(err)
	}
	for _, noc := range []string{"noc-a", "noc-b"} {
		k.NOC(t, noc) // the user, with kafkaacl.ForNOC's grants
		// Again: applying is idempotent.
		if err := kafkaacl.Apply(ctx, adm, kafkaacl.ForNOC(noc, "User:"+noc)); err != nil {
			t.Fatal(err)
		}
	}
	// NOC A's tool, as its own principal.
	asA := func(opts ...kgo.Opt) *kgo.Client {
		return client(t, k.Brokers, "noc-a", kafkatest.Password("noc-a"), opts...)
	}
	a := asA()
	if err := produce(t, a, topics.NOCIngress("noc-a")); err != nil {
		t.Errorf("NOC A writing its own ingress: %v", err)
	}
	forbidden := []string{topics.NOCIngress("noc-b"), topics.NOCEgress("noc-a"), topics.NOCEgress("noc-b")}
	for _, s := range topics.Catalog(kafkatest.Partitions) {
		forbidden = append(forbidden, s.Name)
	}
	for _, topic := range forbidden {
		if err := produce(t, a, topic); !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Errorf("NOC A writing %s: %v, want TOPIC_AUTHORIZATION_FAILED", topic, err)
		}
	}

	read := func(topic, group string) error {
		cl := asA(kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group))
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
	if err := read(topics.NOCEgress("noc-a"), kafkaacl.NOCGroupPrefix("noc-a")+"board"); err != nil {
		t.Errorf("NOC A reading its own egress: %v", err)
	}
	for _, topic := range []string{topics.NOCEgress("noc-b"), topics.ECOEvents, topics.CalloutEvents, topics.DLQ} {
		if err := read(topic, kafkaacl.NOCGroupPrefix("noc-a")+"board"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Errorf("NOC A reading %s: %v, want TOPIC_AUTHORIZATION_FAILED", topic, err)
		}
	}
	if err := read(topics.NOCEgress("noc-a"), "another-group"); !errors.Is(err, kerr.GroupAuthorizationFailed) {
		t.Errorf("NOC A reading in a group outside its prefix: %v, want GROUP_AUTHORIZATION_FAILED", err)
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
