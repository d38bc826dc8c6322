// Package sink projects Strike's event streams into the PostgreSQL tables the tenant-scoped API
// reads: the ECO board, the ECO timeline and call attempts (field status from Render is part of
// the board), every row tagged with both noc_tenant_id and osp_tenant_id.
//
// Exactly-once effect: the consumed offsets live in PostgreSQL (sink_offsets) and are written in
// the same transaction as the rows; on assignment the consumer seeks to them, and every batch is
// fenced by them, so a replayed batch changes nothing. Rows are merged, never overwritten blindly
// (see internal/projection, which owns the tables' SQL), so duplicate and out-of-order events
// converge. A batch is written in a fixed number of round trips whatever its size.
//
// Failure handling: an event type the sink does not know is skipped and counted
// (strike_sink_events_skipped_total{type,reason}); `strike sink rebuild` picks it up once the
// sink knows it. An event naming other tenants than the ECO's row is ignored (it changes none
// of that ECO's rows), counted with reason tenant_mismatch and logged. Undecodable input goes
// to the DLQ and the batch goes on. A failing database makes the batch retry with backoff;
// nothing is ever skipped for it.
package sink

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/dlq"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/logging"
	"github.com/osprey-strike/strike/internal/projection"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

// Name is the component name in logs, metrics, ce_source and DLQ records.
const Name = "sink"

// Topics are the topics the sink projects.
var Topics = []string{topics.ECOEvents, topics.CalloutEvents, topics.RenderChanges}

// DefaultGroup is the consumer group, and the key of the stored offsets.
const DefaultGroup = "strike-sink"

// Config configures a Sink. Zero values take the documented defaults.
type Config struct {
	// Brokers is a comma-separated seed list. Required.
	Brokers string
	// Security is how the clients authenticate and protect the wire (kafkaclient.Settings.Load);
	// the zero value is plaintext.
	Security kafkaclient.Security
	// Group is the consumer group and the key of the offsets in sink_offsets; default
	// DefaultGroup.
	Group string
	// MaxPollRecords bounds a batch; default 2000.
	MaxPollRecords int
	// RetryMax bounds the wait between retries of a batch while PostgreSQL fails; default 10s.
	RetryMax time.Duration
	// IdleCheck is how often an idle sink compares its position with the stored offsets, so a
	// rebuild swapped in while no new events arrive is noticed; default 5s.
	IdleCheck time.Duration
	// Now is the clock for DLQ records; default time.Now.
	Now func() time.Time
	// KafkaOpts are appended to the client options (tests shorten timeouts with them).
	KafkaOpts []kgo.Opt
}

// Deps are the Sink's collaborators.
type Deps struct {
	Pool      *pgxpool.Pool
	Validator *schemas.Validator
	Log       zerolog.Logger
	Registry  prometheus.Registerer // may be nil
}

// Sink is the projection writer.
type Sink struct {
	cfg     Config
	deps    Deps
	log     zerolog.Logger
	metrics *metrics
	dec     decoder
	w       *writer

	mu       sync.Mutex
	expected map[TP]int64 // where each owned partition stands, per the stored offsets

	// beforeCommit is a test hook run before each batch is written; nil in production.
	beforeCommit func(n int)
}

// New validates cfg and builds a Sink; Run starts it.
func New(deps Deps, cfg Config) (*Sink, error) {
	if cfg.Brokers == "" {
		return nil, errors.New("sink: no Kafka brokers configured")
	}
	if deps.Pool == nil || deps.Validator == nil {
		return nil, errors.New("sink: Pool and Validator are required")
	}
	cfg.Group = cmp.Or(cfg.Group, DefaultGroup)
	cfg.MaxPollRecords = cmp.Or(cfg.MaxPollRecords, 2000)
	cfg.RetryMax = cmp.Or(cfg.RetryMax, 10*time.Second)
	cfg.IdleCheck = cmp.Or(cfg.IdleCheck, 5*time.Second)
	if cfg.MaxPollRecords < 0 || cfg.RetryMax < 0 || cfg.IdleCheck < 0 {
		return nil, errors.New("sink: MaxPollRecords, RetryMax and IdleCheck must be positive")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sink{
		cfg:      cfg,
		deps:     deps,
		log:      deps.Log.With().Str(logging.FieldComponent, Name).Logger(),
		metrics:  newMetrics(deps.Registry),
		dec:      decoder{v: deps.Validator, now: cfg.Now},
		w:        &writer{pool: deps.Pool, group: cfg.Group},
		expected: map[TP]int64{},
	}, nil
}

// Run consumes until ctx ends, then leaves the group. It returns nil on a clean shutdown.
func (s *Sink) Run(ctx context.Context) error {
	opts := append(kafkaclient.Options(s.cfg.Brokers, s.cfg.Security, Name, s.log, s.deps.Registry),
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeTopics(Topics...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Offsets live in PostgreSQL, never in Kafka.
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Transaction markers come through so the stored offset is the true position.
		kgo.KeepControlRecords(),
		// Processing and rebalances do not overlap, so a seek (SetOffsets) after a rewind is
		// only ever issued for a partition this replica owns.
		kgo.BlockRebalanceOnPoll(),
		kgo.AdjustFetchOffsetsFn(s.adjustOffsets),
		kgo.OnPartitionsRevoked(s.forget),
		kgo.OnPartitionsLost(s.forget),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
	)
	opts = append(opts, s.cfg.KafkaOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("sink: kafka client: %w", err)
	}
	defer cl.Close()
	s.log.Info().Str("group", s.cfg.Group).Strs("topics", Topics).Msg("sink started")
	for {
		pollCtx, cancel := context.WithTimeout(ctx, s.cfg.IdleCheck)
		fetches := cl.PollRecords(pollCtx, s.cfg.MaxPollRecords)
		cancel()
		if fetches.IsClientClosed() || ctx.Err() != nil {
			cl.AllowRebalance()
			s.log.Info().Msg("sink stopping")
			return nil
		}
		if err := kafkaclient.FetchError(fetches, s.log); err != nil {
			cl.AllowRebalance()
			return fmt.Errorf("sink: %w", err)
		}
		recs := fetches.Records()
		if len(recs) == 0 {
			if err := s.checkStored(ctx, cl); err != nil {
				s.log.Warn().Err(err).Msg("comparing the position with the stored offsets failed; will retry")
			}
		}
		if len(recs) > 0 {
			if err := s.handle(ctx, cl, recs); err != nil {
				cl.AllowRebalance()
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("sink: %w", err)
			}
		}
		cl.AllowRebalance()
	}
}

// adjustOffsets starts each newly assigned partition at its offset stored in PostgreSQL.
func (s *Sink) adjustOffsets(ctx context.Context, assigned map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	op := func() (map[TP]int64, error) { return projection.ReadOffsets(ctx, s.deps.Pool, s.cfg.Group, false) }
	stored, err := backoff.Retry(ctx, op, backoff.WithBackOff(s.newBackoff()), backoff.WithMaxElapsedTime(time.Minute))
	if err != nil {
		return nil, fmt.Errorf("read stored offsets: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for topic, parts := range assigned {
		for p := range parts {
			tp := TP{Topic: topic, Partition: p}
			if off, ok := stored[tp]; ok {
				parts[p] = kgo.NewOffset().At(off).WithEpoch(-1)
				s.expected[tp] = off
			} else {
				delete(s.expected, tp)
			}
		}
	}
	s.log.Info().Int("stored_positions", len(stored)).Msg("partitions assigned; seeking to the offsets stored in PostgreSQL")
	return assigned, nil
}

// checkStored seeks back any owned partition whose stored offset is behind this replica's
// position: a rebuild swapped in its tables while nothing new arrived to trip the batch fence.
func (s *Sink) checkStored(ctx context.Context, cl *kgo.Client) error {
	stored, err := projection.ReadOffsets(ctx, s.deps.Pool, s.cfg.Group, false)
	if err != nil {
		return err
	}
	s.mu.Lock()
	behind := map[TP]int64{}
	for tp, exp := range s.expected {
		if st := stored[tp]; st < exp { // a missing row reads as 0
			behind[tp] = st
		}
	}
	seek := s.seekBackLocked(behind)
	s.mu.Unlock()
	if len(seek) > 0 {
		cl.SetOffsets(seek)
	}
	return nil
}

// seekBackLocked sets each partition of to back to its stored offset (a rebuild was swapped
// in), logs and counts it, and returns the seeks for cl.SetOffsets, to issue once s.mu (held
// by the caller) is released.
func (s *Sink) seekBackLocked(to map[TP]int64) map[string]map[int32]kgo.EpochOffset {
	seek := map[string]map[int32]kgo.EpochOffset{}
	for tp, off := range to {
		s.expected[tp] = off
		if seek[tp.Topic] == nil {
			seek[tp.Topic] = map[int32]kgo.EpochOffset{}
		}
		seek[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
		s.log.Warn().Str("topic", tp.Topic).Int32("partition", tp.Partition).Int64("offset", off).
			Msg("stored offset is behind this replica (projections were rebuilt); seeking back")
	}
	s.metrics.rewinds.Add(float64(len(to)))
	return seek
}

func (s *Sink) forget(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for topic, parts := range revoked {
		for _, p := range parts {
			delete(s.expected, TP{Topic: topic, Partition: p})
		}
	}
}

func (s *Sink) newBackoff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = s.cfg.RetryMax
	return b
}

// handle decodes, dead-letters and writes one polled batch, retrying the write with backoff
// until it commits or ctx ends.
func (s *Sink) handle(ctx context.Context, cl *kgo.Client, recs []*kgo.Record) error {
	start := time.Now()
	items := make([]item, len(recs))
	for i, r := range recs {
		items[i] = s.dec.decode(r)
	}
	if err := s.deadLetter(ctx, cl, items); err != nil {
		return err
	}
	s.mu.Lock()
	expected := make(map[TP]int64, len(s.expected))
	for tp, off := range s.expected {
		expected[tp] = off
	}
	s.mu.Unlock()

	retry := s.newBackoff()
	var res applyResult
	for {
		if s.beforeCommit != nil {
			s.beforeCommit(len(items))
		}
		var err error
		res, err = s.w.apply(ctx, items, expected)
		if err == nil {
			break
		}
		var poison *poisonError
		if errors.As(err, &poison) {
			it := &items[poison.item]
			s.log.Error().Err(poison.err).Str(logging.FieldECO, it.ecoID).Str("type", it.typ).
				Str("topic", it.rec.Topic).Int32("partition", it.rec.Partition).Int64("offset", it.rec.Offset).
				Msg("PostgreSQL refused an event's data; sending it to the DLQ")
			it.kind, it.dlqReason = itemDLQ, schemas.DLQUnprocessable
			it.dlq = dlq.Record(Name, it.rec, it.dlqReason, poison.err, s.cfg.Now())
			if err := s.deadLetter(ctx, cl, []item{*it}); err != nil {
				return err
			}
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.metrics.dbErrors.Inc()
		wait := retry.NextBackOff()
		s.log.Warn().Err(err).Dur("retry_in", wait).Int("records", len(items)).Msg("writing the batch failed; retrying it")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}

	s.mu.Lock()
	for tp, next := range res.next {
		s.expected[tp] = next
	}
	seek := s.seekBackLocked(res.rewind)
	s.mu.Unlock()
	if len(seek) > 0 {
		cl.SetOffsets(seek)
	}
	s.count(items, res)
	s.metrics.batchSeconds.Observe(time.Since(start).Seconds())
	return nil
}

// deadLetter produces the DLQ records of items before their batch commits, so a crash in
// between re-sends them (with the same ce_id) rather than losing them.
func (s *Sink) deadLetter(ctx context.Context, cl *kgo.Client, items []item) error {
	var out []*kgo.Record
	for i := range items {
		if items[i].kind == itemDLQ {
			out = append(out, items[i].dlq)
			s.log.Warn().Str("reason", items[i].dlqReason).Str("type", items[i].typ).
				Str("topic", items[i].rec.Topic).Int32("partition", items[i].rec.Partition).
				Int64("offset", items[i].rec.Offset).Msg("record sent to the DLQ")
		}
	}
	if len(out) == 0 {
		return nil
	}
	op := func() (struct{}, error) {
		err := cl.ProduceSync(ctx, out...).FirstErr()
		if fe := kafkaclient.Fatal(err); fe != nil {
			return struct{}{}, backoff.Permanent(fe) // a missing ACL: no retry helps
		}
		return struct{}{}, err
	}
	if _, err := backoff.Retry(ctx, op, backoff.WithBackOff(s.newBackoff()), backoff.WithMaxElapsedTime(0)); err != nil {
		return fmt.Errorf("produce to the DLQ: %w", err)
	}
	return nil
}

func (s *Sink) count(items []item, res applyResult) {
	for i := range items {
		it := &items[i]
		tp := TP{Topic: it.rec.Topic, Partition: it.rec.Partition}
		if _, rewound := res.rewind[tp]; rewound || it.stale {
			continue
		}
		switch {
		case it.kind == itemApply && res.ignored[i]:
			s.metrics.skipped.WithLabelValues(it.typ, skipTenantMismatch).Inc()
			s.log.Warn().Str("reason", skipTenantMismatch).Str("type", it.typ).Str(logging.FieldECO, it.ecoID).
				Str(logging.FieldNOC, it.noc).Str(logging.FieldOSP, it.osp).
				Str("topic", it.rec.Topic).Int32("partition", it.rec.Partition).Int64("offset", it.rec.Offset).
				Msg("event names other tenants than the ECO's projected row; ignored")
		case it.kind == itemApply:
			s.metrics.events.WithLabelValues(it.typ).Inc()
			if ts := float64(it.rec.Timestamp.UnixMilli()) / 1000; ts > s.metrics.newestSeen {
				s.metrics.newestSeen = ts
				s.metrics.newest.Set(ts)
			}
			s.log.Debug().Str("type", it.typ).Str(logging.FieldECO, it.ecoID).Str(logging.FieldNOC, it.noc).
				Str(logging.FieldOSP, it.osp).Int32("partition", it.rec.Partition).Int64("offset", it.rec.Offset).
				Msg("event projected")
		case it.kind == itemSkip:
			s.metrics.skipped.WithLabelValues(it.typ, it.skipReason).Inc()
		case it.kind == itemDLQ:
			s.metrics.dlq.WithLabelValues(it.dlqReason).Inc()
			s.metrics.dlqRecords.Count(it.dlq)
		}
	}
	s.metrics.stale.Add(float64(res.stale))
}

type metrics struct {
	events  *prometheus.CounterVec
	skipped *prometheus.CounterVec
	dlq     *prometheus.CounterVec
	// dlqRecords is every consumer's strike_dlq_records_total{consumer, reason}.
	dlqRecords dlq.Counter
	// newest is the Kafka timestamp of the newest event projected; newestSeen its value (count
	// runs on the one poll loop).
	newest       prometheus.Gauge
	newestSeen   float64
	stale        prometheus.Counter
	rewinds      prometheus.Counter
	dbErrors     prometheus.Counter
	batchSeconds prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		dlqRecords: dlq.NewCounter(reg),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strike_sink_events_total",
			Help: "Events written to the projections, by ce_type.",
		}, []string{"type"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strike_sink_events_skipped_total",
			Help: "Records not projected, by ce_type and reason: unknown_type (a rebuild picks them up once the sink knows the type), not_an_eco (a Render change of a job that is not an ECO's), tenant_mismatch (the event names other tenants than the ECO's row).",
		}, []string{"type", "reason"}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strike_sink_dlq_total",
			Help: "Records sent to strike.dlq.v1, by reason.",
		}, []string{"reason"}),
		stale: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strike_sink_replayed_records_total",
			Help: "Records left out because their offset was already stored (a replayed batch).",
		}),
		rewinds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strike_sink_rewinds_total",
			Help: "Partitions sought back because their stored offset moved behind this replica (a rebuild was swapped in).",
		}),
		dbErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strike_sink_db_errors_total",
			Help: "Batch writes that failed and were retried with backoff.",
		}),
		newest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "strike_sink_last_projected_event_timestamp_seconds",
			Help: "Kafka timestamp of the newest event this replica projected; time() minus it is the projections' freshness.",
		}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "strike_sink_batch_duration_seconds",
			Help:    "Time to decode and commit one polled batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.skipped, m.dlq, m.stale, m.rewinds, m.dbErrors, m.batchSeconds, m.newest)
	}
	return m
}

// ApplyRecords projects recs as one batch exactly as the sink does, without Kafka and without
// storing offsets: for tests, benchmarks and tools that need projected rows. Undecodable
// records are ignored (no DLQ here); the returned count is of projected events.
func ApplyRecords(ctx context.Context, pool *pgxpool.Pool, v *schemas.Validator, recs []*kgo.Record) (int, error) {
	dec := decoder{v: v, now: time.Now}
	items := make([]item, len(recs))
	for i, r := range recs {
		items[i] = dec.decode(r)
	}
	w := &writer{pool: pool, noOffsets: true}
	res, err := w.applyDroppingPoison(ctx, items, nil)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range items {
		if items[i].kind == itemApply && !res.ignored[i] {
			n++
		}
	}
	return n, nil
}
