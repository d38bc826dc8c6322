// Package egress copies each NOC's ECO and callout outcomes to that NOC's egress topic
// (strike.noc.<noc>.outcomes.v1, DESIGN §5), the only topic its tools may read: the internal
// event topics carry every NOC's ECOs. It reads strike.eco.events.v1 and strike.callout.events.v1
// read-committed and writes the copies in Kafka transactions with its offsets, so each outcome
// reaches its NOC exactly once, with its key, value and CloudEvents headers unchanged.
//
// A NOC without an egress topic (not provisioned with `strike kafka access --apply`) has no
// tool that could read one: its outcomes are skipped and counted, never retried forever.
package egress

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/logging"
	"github.com/osprey-strike/strike/internal/topics"
)

// Name is the component name in logs, metrics and client ids.
const Name = "egress"

// DefaultGroup is the consumer group.
const DefaultGroup = "strike-egress"

// topicsTTL is how long the list of existing egress topics is trusted; a NOC provisioned
// meanwhile gets its outcomes from then on.
const topicsTTL = 30 * time.Second

// Config configures the component.
type Config struct {
	// Brokers is a comma-separated seed list. Required.
	Brokers string
	// Security is how the clients authenticate and protect the wire; zero is plaintext.
	Security kafkaclient.Security
	// Group is the consumer group; default DefaultGroup.
	Group string
	// TransactionalID must be unique per live replica; default "strike-egress-<hostname>".
	TransactionalID string
	// KafkaOpts are appended to the client options (tests shorten timeouts).
	KafkaOpts []kgo.Opt
}

// Egress is the component. Run it once.
type Egress struct {
	cfg     Config
	log     zerolog.Logger
	reg     prometheus.Registerer
	copied  *prometheus.CounterVec
	skipped *prometheus.CounterVec

	mu       sync.Mutex
	existing map[string]bool // egress topics known to exist
	listedAt time.Time
	warned   map[string]bool
}

// New validates cfg and builds the component; reg may be nil.
func New(log zerolog.Logger, reg prometheus.Registerer, cfg Config) (*Egress, error) {
	if cfg.Brokers == "" {
		return nil, errors.New("egress: no Kafka brokers configured")
	}
	host, _ := os.Hostname()
	cfg.Group = cmp.Or(cfg.Group, DefaultGroup)
	cfg.TransactionalID = cmp.Or(cfg.TransactionalID, "strike-egress-"+host)
	e := &Egress{cfg: cfg, log: log.With().Str(logging.FieldComponent, Name).Logger(), reg: reg, warned: map[string]bool{},
		copied: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strike_egress_records_total",
			Help: "Outcomes copied to a NOC's egress topic, by source topic."}, []string{"topic"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strike_egress_skipped_total",
			Help: "Outcomes not copied, by reason (no_topic: the NOC has no egress topic; no_noc: the event names no NOC)."}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(e.copied, e.skipped)
	}
	return e, nil
}

// Run consumes until ctx ends; nil on a clean shutdown.
func (e *Egress) Run(ctx context.Context) error {
	opts := append(kafkaclient.Options(e.cfg.Brokers, e.cfg.Security, Name, e.log, e.reg),
		kgo.ConsumerGroup(e.cfg.Group),
		kgo.ConsumeTopics(topics.ECOEvents, topics.CalloutEvents),
		kgo.TransactionalID(e.cfg.TransactionalID),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.ProducerLinger(0),
	)
	sess, err := kgo.NewGroupTransactSession(append(opts, e.cfg.KafkaOpts...)...)
	if err != nil {
		return fmt.Errorf("egress: kafka client: %w", err)
	}
	defer sess.Close()
	adm := kadm.NewClient(sess.Client())
	e.log.Info().Str("group", e.cfg.Group).Msg("egress started")
	// The shared consumer loop: a failed batch is aborted (its offsets rewind) and retried
	// after a backoff; an authentication or authorization failure stops the component.
	err = kafkaclient.Loop{
		Name: Name, Log: e.log,
		Poll: func(ctx context.Context) kgo.Fetches { return sess.PollFetches(ctx) },
		Handle: func(ctx context.Context, recs []*kgo.Record) error {
			return kafkaclient.Transient(e.transact(ctx, sess, adm, recs))
		},
	}.Run(ctx)
	e.log.Info().Msg("egress stopping")
	return err
}

// transact copies one batch in one transaction with its offsets. A transaction a rebalance
// aborted is no error: the batch's new owner copies it.
func (e *Egress) transact(ctx context.Context, sess *kgo.GroupTransactSession, adm *kadm.Client, recs []*kgo.Record) error {
	if err := e.refresh(ctx, adm); err != nil {
		return err
	}
	if err := sess.Begin(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	var out []*kgo.Record
	counts := map[string]int{}
	for _, r := range recs {
		if c := e.copyOf(r); c != nil {
			out = append(out, c)
			counts[r.Topic]++
		}
	}
	if len(out) > 0 {
		if err := sess.ProduceSync(ctx, out...).FirstErr(); err != nil {
			_, _ = sess.End(context.WithoutCancel(ctx), kgo.TryAbort)
			return fmt.Errorf("produce: %w", err)
		}
	}
	committed, err := sess.End(context.WithoutCancel(ctx), kgo.TryCommit)
	if err != nil {
		return fmt.Errorf("end transaction: %w", err)
	}
	if committed {
		for t, n := range counts {
			e.copied.WithLabelValues(t).Add(float64(n))
		}
	}
	return nil
}

// copyOf is r addressed to its NOC's egress topic, or nil when it has none.
func (e *Egress) copyOf(r *kgo.Record) *kgo.Record {
	var v struct {
		NOC string `json:"noc_tenant_id"`
	}
	if json.Unmarshal(r.Value, &v) != nil || v.NOC == "" {
		e.skipped.WithLabelValues("no_noc").Inc()
		return nil
	}
	t := topics.NOCEgress(v.NOC)
	e.mu.Lock()
	ok := e.existing[t]
	if !ok && !e.warned[v.NOC] {
		e.warned[v.NOC] = true
		e.log.Warn().Str(logging.FieldNOC, v.NOC).Str("topic", t).Msg("NOC has no egress topic; its outcomes are not copied (provision it with strike kafka access --apply)")
	}
	e.mu.Unlock()
	if !ok {
		e.skipped.WithLabelValues("no_topic").Inc()
		return nil
	}
	return &kgo.Record{Topic: t, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp}
}

// refresh reads which egress topics exist, at most every topicsTTL.
func (e *Egress) refresh(ctx context.Context, adm *kadm.Client) error {
	e.mu.Lock()
	fresh := time.Since(e.listedAt) < topicsTTL
	e.mu.Unlock()
	if fresh {
		return nil
	}
	all, err := adm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	existing := map[string]bool{}
	for name := range all {
		existing[name] = true
	}
	e.mu.Lock()
	e.existing, e.listedAt = existing, time.Now()
	e.mu.Unlock()
	return nil
}
