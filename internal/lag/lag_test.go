package lag_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/lag"
	"github.com/osprey-strike/strike/internal/topics"
)

// produce writes n records to partition p of topic.
func produce(t *testing.T, cl *kgo.Client, topic string, p int32, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: p, Value: []byte("x")}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func lagOf(s lag.Snapshot, group, topic string, p int32) int64 {
	for _, x := range s.Partitions {
		if x.Group == group && x.Topic == topic && x.Partition == p {
			return x.Lag
		}
	}
	return -100
}

func TestLagAgainstCommittedAndStoredOffsets(t *testing.T) {
	c := kafkatest.NewSecured(t)
	prod := kafkatest.Client(t, c.Brokers, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	const topic = topics.ECORequests
	produce(t, prod, topic, 0, 10)
	produce(t, prod, topic, 1, 5)

	adm := kadm.NewClient(kafkatest.Client(t, c.Brokers))
	ctx := context.Background()
	// Group "committed" has read 4 records of partition 0 and all of partition 1.
	var os kadm.Offsets
	os.AddOffset(topic, 0, 4, -1)
	os.AddOffset(topic, 1, 5, -1)
	if err := adm.CommitAllOffsets(ctx, "committed", os); err != nil {
		t.Fatalf("commit: %v", err)
	}

	col := lag.New(adm, lag.Config{TTL: time.Hour},
		lag.Group{Name: "committed", Topics: []string{topic}},
		lag.Group{Name: "never-consumed", Topics: []string{topic}},
		lag.Group{Name: "stored", Topics: []string{topic}, Committed: func(context.Context) (map[string]map[int32]int64, error) {
			return map[string]map[int32]int64{topic: {0: 7}}, nil
		}},
	)
	s := col.Snapshot(ctx)
	for g, st := range s.Groups {
		if st.Err != nil {
			t.Fatalf("group %s: %v", g, st.Err)
		}
	}
	for _, c := range []struct {
		group string
		p     int32
		want  int64
	}{
		{"committed", 0, 6}, {"committed", 1, 0}, {"committed", 2, 0}, {"committed", 3, 0},
		{"never-consumed", 0, 10}, {"never-consumed", 1, 5}, {"never-consumed", 3, 0},
		{"stored", 0, 3}, {"stored", 1, 5},
	} {
		if got := lagOf(s, c.group, topic, c.p); got != c.want {
			t.Errorf("lag of %s on partition %d = %d, want %d", c.group, c.p, got, c.want)
		}
	}
	if got := s.Total("committed"); got != 6 {
		t.Errorf("total lag of committed = %d, want 6", got)
	}

	// Within the TTL a scrape is served from the cache; Refresh sees new records.
	produce(t, prod, topic, 1, 3)
	if got := lagOf(col.Snapshot(ctx), "committed", topic, 1); got != 0 {
		t.Errorf("cached lag = %d, want the cached 0", got)
	}
	if got := lagOf(col.Refresh(ctx), "committed", topic, 1); got != 3 {
		t.Errorf("refreshed lag = %d, want 3", got)
	}

	// The same figures through a registry, as Prometheus scrapes them.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(col)
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			got[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = m.GetGauge().GetValue()
		}
	}
	for k, v := range map[string]float64{
		lag.MetricLag + "{group=committed,partition=0,topic=" + topic + "}":      6,
		lag.MetricLag + "{group=committed,partition=1,topic=" + topic + "}":      3,
		lag.MetricLag + "{group=never-consumed,partition=1,topic=" + topic + "}": 8,
		lag.MetricLag + "{group=stored,partition=0,topic=" + topic + "}":         3,
		lag.MetricUp + "{group=stored}":                                          1,
		lag.MetricMembers + "{group=committed}":                                  0,
	} {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if n := len(got); n != 3*kafkatest.Partitions+2*3 {
		t.Errorf("%d series, want %d: %v", n, 3*kafkatest.Partitions+2*3, got)
	}
}

// A live member consuming and committing through a group: lag falls to zero and the member
// count shows it, read with only the lag exporter's ACLs.
func TestLagOfALiveGroupFallsToZero(t *testing.T) {
	c := kafkatest.NewSecured(t)
	prod := kafkatest.Client(t, c.Brokers, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	const topic = topics.ECORequests
	for p := range int32(kafkatest.Partitions) {
		produce(t, prod, topic, p, int(p)+1)
	}
	// As the lag exporter's own principal: describe-only on Strike's topics and groups.
	adm := kadm.NewClient(c.ClientAs(t, c.Principal(t, "lag-exporter")))
	col := lag.New(adm, lag.Config{TTL: time.Millisecond}, lag.Group{Name: "strike-live", Topics: []string{topic}})
	if got := col.Snapshot(context.Background()).Total("strike-live"); got != 1+2+3+4 {
		t.Fatalf("lag before consuming = %d, want 10", got)
	}

	cons := kafkatest.Client(t, c.Brokers, kgo.ConsumerGroup("strike-live"), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for n := 0; n < 10; {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of 10 records", n)
		}
		n += len(fs.Records())
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	time.Sleep(2 * time.Millisecond)
	s := col.Snapshot(ctx)
	if got := s.Total("strike-live"); got != 0 {
		t.Errorf("lag after consuming = %d, want 0: %+v", got, s.Partitions)
	}
	if got := s.Groups["strike-live"].Members; got != 1 {
		t.Errorf("members = %d, want 1", got)
	}
}
