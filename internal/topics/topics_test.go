package topics_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/topics"
)

func admin(t *testing.T) *kadm.Client {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestEnsureCreatesThenVerifies(t *testing.T) {
	t.Parallel()
	adm := admin(t)
	res, err := topics.Ensure(ctx(t), adm, topics.Catalog(3), -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != len(topics.Catalog(3)) {
		t.Errorf("created %v, want all %d topics", res.Created, len(topics.Catalog(3)))
	}
	res, err = topics.Ensure(ctx(t), adm, topics.Catalog(3), -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != 0 || len(res.Verified) != len(topics.Catalog(3)) {
		t.Errorf("second run created %v verified %v, want nothing created and all verified", res.Created, res.Verified)
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx(t), topics.CalloutState)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := cfgs.On(topics.CalloutState, nil); err != nil || !hasConfig(v, "cleanup.policy", "compact") {
		t.Errorf("callout state topic is not compacted: %+v %v", v, err)
	}
}

func hasConfig(rc kadm.ResourceConfig, key, want string) bool {
	for _, c := range rc.Configs {
		if c.Key == key && c.Value != nil && *c.Value == want {
			return true
		}
	}
	return false
}

func TestVerifyReportsMismatchesClearly(t *testing.T) {
	t.Parallel()
	adm := admin(t)
	// Someone created the callbacks topic by hand with the wrong partition count and the state
	// topic without compaction.
	if _, err := adm.CreateTopic(ctx(t), 5, -1, nil, topics.TelephonyCallbacks); err != nil {
		t.Fatal(err)
	}
	del := "delete"
	if _, err := adm.CreateTopic(ctx(t), 3, -1, map[string]*string{"cleanup.policy": &del}, topics.CalloutState); err != nil {
		t.Fatal(err)
	}
	_, err := topics.Ensure(ctx(t), adm, topics.Catalog(3), -1)
	if err == nil {
		t.Fatal("Ensure accepted mismatched topics")
	}
	for _, want := range []string{
		"topic strike.telephony.callbacks.v1 has 5 partitions, want 3",
		"topic strike.callout.state.v1 has cleanup.policy=delete, want compact",
		"co-partitioned topics differ in partition count",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
