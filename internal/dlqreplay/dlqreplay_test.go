package dlqreplay_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/dlq"
	"github.com/osprey-strike/strike/internal/dlqreplay"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

// seed is one original record that a consumer gave up on.
type seed struct {
	consumer, reason, topic, key, value string
	headers                             []kgo.RecordHeader
}

var seeds = []seed{
	{"eco-processor", schemas.DLQSchemaViolation, topics.ECORequests, "osp-a", `{"n":0}`, hs("ce_id", "id-0", "ce_type", "req")},
	{"eco-processor", schemas.DLQKeyMismatch, topics.ECORequests, "osp-b", `{"n":1}`, hs("ce_id", "id-1")},
	{"sink", schemas.DLQSchemaViolation, topics.ECOEvents, "eco-1", `{"n":2}`, hs("ce_id", "id-2", "x", "y")},
	{"sink", schemas.DLQUnprocessable, topics.CalloutEvents, "eco-2", `{"n":3}`, hs("ce_id", "id-3")},
	{"dialer", schemas.DLQInvalidJSON, topics.ECOEvents, "eco-1", "not json \xff", hs("ce_id", "id-4")},
}

func hs(kv ...string) []kgo.RecordHeader {
	var out []kgo.RecordHeader
	for i := 0; i < len(kv); i += 2 {
		out = append(out, kgo.RecordHeader{Key: kv[i], Value: []byte(kv[i+1])})
	}
	return out
}

// produceDLQ writes one DLQ record per seed, in order, to partition 0 of the DLQ (so the DLQ
// offsets are the seed indexes), and returns the original records.
func produceDLQ(t *testing.T, brokers string, ss []seed) []*kgo.Record {
	t.Helper()
	cl := kafkatest.Client(t, brokers, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var origs []*kgo.Record
	for i, s := range ss {
		in := &kgo.Record{Topic: s.topic, Partition: int32(i % 3), Offset: int64(100 + i), Key: []byte(s.key), Value: []byte(s.value), Headers: s.headers}
		out := dlq.Record(s.consumer, in, s.reason, errors.New("refused"), time.Now())
		out.Partition = 0
		if err := cl.ProduceSync(context.Background(), out).FirstErr(); err != nil {
			t.Fatal(err)
		}
		origs = append(origs, in)
	}
	return origs
}

// got is a record as it arrived on a topic.
type got struct {
	topic, key, value string
	headers           string
}

func describe(r *kgo.Record) got {
	var h []string
	for _, x := range r.Headers {
		h = append(h, x.Key+"="+string(x.Value))
	}
	return got{r.Topic, string(r.Key), string(r.Value), strings.Join(h, ",")}
}

func want(topic string, s seed, dlqOffset int64) got {
	var h []string
	sorted := slices.Clone(s.headers)
	slices.SortFunc(sorted, func(a, b kgo.RecordHeader) int { return strings.Compare(a.Key, b.Key) })
	for _, x := range sorted {
		h = append(h, x.Key+"="+string(x.Value))
	}
	h = append(h, fmt.Sprintf("%s=strike.dlq.v1/0/%d", dlqreplay.HeaderReplayOf, dlqOffset))
	return got{topic, s.key, s.value, strings.Join(h, ",")}
}

// readTopics reads everything on the given topics (a short settle time: the replay has flushed).
func readTopics(t *testing.T, brokers string, ts ...string) []got {
	t.Helper()
	var out []got
	for _, topic := range ts {
		for _, r := range kafkatest.ReadAll(t, brokers, topic, 1<<30, 1500*time.Millisecond) {
			out = append(out, describe(r))
		}
	}
	slices.SortFunc(out, func(a, b got) int { return strings.Compare(a.value, b.value) })
	return out
}

func base(k *kafkatest.Cluster) []kgo.Opt { return append(k.Opts(), kgo.SeedBrokers(k.Brokers)) }

func TestReplayFiltersDryRunAndTarget(t *testing.T) {
	t.Parallel()
	k := kafkatest.NewSecured(t)
	produceDLQ(t, k.Brokers, seeds)
	ctx := context.Background()

	// A dry run selects by reason and origin topic, lists, and produces nothing.
	var listed []dlqreplay.Item
	c, err := dlqreplay.Run(ctx, base(k), dlqreplay.Options{
		Filter: dlqreplay.Filter{Reasons: []string{schemas.DLQSchemaViolation, schemas.DLQInvalidJSON}, OriginTopic: topics.ECOEvents},
		DryRun: true,
		OnItem: func(it dlqreplay.Item) { listed = append(listed, it) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if c != (dlqreplay.Counts{Read: 5, Selected: 2, Replayed: 2}) {
		t.Errorf("dry run counts %+v", c)
	}
	if len(listed) != 2 || listed[0].Offset != 2 || listed[1].Offset != 4 ||
		listed[0].Target != topics.ECOEvents || listed[1].Consumer != "dialer" || listed[0].OriginOffset != 102 ||
		listed[0].OriginPartition != 2 || string(listed[1].Key) != "eco-1" {
		t.Errorf("dry run listed %+v", listed)
	}
	if g := readTopics(t, k.Brokers, topics.ECORequests, topics.ECOEvents, topics.CalloutEvents); len(g) != 0 {
		t.Fatalf("a dry run produced %v", g)
	}

	// Filter by consumer: the eco-processor's two records go back to the requests topic.
	c, err = dlqreplay.Run(ctx, base(k), dlqreplay.Options{Filter: dlqreplay.Filter{Consumer: "eco-processor"}})
	if err != nil {
		t.Fatal(err)
	}
	if c != (dlqreplay.Counts{Read: 5, Selected: 2, Replayed: 2}) {
		t.Errorf("counts %+v", c)
	}
	// Filter by key (and reason): the non-UTF-8 value and the sink's record for eco-1, to another topic.
	key := "eco-1"
	var progress []dlqreplay.Counts
	c, err = dlqreplay.Run(ctx, base(k), dlqreplay.Options{
		Filter:   dlqreplay.Filter{Key: &key},
		ToTopic:  topics.CalloutState,
		Progress: func(c dlqreplay.Counts) { progress = append(progress, c) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if c != (dlqreplay.Counts{Read: 5, Selected: 2, Replayed: 2}) {
		t.Errorf("counts %+v", c)
	}
	if len(progress) == 0 || progress[len(progress)-1] != c {
		t.Errorf("progress %v, want it to end with %+v", progress, c)
	}
	g := readTopics(t, k.Brokers, topics.ECORequests, topics.ECOEvents, topics.CalloutEvents, topics.CalloutState)
	w := []got{
		want(topics.ECORequests, seeds[0], 0),
		want(topics.ECORequests, seeds[1], 1),
		want(topics.CalloutState, seeds[2], 2),
		want(topics.CalloutState, seeds[4], 4),
	}
	slices.SortFunc(w, func(a, b got) int { return strings.Compare(a.value, b.value) })
	if !slices.Equal(g, w) {
		t.Errorf("replayed\n%v\nwant\n%v", g, w)
	}

	// --since after everything selects nothing.
	c, err = dlqreplay.Run(ctx, base(k), dlqreplay.Options{Filter: dlqreplay.Filter{Since: time.Now().Add(time.Hour)}})
	if err != nil || c != (dlqreplay.Counts{}) {
		t.Errorf("since the future: %+v %v", c, err)
	}
}

func TestTruncatedRecordIsSkippedAndCounted(t *testing.T) {
	t.Parallel()
	k := kafkatest.NewSecured(t)
	big := seed{"sink", schemas.DLQSchemaViolation, topics.ECOEvents, "eco-9", `"` + strings.Repeat("x", 2*dlq.MaxValueBytes) + `"`, hs("ce_id", "id-9")}
	longKey := seeds[3]
	longKey.key = strings.Repeat("k", 2000)
	produceDLQ(t, k.Brokers, []seed{seeds[2], big, longKey})
	var items []dlqreplay.Item
	c, err := dlqreplay.Run(context.Background(), base(k), dlqreplay.Options{OnItem: func(it dlqreplay.Item) { items = append(items, it) }})
	if err != nil {
		t.Fatal(err)
	}
	if c != (dlqreplay.Counts{Read: 3, Selected: 3, Replayed: 1, Skipped: 2}) {
		t.Errorf("counts %+v", c)
	}
	if len(items) != 3 || items[0].Skip != "" || items[1].Skip != dlqreplay.SkipValueTruncated || items[2].Skip != dlqreplay.SkipKeyMaybeCut {
		t.Errorf("items %+v", items)
	}
	g := readTopics(t, k.Brokers, topics.ECOEvents, topics.CalloutEvents)
	if len(g) != 1 || g[0] != want(topics.ECOEvents, seeds[2], 0) {
		t.Errorf("replayed %v", g)
	}
}

// A DLQ that a transactional producer wrote ends in a commit marker; the run still ends.
func TestTransactionalDLQEnds(t *testing.T) {
	t.Parallel()
	k := kafkatest.NewSecured(t)
	cl := kafkatest.Client(t, k.Brokers, kgo.TransactionalID("dlq-test"))
	ctx := context.Background()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	in := &kgo.Record{Topic: topics.ECORequests, Key: []byte("osp-a"), Value: []byte(`{}`)}
	if err := cl.ProduceSync(ctx, dlq.Record("eco-processor", in, schemas.DLQInvalidJSON, errors.New("x"), time.Now())).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := dlqreplay.Run(ctx, base(k), dlqreplay.Options{DryRun: true})
	if err != nil || c != (dlqreplay.Counts{Read: 1, Selected: 1, Replayed: 1}) {
		t.Fatalf("%+v %v", c, err)
	}
}
