// Package dialer runs the ring-down of every ECO whose partition it owns (DESIGN §3).
//
// One consumer group reads strike.eco.events.v1 and strike.telephony.callbacks.v1 with a range
// balancer, so partition p of both topics (co-partitioned, keyed by eco_id) lands on the same
// replica: a callback always reaches the replica that owns its ECO. Each polled batch and each
// internal input (a CreateCall/FetchCall result, a timer) is applied to the pure state machine
// (machine.go); the callout events, the new states (compacted strike.callout.state.v1) and the
// consumed offsets are written in one Kafka transaction. Side effects on Twilio run only after
// that transaction commits, so the intent to call is durable before the call is made; their
// results come back as inputs of a later transaction. A replica that is assigned partition p
// reads strike.callout.state.v1 partition p to its end and resumes every ring-down from it:
// timers are absolute times in the state, and calls whose intent was committed without a SID are
// placed again (the only calls a crash can repeat).
package dialer

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/logging"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/producers/ecorequest"
	"github.com/osprey-strike/strike/schemas"
)

// Name is the component name in logs, metrics and ce_source.
const Name = "dialer"

// Defaults of Config.
const (
	DefaultGroup           = "strike-dialer"
	DefaultRingDuration    = 25 * time.Second
	DefaultReconcileMargin = 15 * time.Second
	DefaultAnswerGrace     = 90 * time.Second
	DefaultPlaceRetry      = 30 * time.Second
	DefaultRetention       = time.Hour
	DefaultWorkers         = 64
	DefaultMaxPollRecords  = 1000
	DefaultRestoreTimeout  = time.Minute
)

// Clock is the dialer's time: Now for decisions, AfterFunc for timers. Tests pass a clock that
// runs faster than the wall clock and can jump, so a 20-minute retry takes milliseconds.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface{ Stop() bool }

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Caller is the Twilio adapter (*twilio.Client).
type Caller interface {
	CreateCall(ctx context.Context, req twilio.CallRequest) (twilio.Call, error)
	FetchCall(ctx context.Context, subaccountSID, callSID string) (twilio.Call, error)
	EndCall(ctx context.Context, subaccountSID, callSID string) error
}

// Config configures a Dialer. Zero values take the documented defaults.
type Config struct {
	// Brokers is a comma-separated seed list. Required.
	Brokers string
	// WebhookBase is Strike's public base URL as Twilio reaches the gateway. Required.
	WebhookBase string
	// Group is the consumer group; default DefaultGroup.
	Group string
	// TransactionalID must be unique per live replica; default "strike-dialer-<hostname>".
	TransactionalID string
	// MaxPollRecords bounds a batch; default DefaultMaxPollRecords.
	MaxPollRecords int
	// RingDuration is used when an ECO carries none; default DefaultRingDuration.
	RingDuration time.Duration
	// ReconcileMargin: a call without a final callback this long after its ring duration is
	// fetched from Twilio; default DefaultReconcileMargin.
	ReconcileMargin time.Duration
	// AnswerGrace: an answered call still in progress this long after its ring duration is hung
	// up as no answer; default DefaultAnswerGrace.
	AnswerGrace time.Duration
	// PlaceRetry is the pause before a transiently failed placement or fetch is repeated;
	// default DefaultPlaceRetry.
	PlaceRetry time.Duration
	// Retention keeps a finished ring-down (for late callbacks) before its tombstone; default
	// DefaultRetention.
	Retention time.Duration
	// Workers bounds concurrent Twilio requests; default DefaultWorkers.
	Workers int
	// RestoreTimeout bounds waiting for open transactions on the state partitions (a dead
	// replica's) to end before restoring; default DefaultRestoreTimeout.
	RestoreTimeout time.Duration
	// Clock; default the wall clock.
	Clock Clock
	// KafkaOpts are appended to the client options (tests shorten timeouts).
	KafkaOpts []kgo.Opt
}

// Deps are the Dialer's collaborators.
type Deps struct {
	Store     Store
	Twilio    Caller
	Validator *schemas.Validator
	Log       zerolog.Logger
	Registry  prometheus.Registerer // may be nil
}

// Dialer is the dialer component. Run it once.
type Dialer struct {
	cfg     Config
	deps    Deps
	log     zerolog.Logger
	metrics *metrics
	machine Machine
	urls    twilio.WebhookURLs

	inbox inbox
	work  workQueue

	// Owned by the Run goroutine.
	states map[string]*owned
	// parts is the set of owned partitions, written by the group callbacks.
	partsMu sync.Mutex
	parts   map[int32]bool
	// commitMu orders raw (offset-less) commits with revokes; see end.
	commitMu sync.Mutex
	// inflight holds the call ids of placements running on this replica, and orphans their
	// results that arrived while the partition was not owned (an eager rebalance revokes and
	// gives back the same partitions): a restore uses them instead of placing the call again.
	inflight map[string]bool
	orphans  map[string]item

	beforeCommit func(commands int) // test hook
}

// owned is one ring-down in memory with its timer.
type owned struct {
	st        *State
	partition int32
	timer     Timer
	deadline  time.Time
}

// New validates cfg and builds a Dialer.
func New(deps Deps, cfg Config) (*Dialer, error) {
	var errs []error
	if cfg.Brokers == "" {
		errs = append(errs, errors.New("no Kafka brokers configured"))
	}
	if cfg.WebhookBase == "" {
		errs = append(errs, errors.New("WebhookBase (the public base URL of the Twilio webhooks) is required"))
	}
	if deps.Store == nil || deps.Twilio == nil || deps.Validator == nil {
		errs = append(errs, errors.New("Store, Twilio and Validator are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("dialer: %w", err)
	}
	host, _ := os.Hostname()
	cfg.Group = cmp.Or(cfg.Group, DefaultGroup)
	cfg.TransactionalID = cmp.Or(cfg.TransactionalID, "strike-dialer-"+host)
	cfg.MaxPollRecords = cmp.Or(cfg.MaxPollRecords, DefaultMaxPollRecords)
	cfg.RingDuration = cmp.Or(cfg.RingDuration, DefaultRingDuration)
	cfg.ReconcileMargin = cmp.Or(cfg.ReconcileMargin, DefaultReconcileMargin)
	cfg.AnswerGrace = cmp.Or(cfg.AnswerGrace, DefaultAnswerGrace)
	cfg.PlaceRetry = cmp.Or(cfg.PlaceRetry, DefaultPlaceRetry)
	cfg.Retention = cmp.Or(cfg.Retention, DefaultRetention)
	cfg.Workers = cmp.Or(cfg.Workers, DefaultWorkers)
	cfg.RestoreTimeout = cmp.Or(cfg.RestoreTimeout, DefaultRestoreTimeout)
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	d := &Dialer{
		cfg:     cfg,
		deps:    deps,
		log:     deps.Log.With().Str(logging.FieldComponent, Name).Logger(),
		metrics: newMetrics(deps.Registry),
		urls:    twilio.WebhookURLs{Base: cfg.WebhookBase},
		states:  map[string]*owned{},
		parts:   map[int32]bool{},

		inflight: map[string]bool{},
		orphans:  map[string]item{},
	}
	d.machine = Machine{Rules: Rules{RingDefault: cfg.RingDuration, ReconcileMargin: cfg.ReconcileMargin,
		AnswerGrace: cfg.AnswerGrace, PlaceRetry: cfg.PlaceRetry, Retention: cfg.Retention}}
	d.work.signal = make(chan struct{}, 1)
	d.work.done = make(chan struct{})
	return d, nil
}

// item is an input that did not come from Kafka.
type item struct {
	assigned, revoked []int32
	eco               string
	placed            *Placed
	fetched           *Fetched
	tick              time.Time // the deadline that fired
}

// inbox queues internal inputs for the Run goroutine and interrupts its poll.
type inbox struct {
	mu    sync.Mutex
	items []item
	wake  context.CancelFunc
}

func (b *inbox) push(it item) {
	b.mu.Lock()
	b.items = append(b.items, it)
	if b.wake != nil {
		b.wake()
	}
	b.mu.Unlock()
}

// Run consumes until ctx ends; it returns nil on a clean shutdown.
func (d *Dialer) Run(ctx context.Context) error {
	opts := append(kafkaclient.Options(d.cfg.Brokers, Name, d.log, d.deps.Registry),
		kgo.ConsumerGroup(d.cfg.Group),
		kgo.ConsumeTopics(topics.ECOEvents, topics.TelephonyCallbacks),
		// Partition p of both topics on one member: only a range balancer promises it.
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.TransactionalID(d.cfg.TransactionalID),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.ProducerLinger(0),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			d.setParts(m[topics.ECOEvents], true)
			d.inbox.push(item{assigned: m[topics.ECOEvents]})
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			d.setParts(m[topics.ECOEvents], false)
			d.inbox.push(item{revoked: m[topics.ECOEvents]})
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			d.setParts(m[topics.ECOEvents], false)
			d.inbox.push(item{revoked: m[topics.ECOEvents]})
		}),
	)
	opts = append(opts, d.cfg.KafkaOpts...)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("dialer: kafka client: %w", err)
	}
	defer sess.Close()

	wctx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	for range d.cfg.Workers {
		wg.Add(1)
		go func() { defer wg.Done(); d.worker(wctx) }()
	}
	defer func() {
		stopWorkers()
		d.work.close()
		wg.Wait()
		for _, o := range d.states {
			if o.timer != nil {
				o.timer.Stop()
			}
		}
	}()
	d.log.Info().Str("group", d.cfg.Group).Str("transactional_id", d.cfg.TransactionalID).Msg("dialer started")

	retry := backoff.NewExponentialBackOff()
	retry.InitialInterval = 100 * time.Millisecond
	retry.MaxInterval = 10 * time.Second
	for {
		var fetches kgo.Fetches
		d.inbox.mu.Lock()
		if len(d.inbox.items) == 0 {
			pctx, cancel := context.WithCancel(ctx)
			d.inbox.wake = cancel
			d.inbox.mu.Unlock()
			fetches = sess.PollRecords(pctx, d.cfg.MaxPollRecords)
			cancel()
			d.inbox.mu.Lock()
			d.inbox.wake = nil
		} else {
			d.inbox.mu.Unlock()
			// Internal inputs are waiting: take only what is already buffered (a nil context
			// makes kgo drain without blocking), so a stream of timers and Twilio results never
			// starves new ECOs and callbacks.
			fetches = sess.PollRecords(nil, d.cfg.MaxPollRecords) //nolint:staticcheck // nil = do not block
			d.inbox.mu.Lock()
		}
		items := d.inbox.items
		d.inbox.items = nil
		d.inbox.mu.Unlock()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			d.log.Info().Msg("dialer stopping")
			return nil
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				d.log.Warn().Err(err).Str("topic", t).Int32("partition", p).Msg("fetch error")
			}
		})
		items, err := d.rebalance(ctx, items)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// Deciding on a partition without its state would redo or lose transitions: stop,
			// and let the supervisor restart the replica (the group moves the partitions).
			return fmt.Errorf("dialer: %w", err)
		}
		recs := fetches.Records()
		if len(recs) == 0 && len(items) == 0 {
			continue
		}
		committed, err := d.transact(ctx, sess, recs, items)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil
		case errors.Is(err, errTransient):
			d.requeue(items)
			wait := retry.NextBackOff()
			d.log.Warn().Err(err).Dur("retry_in", wait).Msg("batch aborted; it will be redone")
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		case err != nil:
			return fmt.Errorf("dialer: %w", err)
		case !committed:
			d.requeue(items)
			d.log.Info().Msg("transaction aborted by a rebalance; inputs left to the owner")
		default:
			retry.Reset()
		}
	}
}

func (d *Dialer) setParts(ps []int32, owned bool) {
	if !owned {
		// Wait for a raw commit in progress: it must land before the rebalance goes on.
		d.commitMu.Lock()
		defer d.commitMu.Unlock()
	}
	d.partsMu.Lock()
	defer d.partsMu.Unlock()
	for _, p := range ps {
		if owned {
			d.parts[p] = true
		} else {
			delete(d.parts, p)
		}
	}
}

func (d *Dialer) owns(p int32) bool {
	d.partsMu.Lock()
	defer d.partsMu.Unlock()
	return d.parts[p]
}

// requeue puts back the internal inputs of an aborted batch (Kafka redelivers the records).
func (d *Dialer) requeue(items []item) {
	for _, it := range items {
		if it.eco != "" {
			d.inbox.push(it)
		}
	}
}

// rebalance applies partition changes (restore or drop) and returns the other items.
func (d *Dialer) rebalance(ctx context.Context, items []item) ([]item, error) {
	rest := items[:0]
	for _, it := range items {
		switch {
		case it.revoked != nil:
			d.drop(it.revoked)
		case it.assigned != nil:
			if err := d.restore(ctx, it.assigned); err != nil {
				return nil, fmt.Errorf("restore partitions %v: %w", it.assigned, err)
			}
		default:
			rest = append(rest, it)
		}
	}
	return rest, nil
}

// drop forgets the ring-downs of revoked partitions: the new owner restores them.
func (d *Dialer) drop(ps []int32) {
	gone := map[int32]bool{}
	for _, p := range ps {
		gone[p] = true
	}
	for id, o := range d.states {
		if gone[o.partition] {
			if o.timer != nil {
				o.timer.Stop()
			}
			delete(d.states, id)
		}
	}
	d.metrics.active.Set(float64(d.activeCount()))
	d.log.Info().Ints32("partitions", ps).Msg("partitions revoked; ring-downs dropped")
}

// activeCount counts the unfinished ring-downs in memory. It walks every state: call it on
// partition changes only; commits adjust the gauge by difference.
func (d *Dialer) activeCount() int {
	n := 0
	for _, o := range d.states {
		if !o.st.Final() {
			n++
		}
	}
	return n
}

// errTransient marks a batch a retry can fix (PostgreSQL down, a produce that failed).
var errTransient = errors.New("transient failure")

// input is one thing to apply in a batch.
type input struct {
	rec *kgo.Record
	it  *item
}

// transact applies one batch in one Kafka transaction and, once committed, starts its side
// effects and re-arms its timers.
func (d *Dialer) transact(ctx context.Context, sess *kgo.GroupTransactSession, recs []*kgo.Record, items []item) (bool, error) {
	// A batch of internal inputs only (timers, Twilio results) consumed no offsets. The
	// session's End would, without offsets to commit, hold its rebalance lock for 500 ms after
	// the commit (franz-go's pre-KIP-447 guard, chosen when no TxnOffsetCommit answered), which
	// would cap such batches at two per second. Those batches run as plain transactions of the
	// same client instead, fenced by our own ownership check under commitMu (see end).
	raw := len(recs) == 0
	var err error
	if raw {
		err = sess.Client().BeginTransaction()
	} else {
		err = sess.Begin()
	}
	if err != nil {
		return false, fmt.Errorf("begin transaction: %w", err)
	}
	b := &batch{d: d, ctx: ctx, work: map[string]*owned{}, dirty: map[string]bool{}, deleted: map[string]bool{}}
	for _, r := range recs {
		if err := b.applyRecord(r); err != nil {
			return false, d.abort(ctx, sess, raw, err)
		}
	}
	for i := range items {
		if err := b.applyItem(&items[i]); err != nil {
			return false, d.abort(ctx, sess, raw, err)
		}
	}
	out, err := b.records()
	if err != nil {
		return false, d.abort(ctx, sess, raw, err)
	}
	if len(out) > 0 {
		if err := sess.ProduceSync(ctx, out...).FirstErr(); err != nil {
			return false, d.abort(ctx, sess, raw, fmt.Errorf("produce: %w", err))
		}
	}
	if d.beforeCommit != nil {
		d.beforeCommit(len(b.cmds))
	}
	committed, err := d.end(ctx, sess, b, raw)
	if err != nil {
		d.metrics.transactions.WithLabelValues("failed").Inc()
		return false, fmt.Errorf("end transaction: %w", err)
	}
	if !committed {
		d.metrics.transactions.WithLabelValues("aborted").Inc()
		return false, nil
	}
	d.metrics.transactions.WithLabelValues("committed").Inc()
	b.committed()
	return true, nil
}

// end commits the transaction. A session transaction (records consumed) is fenced by the
// session: it aborts if a rebalance revoked partitions meanwhile. A raw one (internal inputs
// only) is fenced here: under commitMu, which the revoke callbacks also take, every ring-down
// it touched must still be on an owned partition, so it commits either before a revoke
// returns (and thus before any new owner restores) or not at all.
func (d *Dialer) end(ctx context.Context, sess *kgo.GroupTransactSession, b *batch, raw bool) (bool, error) {
	ctx = context.WithoutCancel(ctx)
	if !raw {
		return sess.End(ctx, kgo.TryCommit)
	}
	d.commitMu.Lock()
	defer d.commitMu.Unlock()
	how := kgo.TryCommit
	for _, id := range b.order {
		if !d.owns(b.work[id].partition) {
			how = kgo.TryAbort
		}
	}
	if err := sess.Client().Flush(ctx); err != nil {
		how = kgo.TryAbort
	}
	if err := sess.Client().EndTransaction(ctx, how); err != nil {
		return false, err
	}
	return how == kgo.TryCommit, nil
}

func (d *Dialer) abort(ctx context.Context, sess *kgo.GroupTransactSession, raw bool, cause error) error {
	var err error
	if raw {
		err = sess.Client().EndTransaction(context.WithoutCancel(ctx), kgo.TryAbort)
	} else {
		_, err = sess.End(context.WithoutCancel(ctx), kgo.TryAbort)
	}
	if err != nil {
		return fmt.Errorf("abort after %v: %w", cause, err)
	}
	d.metrics.transactions.WithLabelValues("aborted").Inc()
	return fmt.Errorf("%w: %v", errTransient, cause)
}

// batch is one transaction's work: copies of the touched states, their outputs and commands.
type batch struct {
	d       *Dialer
	ctx     context.Context
	work    map[string]*owned // eco id -> working copy
	order   []string
	dirty   map[string]bool
	deleted map[string]bool
	events  []*kgo.Record
	cmds    []Command
	// accepted and firstCalls are metrics to count once committed.
	accepted   []*State
	firstCalls []*State
	rosters    map[[2]string][]schemas.Contact
	twilio     map[string]TwilioContext
}

// state returns the working copy of eco's state, cloning the committed one on first touch.
func (b *batch) state(eco string) *owned {
	if w, ok := b.work[eco]; ok {
		return w
	}
	o, ok := b.d.states[eco]
	if !ok {
		return nil
	}
	w := &owned{st: o.st.Clone(), partition: o.partition}
	b.work[eco] = w
	b.order = append(b.order, eco)
	return w
}

func (b *batch) applyRecord(r *kgo.Record) error {
	typ, _ := cloudevents.Header(r, cloudevents.HeaderType)
	now := b.d.cfg.Clock.Now()
	switch typ {
	case schemas.TypeECOCreated:
		var ev schemas.ECOCreated
		if err := b.decode(r, typ, &ev); err != nil {
			return nil
		}
		if b.state(ev.ECOID) != nil {
			return nil // redelivered: the ring-down exists
		}
		roster, tc, err := b.lookup(ev)
		if err != nil {
			return err
		}
		m := b.d.machine
		m.Env = envFor{b}
		st, out, err := m.Start(ev, roster, tc, now)
		if err != nil {
			return err
		}
		w := &owned{st: st, partition: r.Partition}
		b.work[ev.ECOID] = w
		b.order = append(b.order, ev.ECOID)
		b.collect(w, out)
		b.d.log.Info().Str(logging.FieldECO, ev.ECOID).Str(logging.FieldNOC, ev.NOCTenantID).Str(logging.FieldOSP, ev.OSPTenantID).
			Int("roster_size", len(roster)).Msg("ring-down started")
	case schemas.TypeECOCancelled:
		var ev schemas.ECOCancelled
		if err := b.decode(r, typ, &ev); err != nil {
			return nil
		}
		if w := b.state(ev.ECOID); w != nil {
			b.collect(w, b.d.machine.ApplyCancel(w.st, ev, now))
		}
	case schemas.TypeTelephonyCallback:
		var ev schemas.TelephonyCallback
		if err := b.decode(r, typ, &ev); err != nil {
			return nil
		}
		w := b.state(ev.ECOID)
		if w == nil {
			b.d.log.Debug().Str(logging.FieldECO, ev.ECOID).Str("call_id", ev.CallID).Msg("callback for an unknown or finished ring-down ignored")
			return nil
		}
		m := b.d.machine
		m.Env = envFor{b}
		out, err := m.ApplyCallback(w.st, ev, now)
		if err != nil {
			return err
		}
		b.collect(w, out)
	}
	// eco.rejected and unknown types are not the dialer's business.
	return nil
}

// lookup reads the roster and the NOC's Twilio context of a new ECO, once per batch for each
// (OSP, region) and NOC: a storm of ECOs for one OSP costs two queries per batch, not per ECO.
func (b *batch) lookup(ev schemas.ECOCreated) ([]schemas.Contact, TwilioContext, error) {
	if b.rosters == nil {
		b.rosters, b.twilio = map[[2]string][]schemas.Contact{}, map[string]TwilioContext{}
	}
	rk := [2]string{ev.OSPTenantID, ev.Region}
	roster, ok := b.rosters[rk]
	if !ok {
		var err error
		if roster, err = b.d.deps.Store.Roster(b.ctx, ev.OSPTenantID, ev.Region); err != nil {
			return nil, TwilioContext{}, err
		}
		b.rosters[rk] = roster
	}
	tc, ok := b.twilio[ev.NOCTenantID]
	if !ok {
		var err error
		if tc, err = b.d.deps.Store.TwilioContext(b.ctx, ev.NOCTenantID); err != nil {
			return nil, TwilioContext{}, err
		}
		b.twilio[ev.NOCTenantID] = tc
	}
	return roster, tc, nil
}

// decode validates a value against its schema; invalid input is logged and skipped (the
// eco-processor and the gateway validate before producing, so this is a bug elsewhere, and
// stalling every ring-down of the partition on it would be worse).
func (b *batch) decode(r *kgo.Record, typ string, v any) error {
	if err := b.d.deps.Validator.Decode(typ, r.Value, v); err != nil {
		b.d.metrics.invalid.Inc()
		b.d.log.Error().Err(err).Str("topic", r.Topic).Int32("partition", r.Partition).Int64("offset", r.Offset).Msg("invalid record skipped")
		return err
	}
	return nil
}

func (b *batch) applyItem(it *item) error {
	w := b.state(it.eco)
	if w == nil || !b.d.owns(w.partition) {
		if it.placed != nil && it.placed.SID != "" {
			b.d.partsMu.Lock()
			b.d.orphans[it.placed.CallID] = *it
			b.d.partsMu.Unlock()
		}
		return nil // revoked meanwhile, or tombstoned: the owner decides
	}
	now := b.d.cfg.Clock.Now()
	m := b.d.machine
	m.Env = envFor{b}
	var out Output
	var err error
	switch {
	case it.placed != nil:
		out, err = m.ApplyPlaced(w.st, *it.placed, now)
	case it.fetched != nil:
		out, err = m.ApplyFetched(w.st, *it.fetched, now)
	default:
		out, err = m.Tick(w.st, now)
	}
	if err != nil {
		return err
	}
	b.collect(w, out)
	return nil
}

// envFor answers the machine's link checks from PostgreSQL within the batch's context.
type envFor struct{ b *batch }

func (e envFor) LinkActive(noc, osp string) (bool, error) {
	return e.b.d.deps.Store.LinkActive(e.b.ctx, noc, osp)
}

// collect turns a machine output into records and commands.
func (b *batch) collect(w *owned, out Output) {
	st := w.st
	for _, e := range out.Events {
		value, err := json.Marshal(e.Value)
		if err != nil {
			panic(fmt.Sprintf("marshal %s: %v", e.Type, err)) // only a bug can cause this
		}
		b.events = append(b.events, cloudevents.Record(topics.CalloutEvents, st.ECO.ECOID, cloudevents.Event{
			ID: e.ID, Type: e.Type, Source: "strike/" + Name, Subject: st.ECO.ECOID, Time: e.At}, value))
		if e.Type == schemas.TypeCalloutCallPlaced && st.CallsMade == 1 {
			b.firstCalls = append(b.firstCalls, st)
		}
		if ce, ok := e.Value.(schemas.CallEnded); ok {
			b.d.metrics.calls.WithLabelValues(ce.Result).Inc()
		}
	}
	if out.Accepted > 0 {
		b.accepted = append(b.accepted, st)
	}
	if out.Failover != nil {
		rec, err := ecorequest.Record(b.d.deps.Validator, out.Failover, "strike/"+Name, b.d.cfg.Clock.Now())
		if err != nil {
			b.d.log.Error().Err(err).Str(logging.FieldECO, st.ECO.ECOID).Msg("failover request invalid; not sent")
		} else {
			b.events = append(b.events, rec)
		}
	}
	if out.Delete {
		b.deleted[st.ECO.ECOID] = true
	}
	if out.Changed || out.Delete {
		b.dirty[st.ECO.ECOID] = true
	}
	b.cmds = append(b.cmds, out.Commands...)
}

// records are the batch's outputs: events, failover requests, then one state record (or
// tombstone) per touched ring-down.
func (b *batch) records() ([]*kgo.Record, error) {
	out := b.events
	for _, id := range b.order {
		if !b.dirty[id] {
			continue
		}
		if b.deleted[id] {
			out = append(out, &kgo.Record{Topic: topics.CalloutState, Key: []byte(id)})
			continue
		}
		value, err := json.Marshal(b.work[id].st)
		if err != nil {
			return nil, fmt.Errorf("encode state of %s: %w", id, err)
		}
		out = append(out, &kgo.Record{Topic: topics.CalloutState, Key: []byte(id), Value: value})
	}
	return out, nil
}

// committed installs the new states, re-arms their timers and starts the side effects.
func (b *batch) committed() {
	d := b.d
	delta := 0
	for _, id := range b.order {
		w := b.work[id]
		old := d.states[id]
		if old != nil {
			if old.timer != nil {
				old.timer.Stop()
			}
			if !old.st.Final() {
				delta--
			}
		}
		if b.deleted[id] {
			delete(d.states, id)
			continue
		}
		if !w.st.Final() {
			delta++
		}
		d.states[id] = w
		d.arm(id, w)
	}
	d.metrics.active.Add(float64(delta))
	for _, st := range b.firstCalls {
		d.metrics.firstCall.Observe(st.FirstCallAt.Sub(st.ECO.CreatedAt).Seconds())
	}
	for _, st := range b.accepted {
		d.metrics.acceptance.Observe(st.Accepted[len(st.Accepted)-1].At.Sub(st.ECO.CreatedAt).Seconds())
	}
	for _, c := range b.cmds {
		if o := d.states[c.ECOID]; o != nil || c.Kind == CmdEnd {
			d.enqueue(d.job(c, o))
		}
	}
}

// arm sets the ring-down's timer to its next deadline (an absolute time in the state).
func (d *Dialer) arm(id string, o *owned) {
	o.timer = nil
	next := o.st.NextDeadline(d.machine.Rules)
	if next.IsZero() {
		return
	}
	o.deadline = next
	clock := d.cfg.Clock
	o.timer = clock.AfterFunc(next.Sub(clock.Now()), func() {
		d.metrics.lateness.Observe(max(clock.Now().Sub(next), 0).Seconds())
		d.inbox.push(item{eco: id, tick: next})
	})
}

// job is a side effect ready to run: everything it needs is copied out of the state.
type job struct {
	cmd Command
	req twilio.CallRequest
	sub string
	log zerolog.Logger
}

func (d *Dialer) job(c Command, o *owned) job {
	j := job{cmd: c, log: d.log.With().Str(logging.FieldECO, c.ECOID).Str("call_id", c.Call.ID).Logger()}
	if o == nil {
		return j
	}
	st := o.st
	j.sub = st.Twilio.SubaccountSID
	j.log = j.log.With().Str(logging.FieldNOC, st.ECO.NOCTenantID).Str(logging.FieldOSP, st.ECO.OSPTenantID).Logger()
	if c.Kind == CmdPlace {
		j.req = twilio.CallRequest{
			SubaccountSID:     st.Twilio.SubaccountSID,
			To:                c.Call.Contact.Phone,
			From:              st.Twilio.CallerID,
			Timeout:           st.ring(d.machine.Rules),
			StatusCallbackURL: d.urls.Status(c.ECOID, c.Call.ID),
			Twiml:             twilio.GatherTwiML(st.ECO.JobNumber, st.ECO.Site.Name, d.urls.Gather(c.ECOID, c.Call.ID, 1), 1),
		}
	}
	return j
}

// enqueue hands a job to the workers; a placement counts as in flight from now until its
// result is queued as an input.
func (d *Dialer) enqueue(j job) {
	if j.cmd.Kind == CmdPlace {
		d.partsMu.Lock()
		d.inflight[j.cmd.Call.ID] = true
		d.partsMu.Unlock()
	}
	d.work.push(j)
}

// workQueue is an unbounded FIFO of jobs for the workers: the Run goroutine never blocks on it.
type workQueue struct {
	mu     sync.Mutex
	jobs   []job
	signal chan struct{} // a token: there may be jobs
	done   chan struct{} // closed on shutdown
}

func (q *workQueue) push(j job) {
	q.mu.Lock()
	q.jobs = append(q.jobs, j)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *workQueue) close() { close(q.done) }

func (q *workQueue) pop() (job, bool) {
	for {
		q.mu.Lock()
		if len(q.jobs) > 0 {
			j := q.jobs[0]
			q.jobs[0] = job{}
			q.jobs = q.jobs[1:]
			more := len(q.jobs) > 0
			q.mu.Unlock()
			if more {
				select { // pass the token on so another worker takes the rest
				case q.signal <- struct{}{}:
				default:
				}
			}
			return j, true
		}
		q.mu.Unlock()
		select {
		case <-q.signal:
		case <-q.done:
			return job{}, false
		}
	}
}

func (d *Dialer) worker(ctx context.Context) {
	for {
		j, ok := d.work.pop()
		if !ok || ctx.Err() != nil {
			return
		}
		d.run(ctx, j)
	}
}

// run performs one side effect and feeds its result back as an input.
func (d *Dialer) run(ctx context.Context, j job) {
	c := j.cmd
	switch c.Kind {
	case CmdPlace:
		defer func() {
			d.partsMu.Lock()
			delete(d.inflight, c.Call.ID)
			d.partsMu.Unlock()
		}()
		call, err := d.deps.Twilio.CreateCall(ctx, j.req)
		p := Placed{CallID: c.Call.ID, SID: call.SID}
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return // shutting down: the intent stays committed and the next owner places it
		case twilio.IsCredentials(err), errors.Is(err, twilio.ErrInvalidCallerID):
			p.Err, p.Detail = PlaceCredentials, err.Error()
		case twilio.IsInvalidNumber(err), errors.Is(err, twilio.ErrRejected), errors.Is(err, twilio.ErrNotFound):
			p.Err, p.Detail = PlaceInvalidNumber, err.Error()
		default:
			p.Err, p.Detail = PlaceTransient, err.Error()
		}
		if err != nil {
			j.log.Warn().Err(err).Str("class", p.Err).Msg("call not placed")
		}
		d.inbox.push(item{eco: c.ECOID, placed: &p})
	case CmdFetch:
		call, err := d.deps.Twilio.FetchCall(ctx, j.sub, c.Call.SID)
		f := Fetched{CallID: c.Call.ID, SID: c.Call.SID, Status: call.Status, Duration: call.Duration}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			f.Err = err.Error()
			j.log.Warn().Err(err).Msg("reconciliation fetch failed; retried later")
		}
		d.inbox.push(item{eco: c.ECOID, fetched: &f})
	case CmdEnd:
		if err := d.deps.Twilio.EndCall(ctx, j.sub, c.Call.SID); err != nil && ctx.Err() == nil {
			// The call's own callbacks (or the reconciliation) still end it in the state.
			j.log.Warn().Err(err).Str("call_sid", c.Call.SID).Msg("hang-up failed")
		}
	}
}

type metrics struct {
	calls        *prometheus.CounterVec
	active       prometheus.Gauge
	firstCall    prometheus.Histogram
	acceptance   prometheus.Histogram
	lateness     prometheus.Histogram
	transactions *prometheus.CounterVec
	invalid      prometheus.Counter
	restored     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strike_dialer_calls_total",
			Help: "Calls ended, by result (accepted, declined, no_answer, voicemail, busy, failed, invalid_number, canceled)."}, []string{"result"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "strike_dialer_active_ringdowns",
			Help: "Ring-downs owned by this replica that are not finished."}),
		firstCall: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "strike_dialer_time_to_first_call_seconds",
			Help: "Time from eco.created to the first call's SID being recorded.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		acceptance: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "strike_dialer_time_to_acceptance_seconds",
			Help: "Time from eco.created to an acceptance that counts.", Buckets: prometheus.ExponentialBuckets(1, 2, 14)}),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "strike_dialer_timer_lateness_seconds",
			Help: "How late a ring-down timer fired after its deadline.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strike_dialer_transactions_total",
			Help: "Kafka transactions ended, by result (committed, aborted, failed)."}, []string{"result"}),
		invalid: prometheus.NewCounter(prometheus.CounterOpts{Name: "strike_dialer_invalid_records_total",
			Help: "Input records that failed schema validation and were skipped."}),
		restored: prometheus.NewCounter(prometheus.CounterOpts{Name: "strike_dialer_restored_ringdowns_total",
			Help: "Ring-downs restored from strike.callout.state.v1 on partition assignment."}),
	}
	if reg != nil {
		reg.MustRegister(m.calls, m.active, m.firstCall, m.acceptance, m.lateness, m.transactions, m.invalid, m.restored)
	}
	return m
}
