// Package lag exports Kafka consumer lag as Prometheus metrics: for each consumer group, topic
// and partition, how many records lie between the group's committed position and the log end.
// kadm does the work (describe the groups, fetch their commits, list start and end offsets,
// CalculateGroupLagWithStartOffsets); the result is cached for a few seconds, so frequent or
// concurrent scrapes cost one round of admin requests.
//
// A group that stores its positions outside Kafka (the sink keeps them in PostgreSQL, in the
// transaction with its rows) passes a Committed function; its lag is measured against those.
package lag

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Metric names, exported so tests and dashboards can name them.
const (
	MetricLag     = "strike_kafka_consumer_group_lag_records"
	MetricMembers = "strike_kafka_consumer_group_members"
	MetricUp      = "strike_kafka_consumer_group_lag_up"
)

// DefaultTTL is how long a computed lag is served before the next scrape recomputes it.
const DefaultTTL = 5 * time.Second

// Group is one consumer group to measure.
type Group struct {
	// Name is the consumer group id.
	Name string
	// Topics the group consumes. Partitions of these topics that the group has neither
	// committed nor been assigned still count: their lag is every retained record. Optional:
	// topics the group has committed to or is assigned are always measured.
	Topics []string
	// Committed, when set, returns the group's next offsets by topic and partition from where
	// the group keeps them (instead of Kafka's committed offsets).
	Committed func(ctx context.Context) (map[string]map[int32]int64, error)
}

// Config tunes a Collector.
type Config struct {
	// TTL is how long a result is cached; default DefaultTTL.
	TTL time.Duration
	// Timeout bounds one computation; default 10 s.
	Timeout time.Duration
}

// Collector is a prometheus.Collector of consumer lag for a fixed set of groups.
type Collector struct {
	adm    *kadm.Client
	groups []Group
	cfg    Config

	lagDesc, membersDesc, upDesc *prometheus.Desc

	mu       sync.Mutex
	computed time.Time
	last     Snapshot
}

// New returns a collector measuring groups through adm. adm's client is not closed by the
// collector.
func New(adm *kadm.Client, cfg Config, groups ...Group) *Collector {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	return &Collector{
		adm: adm, groups: groups, cfg: cfg,
		lagDesc: prometheus.NewDesc(MetricLag,
			"Records between the consumer group's committed position and the partition's log end (high watermark).",
			[]string{"group", "topic", "partition"}, nil),
		membersDesc: prometheus.NewDesc(MetricMembers,
			"Members of the consumer group, as the group coordinator describes it.",
			[]string{"group"}, nil),
		upDesc: prometheus.NewDesc(MetricUp,
			"1 if the group's lag was computed at the last attempt, 0 if the brokers or the offset store failed.",
			[]string{"group"}, nil),
	}
}

// Add measures more groups from the next computation on; a group already measured is replaced.
func (c *Collector) Add(groups ...Group) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range groups {
		c.groups = slices.DeleteFunc(c.groups, func(x Group) bool { return x.Name == g.Name })
		c.groups = append(c.groups, g)
	}
	c.computed = time.Time{}
}

// Partition is the lag of one group on one partition.
type Partition struct {
	Group     string
	Topic     string
	Partition int32
	Committed int64 // next offset to consume; -1 if nothing is committed
	End       int64
	Lag       int64
}

// GroupState is what was learned about one group.
type GroupState struct {
	Members int
	State   string
	Err     error // non-nil: the group's lag could not be computed
}

// Snapshot is one computation's result.
type Snapshot struct {
	At         time.Time
	Partitions []Partition // sorted by group, topic, partition
	Groups     map[string]GroupState
}

// Total returns the summed lag of group.
func (s Snapshot) Total(group string) int64 {
	var n int64
	for _, p := range s.Partitions {
		if p.Group == group {
			n += p.Lag
		}
	}
	return n
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lagDesc
	ch <- c.membersDesc
	ch <- c.upDesc
}

// Collect implements prometheus.Collector; it serves the cached snapshot while it is fresh.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.Snapshot(context.Background())
	c.mu.Lock()
	groups := slices.Clone(c.groups)
	c.mu.Unlock()
	for _, p := range s.Partitions {
		ch <- prometheus.MustNewConstMetric(c.lagDesc, prometheus.GaugeValue, float64(p.Lag),
			p.Group, p.Topic, strconv.Itoa(int(p.Partition)))
	}
	for _, g := range groups {
		st, ok := s.Groups[g.Name]
		if !ok {
			continue
		}
		up := 1.0
		if st.Err != nil {
			up = 0
		} else {
			ch <- prometheus.MustNewConstMetric(c.membersDesc, prometheus.GaugeValue, float64(st.Members), g.Name)
		}
		ch <- prometheus.MustNewConstMetric(c.upDesc, prometheus.GaugeValue, up, g.Name)
	}
}

// Snapshot returns the cached lag, computing it first when it is older than the TTL. Callers
// (scrapes) arriving while it is computed wait for that one computation.
func (c *Collector) Snapshot(ctx context.Context) Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.computed.IsZero() && time.Since(c.computed) < c.cfg.TTL {
		return c.last
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	c.last = c.compute(ctx)
	c.computed = time.Now()
	return c.last
}

// Refresh computes the lag now, ignoring the cache, and caches the result.
func (c *Collector) Refresh(ctx context.Context) Snapshot {
	c.mu.Lock()
	c.computed = time.Time{}
	c.mu.Unlock()
	return c.Snapshot(ctx)
}

func (c *Collector) compute(ctx context.Context) Snapshot {
	snap := Snapshot{At: time.Now(), Groups: make(map[string]GroupState, len(c.groups))}
	names := make([]string, 0, len(c.groups))
	var kafkaCommitted []string
	for _, g := range c.groups {
		names = append(names, g.Name)
		if g.Committed == nil {
			kafkaCommitted = append(kafkaCommitted, g.Name)
		}
	}
	fail := func(err error) Snapshot {
		for _, n := range names {
			snap.Groups[n] = GroupState{Err: err}
		}
		return snap
	}
	if len(names) == 0 {
		return snap
	}

	described, err := c.adm.DescribeGroups(ctx, names...)
	if err != nil {
		var se *kadm.ShardErrors
		if !errors.As(err, &se) || se.AllFailed {
			return fail(fmt.Errorf("describe groups: %w", err))
		}
	}
	fetched := kadm.FetchOffsetsResponses{}
	if len(kafkaCommitted) > 0 {
		fetched = c.adm.FetchManyOffsets(ctx, kafkaCommitted...)
	}
	commits := make(map[string]kadm.OffsetResponses, len(c.groups))
	groupErr := map[string]error{}
	for _, g := range c.groups {
		if d, ok := described[g.Name]; !ok {
			groupErr[g.Name] = errors.New("group not described")
		} else if errors.Is(d.Err, kerr.GroupIDNotFound) {
			// A group that never joined (some brokers say "Dead" instead): no members and no
			// commits, so every retained record of its topics is lag.
			described[g.Name] = kadm.DescribedGroup{Group: g.Name, State: "Dead"}
		} else if d.Err != nil {
			groupErr[g.Name] = fmt.Errorf("describe group: %w", d.Err)
		}
		if groupErr[g.Name] != nil {
			continue
		}
		if g.Committed == nil {
			r, ok := fetched[g.Name]
			switch {
			case !ok:
				groupErr[g.Name] = errors.New("offsets not fetched")
			case errors.Is(r.Err, kerr.GroupIDNotFound):
				// Nothing committed yet.
			case r.Err != nil:
				groupErr[g.Name] = fmt.Errorf("fetch offsets: %w", r.Err)
			default:
				commits[g.Name] = r.Fetched
			}
			continue
		}
		stored, err := g.Committed(ctx)
		if err != nil {
			groupErr[g.Name] = fmt.Errorf("stored offsets: %w", err)
			continue
		}
		or := kadm.OffsetResponses{}
		for t, ps := range stored {
			or[t] = map[int32]kadm.OffsetResponse{}
			for p, at := range ps {
				or[t][p] = kadm.OffsetResponse{Offset: kadm.Offset{Topic: t, Partition: p, At: at}}
			}
		}
		commits[g.Name] = or
	}

	// One listing of start and end offsets for every topic any group touches.
	var topicSet []string
	addTopic := func(t string) {
		if !slices.Contains(topicSet, t) {
			topicSet = append(topicSet, t)
		}
	}
	for _, g := range c.groups {
		for _, t := range g.Topics {
			addTopic(t)
		}
		if d, ok := described[g.Name]; ok {
			for _, t := range d.AssignedPartitions().Topics() {
				addTopic(t)
			}
		}
		for t := range commits[g.Name] {
			addTopic(t)
		}
	}
	var start, end kadm.ListedOffsets
	if len(topicSet) > 0 {
		if start, err = c.adm.ListStartOffsets(ctx, topicSet...); err != nil && !isShardErr(err) {
			return fail(fmt.Errorf("list start offsets: %w", err))
		}
		if end, err = c.adm.ListEndOffsets(ctx, topicSet...); err != nil && !isShardErr(err) {
			return fail(fmt.Errorf("list end offsets: %w", err))
		}
	}

	for _, g := range c.groups {
		if err := groupErr[g.Name]; err != nil {
			snap.Groups[g.Name] = GroupState{Err: err}
			continue
		}
		d := described[g.Name]
		snap.Groups[g.Name] = GroupState{Members: len(d.Members), State: d.State}
		gl := kadm.CalculateGroupLagWithStartOffsets(d, commits[g.Name], start, end)
		for _, ml := range gl.Sorted() {
			if ml.Err != nil || ml.Lag < 0 {
				continue
			}
			snap.Partitions = append(snap.Partitions, Partition{Group: g.Name, Topic: ml.Topic, Partition: ml.Partition,
				Committed: ml.Commit.At, End: ml.End.Offset, Lag: ml.Lag})
		}
		// Declared topics' partitions the group has neither committed nor been assigned: all
		// their retained records are still to be consumed.
		for _, t := range g.Topics {
			for p, e := range end[t] {
				if _, ok := gl.Lookup(t, p); ok || e.Err != nil || p < 0 {
					continue
				}
				n := e.Offset
				if s, ok := start[t][p]; ok && s.Err == nil {
					n -= s.Offset
				}
				snap.Partitions = append(snap.Partitions, Partition{Group: g.Name, Topic: t, Partition: p,
					Committed: -1, End: e.Offset, Lag: max(n, 0)})
			}
		}
	}
	slices.SortFunc(snap.Partitions, func(a, b Partition) int {
		if a.Group != b.Group {
			return cmp.Compare(a.Group, b.Group)
		}
		if a.Topic != b.Topic {
			return cmp.Compare(a.Topic, b.Topic)
		}
		return cmp.Compare(a.Partition, b.Partition)
	})
	return snap
}

func isShardErr(err error) bool {
	var se *kadm.ShardErrors
	return errors.As(err, &se) && !se.AllFailed
}
