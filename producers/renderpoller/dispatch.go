package renderpoller

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/dlq"
	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/logging"
	"github.com/osprey-strike/strike/internal/render"
	"github.com/osprey-strike/strike/internal/secrets"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

// DispatchName is the dispatch's component name in logs, metrics, ce_source and DLQ records.
const DispatchName = "render-dispatch"

// DispatchConfig configures a Dispatcher. Zero values take the documented defaults.
type DispatchConfig struct {
	// Brokers is a comma-separated seed list. Required.
	Brokers string
	// Security is how the clients authenticate and protect the wire (kafkaclient.Settings.Load);
	// the zero value is plaintext.
	Security kafkaclient.Security
	// Group is the consumer group on strike.eco.events.v1; default "strike-render-dispatch".
	// A new group starts at the oldest retained eco.created: creating is idempotent, so an
	// ECO whose job exists is only confirmed ("existing").
	Group string
	// ReplicaID names this replica in dispatch claims; default as Config.ReplicaID.
	ReplicaID string
	// Tick is how often due retries are looked for (default 1 s); a new eco.created is
	// dispatched at once without waiting for it.
	Tick time.Duration
	// Concurrency bounds the Render calls in flight (default 16).
	Concurrency int
	// CallTimeout bounds one attempt's Render calls, retries included (default 30 s).
	CallTimeout time.Duration
	// ClaimTTL is how long a claimed dispatch is reserved for this replica (default 2 min,
	// longer than CallTimeout); a replica that dies mid-attempt leaves it to another after it.
	ClaimTTL time.Duration
	// BackoffInitial and BackoffMax shape the retry delay of a failed dispatch (defaults 2 s
	// and 5 min, ×2 per attempt, ±20 % jitter). Retries continue until the job is created.
	BackoffInitial time.Duration
	BackoffMax     time.Duration
	// Render, HTTPClient and Now as in Config.
	Render     render.InstanceConfig
	HTTPClient *http.Client
	Now        func() time.Time
	// KafkaOpts are appended to the client's options.
	KafkaOpts []kgo.Opt
}

// DispatchDeps are the Dispatcher's collaborators.
type DispatchDeps struct {
	Pool      *pgxpool.Pool
	Keyring   *secrets.Keyring
	Validator *schemas.Validator
	Log       zerolog.Logger
	Registry  prometheus.Registerer // may be nil
}

// Dispatcher creates each new ECO's job in its OSP's Render instance.
//
// Commit discipline: each polled batch of strike.eco.events.v1 is written to the
// render_dispatches queue in PostgreSQL (one row per ECO, a redelivery changes nothing), and
// undecodable eco.created records are produced to the DLQ; only then are the batch's offsets
// committed. The Render calls happen afterwards, from the queue, so a slow or failing instance
// never holds the consumer nor the other OSPs' ECOs. Each attempt's outcome is produced as a
// strike.render.dispatch.v1 event (ce_id from eco_id and the attempt number) before it is
// recorded in the queue; a crash in between repeats the attempt, and CreateJob, idempotent on
// the job number, returns the job that already exists.
type Dispatcher struct {
	cfg     DispatchConfig
	deps    DispatchDeps
	store   store
	log     zerolog.Logger
	metrics *dispatchMetrics
	cl      *kgo.Client
	nudge   chan struct{}

	mu      sync.Mutex
	clients map[string]cachedClient
}

type cachedClient struct {
	updatedAt time.Time
	client    *render.Client
}

// NewDispatcher validates cfg and builds a Dispatcher; Run starts it.
func NewDispatcher(deps DispatchDeps, cfg DispatchConfig) (*Dispatcher, error) {
	if cfg.Brokers == "" {
		return nil, errors.New("render-dispatch: no Kafka brokers configured")
	}
	if deps.Pool == nil || deps.Keyring == nil || deps.Validator == nil {
		return nil, errors.New("render-dispatch: Pool, Keyring and Validator are required")
	}
	cfg.Group = cmp.Or(cfg.Group, "strike-render-dispatch")
	cfg.ReplicaID = cmp.Or(cfg.ReplicaID, defaultReplicaID())
	cfg.Tick = cmp.Or(cfg.Tick, time.Second)
	cfg.Concurrency = cmp.Or(cfg.Concurrency, 16)
	cfg.CallTimeout = cmp.Or(cfg.CallTimeout, 30*time.Second)
	cfg.ClaimTTL = cmp.Or(cfg.ClaimTTL, 2*time.Minute)
	cfg.BackoffInitial = cmp.Or(cfg.BackoffInitial, 2*time.Second)
	cfg.BackoffMax = cmp.Or(cfg.BackoffMax, 5*time.Minute)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = NewHTTPClient()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch {
	case cfg.ClaimTTL <= cfg.CallTimeout:
		return nil, fmt.Errorf("render-dispatch: claim TTL %s must exceed the call timeout %s", cfg.ClaimTTL, cfg.CallTimeout)
	case cfg.Concurrency < 0:
		return nil, fmt.Errorf("render-dispatch: concurrency %d is negative", cfg.Concurrency)
	}
	return &Dispatcher{
		cfg: cfg, deps: deps, store: store{pool: deps.Pool},
		log:     deps.Log.With().Str(logging.FieldComponent, DispatchName).Str("replica", cfg.ReplicaID).Logger(),
		metrics: newDispatchMetrics(deps.Registry),
		nudge:   make(chan struct{}, 1),
		clients: map[string]cachedClient{},
	}, nil
}

// Run consumes eco.created and works the dispatch queue until ctx ends, then leaves the group.
func (d *Dispatcher) Run(ctx context.Context) error {
	opts := append(kafkaclient.Options(d.cfg.Brokers, d.cfg.Security, DispatchName, d.log, d.deps.Registry),
		kgo.ConsumerGroup(d.cfg.Group),
		kgo.ConsumeTopics(topics.ECOEvents),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), // eco.created is written transactionally
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
	)
	cl, err := kgo.NewClient(append(opts, d.cfg.KafkaOpts...)...)
	if err != nil {
		return fmt.Errorf("render-dispatch: kafka client: %w", err)
	}
	d.cl = cl
	defer cl.Close() // leaves the group
	d.log.Info().Str("group", d.cfg.Group).Msg("render-dispatch started")
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return d.consume(gctx) })
	g.Go(func() error { return d.work(gctx) })
	err = g.Wait()
	// Attempts cut short by the shutdown recorded nothing; free their claims so another
	// replica retries them at once rather than after ClaimTTL.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	if rerr := d.store.releaseClaims(rctx, d.cfg.ReplicaID); rerr != nil {
		d.log.Warn().Err(rerr).Msg("could not release dispatch claims; they lapse after the claim TTL")
	}
	cancel()
	d.log.Info().Msg("render-dispatch stopped")
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// consume queues each batch's eco.created events and commits the batch after.
func (d *Dispatcher) consume(ctx context.Context) error {
	// The shared consumer loop. A batch is queued (DLQ records produced, rows inserted) and
	// only then committed; a failure retries the same records after a backoff (nothing rewinds
	// them); an authentication or authorization failure stops the dispatch. A poll blocks
	// rebalances until AllowRebalance; leaving with one blocked would hang Close.
	return kafkaclient.Loop{
		Name: DispatchName, Log: d.log, SameBatch: true,
		Poll: func(ctx context.Context) kgo.Fetches { return d.cl.PollRecords(ctx, 500) },
		Handle: func(ctx context.Context, recs []*kgo.Record) error {
			if err := d.queue(ctx, recs); err != nil {
				return kafkaclient.Transient(err)
			}
			if err := d.cl.CommitRecords(ctx, recs...); err != nil && ctx.Err() == nil {
				if fe := kafkaclient.Fatal(err); fe != nil {
					return fe
				}
				// The batch is durable in the queue; a redelivery after a failed commit is a no-op.
				d.log.Warn().Err(err).Msg("offset commit failed; the batch may be redelivered (harmless)")
			}
			select {
			case d.nudge <- struct{}{}:
			default:
			}
			return nil
		},
		AfterPoll: d.cl.AllowRebalance,
	}.Run(ctx)
}

// queue makes one batch durable: DLQ records produced, dispatch rows inserted.
func (d *Dispatcher) queue(ctx context.Context, recs []*kgo.Record) error {
	var (
		rows []dispatchRow
		dead []*kgo.Record
	)
	now := d.cfg.Now()
	for _, r := range recs {
		if typ, _ := cloudevents.Header(r, cloudevents.HeaderType); typ != schemas.TypeECOCreated {
			continue // rejections, cancels and the rest are for other consumers
		}
		var ev schemas.ECOCreated
		if err := d.deps.Validator.Decode(schemas.TypeECOCreated, r.Value, &ev); err != nil {
			dead = append(dead, dlq.Record(DispatchName, r, dlq.Reason(err), err, now))
			continue
		}
		rows = append(rows, dispatchRow{
			ECOID: ev.ECOID, NOCTenantID: ev.NOCTenantID, OSPTenantID: ev.OSPTenantID, JobNumber: ev.JobNumber,
			Region: ev.Region, Title: truncate(ev.Summary, 200), Description: description(ev), Address: cmp.Or(ev.Site.Address, ev.Site.Name),
		})
	}
	if len(dead) > 0 {
		if err := d.cl.ProduceSync(ctx, dead...).FirstErr(); err != nil {
			return fmt.Errorf("produce DLQ records: %w", err)
		}
		d.metrics.dlq.Add(float64(len(dead)))
		d.metrics.dlqRecords.Count(dead...)
	}
	if err := d.store.enqueueDispatches(ctx, rows); err != nil {
		return err
	}
	d.metrics.enqueued.Add(float64(len(rows)))
	return nil
}

func description(ev schemas.ECOCreated) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Strike ECO %s (%s) for %s: %s at %s", ev.JobNumber, ev.Priority, ev.NOCTenantID, ev.Summary, ev.Site.Name)
	if ev.NOCTicketRef != "" {
		fmt.Fprintf(&b, "; NOC ticket %s", ev.NOCTicketRef)
	}
	return truncate(b.String(), 2000)
}

// work claims due dispatches and attempts them, at most Concurrency at a time.
func (d *Dispatcher) work(ctx context.Context) error {
	sem := make(chan struct{}, d.cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(d.cfg.Tick)
	defer t.Stop()
	for {
		if free := cap(sem) - len(sem); free > 0 {
			rows, err := d.store.claimDispatches(ctx, d.cfg.ReplicaID, free, d.cfg.ClaimTTL)
			if err != nil && ctx.Err() == nil {
				d.log.Warn().Err(err).Msg("could not claim dispatches")
			}
			for _, row := range rows {
				sem <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					d.attempt(ctx, row)
				}()
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-d.nudge:
		}
	}
}

// attempt makes one try at creating an ECO's Render job and records the outcome.
func (d *Dispatcher) attempt(ctx context.Context, row dispatchRow) {
	start := time.Now()
	n := row.Attempts + 1
	log := d.log.With().Str(logging.FieldECO, row.ECOID).Str(logging.FieldOSP, row.OSPTenantID).
		Str(logging.FieldNOC, row.NOCTenantID).Str("job_number", row.JobNumber).Int("attempt", n).Logger()
	out := d.try(ctx, row)
	if ctx.Err() != nil {
		return // shutting down: the claim lapses and another attempt is made
	}
	if out.State == "pending" {
		out.RetryIn = d.retryDelay(n)
	}
	ev := schemas.RenderDispatch{
		ECOID: row.ECOID, NOCTenantID: row.NOCTenantID, OSPTenantID: row.OSPTenantID, JobNumber: row.JobNumber,
		RenderJobID: out.RenderJobID, Result: out.Result, Error: out.Error, Attempt: n, At: d.cfg.Now().UTC(),
	}
	value, err := json.Marshal(ev)
	if err != nil {
		log.Error().Err(err).Msg("marshal dispatch event")
		return
	}
	rec := cloudevents.Record(topics.RenderChanges, row.OSPTenantID, cloudevents.Event{
		ID: ids.EventID(schemas.TypeRenderDispatch, row.ECOID, strconv.Itoa(n)), Type: schemas.TypeRenderDispatch,
		Source: "strike/" + DispatchName, Subject: row.ECOID, Time: ev.At,
	}, value)
	// Render has answered: finish the attempt even if a shutdown began meanwhile, so a clean stop
	// never leaves an attempt published but unrecorded (the next replica would publish it again).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := d.cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		// Not recorded: the claim lapses and the attempt is repeated (CreateJob finds the job).
		log.Warn().Err(err).Msg("could not produce the dispatch event; the attempt will be repeated")
		return
	}
	if err := d.store.finishDispatch(ctx, d.cfg.ReplicaID, row.ECOID, out); err != nil {
		log.Warn().Err(err).Msg("could not record the dispatch outcome; the attempt will be repeated")
		return
	}
	d.metrics.results.WithLabelValues(out.Result).Inc()
	d.metrics.seconds.Observe(time.Since(start).Seconds())
	switch out.Result {
	case schemas.DispatchFailed:
		log.Warn().Str("error", out.Error).Dur("retry_in", out.RetryIn).Msg("render job not created; retrying later")
	case schemas.DispatchNoInstance:
		log.Info().Msg("OSP has no Render instance; no field job created")
	default:
		log.Info().Str("result", out.Result).Str("render_job_id", out.RenderJobID).Str("instance", out.InstanceID).Msg("render job dispatched")
	}
}

// try calls Render; every failure becomes a pending outcome to retry.
func (d *Dispatcher) try(ctx context.Context, row dispatchRow) dispatchOutcome {
	failed := func(instanceID string, err error) dispatchOutcome {
		return dispatchOutcome{State: "pending", Result: schemas.DispatchFailed, InstanceID: instanceID, Error: err.Error()}
	}
	inst, ok, err := d.store.instanceForOSP(ctx, row.OSPTenantID, row.Region)
	if err != nil {
		return failed("", err)
	}
	if !ok {
		return dispatchOutcome{State: "no_instance", Result: schemas.DispatchNoInstance}
	}
	c, err := d.client(inst)
	if err != nil {
		return failed(inst.ID, err)
	}
	cctx, cancel := context.WithTimeout(ctx, d.cfg.CallTimeout)
	defer cancel()
	job, created, err := c.CreateJob(cctx, render.JobSpec{
		ExternalRef: row.JobNumber, Title: row.Title, Description: row.Description, Region: row.Region, Address: row.Address,
	})
	if err != nil {
		return failed(inst.ID, err)
	}
	out := dispatchOutcome{State: "done", Result: schemas.DispatchExisting, InstanceID: inst.ID, RenderJobID: job.ID}
	if created {
		out.Result = schemas.DispatchCreated
	}
	return out
}

// client returns the cached client of an instance, rebuilt when the instance changed.
func (d *Dispatcher) client(r instanceRow) (*render.Client, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.clients[r.ID]; ok && c.updatedAt.Equal(r.UpdatedAt) {
		return c.client, nil
	}
	log := d.log.With().Str("instance", r.ID).Str(logging.FieldOSP, r.OSPTenantID).Logger()
	c, err := newClient(r, d.deps.Keyring, d.cfg.Render, d.cfg.HTTPClient, d.cfg.Now, log)
	if err != nil {
		return nil, err
	}
	d.clients[r.ID] = cachedClient{updatedAt: r.UpdatedAt, client: c}
	return c, nil
}

// retryDelay is the wait after failed attempt n.
func (d *Dispatcher) retryDelay(n int) time.Duration {
	delay := min(d.cfg.BackoffInitial<<min(n-1, 20), d.cfg.BackoffMax)
	return time.Duration(float64(delay) * (0.8 + 0.4*mrand.Float64()))
}
