// Package renderpoller follows each OSP's field jobs in its Render instance and creates the
// Render job of every new ECO (DESIGN §3, render-poller).
//
// Poller polls every enabled instance in render_instances on that instance's own interval with
// its own credentials (the client secret is sealed with internal/secrets and opened only in
// memory), publishes each job revision to strike.render.changes.v1 keyed by the OSP, and stores
// the instance's cursor only after the poll's events are durably produced: a crash in between
// repeats the read, and the repeat carries the same ce_id, so nothing is lost and a duplicate
// is recognisable.
//
// Replicas share instances through PostgreSQL leases (render_poll_state.owner/lease_until):
// every LeaseTick a replica, in one transaction, writes its heartbeat, renews its leases, gives
// back what exceeds its fair share and takes lapsed leases up to it. A replica polls only
// while its leases are valid by its own clock (with a margin), so in steady state exactly one
// replica polls an instance. A dead replica's leases lapse after LeaseTTL and are taken at the
// next tick of a live replica: an instance is polled again within LeaseTTL + LeaseTick +
// StartSpread + one poll (docs/operations.md).
//
// Each owned instance has its own goroutine and timer; a failing instance backs off alone
// (exponential per instance, honouring Retry-After), every poll has a timeout, and a bounded
// number of polls run at once, so one slow or broken instance never delays the others.
//
// Dispatcher (dispatch.go) creates Render jobs for eco.created events.
package renderpoller

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/logging"
	"github.com/osprey-strike/strike/internal/render"
	"github.com/osprey-strike/strike/internal/secrets"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

// Name is the component name used in logs, metrics and ce_source.
const Name = "render-poller"

// Defaults of Config's zero fields.
const (
	// DefaultLeaseTTL bounds takeover after a replica dies: its instances are polled again
	// within LeaseTTL + LeaseTick + StartSpread + one poll, 5 + 1.7 + 2 s, inside the 10 s
	// failover target (BenchmarkFailover in cmd/strike); 15 s took 15.8 s.
	DefaultLeaseTTL           = 5 * time.Second
	DefaultPollTimeout        = 60 * time.Second
	DefaultMaxConcurrentPolls = 256
	DefaultMaxBackoff         = 5 * time.Minute
	DefaultStartSpread        = 2 * time.Second
)

// Config configures a Poller. Zero values take the documented defaults.
type Config struct {
	// Brokers is a comma-separated seed list. Required.
	Brokers string
	// Security is how the clients authenticate and protect the wire (kafkaclient.Settings.Load);
	// the zero value is plaintext.
	Security kafkaclient.Security
	// ReplicaID names this replica in leases; it must be unique among live replicas. Default
	// "<hostname>-<pid>-<random>", which is unique per process start: a restarted replica does
	// not inherit its predecessor's leases, it takes them after they lapse or are released.
	ReplicaID string
	// LeaseTTL is how long a lease lasts without renewal (default 5 s); LeaseTick how often
	// leases are renewed and rebalanced (default LeaseTTL/3).
	LeaseTTL  time.Duration
	LeaseTick time.Duration
	// PollTimeout bounds one poll: every page, retries included (default 60 s).
	PollTimeout time.Duration
	// MaxConcurrentPolls bounds the polls in flight (default 256).
	MaxConcurrentPolls int
	// MaxBackoff caps a failing instance's exponential backoff (default 5 min). A longer
	// Retry-After from Render is still honoured.
	MaxBackoff time.Duration
	// StartSpread: an instance's first poll after this replica takes it waits a random time
	// below min(StartSpread, its interval) (default 2 s), so a start does not fire every poll
	// at once.
	StartSpread time.Duration
	// Render shapes each instance's client: timeouts, retries, page size. BaseURL, ClientID,
	// ClientSecret and Now are filled in per instance.
	Render render.InstanceConfig
	// HTTPClient is shared by every instance's client (default: a transport that keeps enough
	// idle connections for many instances on one host).
	HTTPClient *http.Client
	// Now is the clock for detected_at and token expiry (default time.Now). Leases and poll
	// timers use real time.
	Now func() time.Time
	// KafkaOpts are appended to the producer's options.
	KafkaOpts []kgo.Opt
}

// Deps are the Poller's collaborators.
type Deps struct {
	Pool     *pgxpool.Pool
	Keyring  *secrets.Keyring
	Log      zerolog.Logger
	Registry prometheus.Registerer // may be nil
}

// Poller polls the Render instances this replica holds leases on.
type Poller struct {
	cfg     Config
	deps    Deps
	store   store
	log     zerolog.Logger
	metrics *metrics
	sem     chan struct{}

	prod *kgo.Client

	// leaseDeadline (unix nanoseconds) is when this replica's leases may have lapsed, by its
	// own clock; workers do not poll after it.
	leaseDeadline atomic.Int64
	workers       map[string]*worker
	wg            sync.WaitGroup

	abandonLeases bool   // test hook: exit like a crashed replica, leases left to lapse
	afterProduce  func() // test hook: runs between producing a poll's events and saving its cursor
}

// New validates cfg and builds a Poller; Run starts it.
func New(deps Deps, cfg Config) (*Poller, error) {
	if cfg.Brokers == "" {
		return nil, errors.New("render-poller: no Kafka brokers configured")
	}
	if deps.Pool == nil || deps.Keyring == nil {
		return nil, errors.New("render-poller: Pool and Keyring are required")
	}
	cfg.ReplicaID = cmp.Or(cfg.ReplicaID, defaultReplicaID())
	cfg.LeaseTTL = cmp.Or(cfg.LeaseTTL, DefaultLeaseTTL)
	cfg.LeaseTick = cmp.Or(cfg.LeaseTick, cfg.LeaseTTL/3)
	cfg.PollTimeout = cmp.Or(cfg.PollTimeout, DefaultPollTimeout)
	cfg.MaxConcurrentPolls = cmp.Or(cfg.MaxConcurrentPolls, DefaultMaxConcurrentPolls)
	cfg.MaxBackoff = cmp.Or(cfg.MaxBackoff, DefaultMaxBackoff)
	cfg.StartSpread = cmp.Or(cfg.StartSpread, DefaultStartSpread)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = NewHTTPClient()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch {
	case cfg.LeaseTTL < time.Second:
		return nil, fmt.Errorf("render-poller: lease TTL %s is below 1s", cfg.LeaseTTL)
	case cfg.LeaseTick <= 0 || cfg.LeaseTick > cfg.LeaseTTL/2:
		return nil, fmt.Errorf("render-poller: lease tick %s must be at most half the lease TTL %s, so a lease is renewed before it lapses", cfg.LeaseTick, cfg.LeaseTTL)
	case cfg.MaxConcurrentPolls < 0:
		return nil, fmt.Errorf("render-poller: max concurrent polls %d is negative", cfg.MaxConcurrentPolls)
	}
	return &Poller{
		cfg:     cfg,
		deps:    deps,
		store:   store{pool: deps.Pool},
		log:     deps.Log.With().Str(logging.FieldComponent, Name).Str("replica", cfg.ReplicaID).Logger(),
		metrics: newMetrics(deps.Registry),
		sem:     make(chan struct{}, cfg.MaxConcurrentPolls),
		workers: map[string]*worker{},
	}, nil
}

// NewHTTPClient returns the HTTP client the poller and the dispatch share by default: many idle
// connections per host, because every simulator instance (and some Render tenants) share one.
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 2048
	t.MaxIdleConnsPerHost = 512
	t.IdleConnTimeout = 2 * time.Minute
	return &http.Client{Transport: t}
}

func defaultReplicaID() string {
	host, _ := os.Hostname()
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", cmp.Or(host, "replica"), os.Getpid(), hex.EncodeToString(b[:]))
}

// ReplicaID is this replica's id in leases.
func (p *Poller) ReplicaID() string { return p.cfg.ReplicaID }

// Run polls until ctx ends. On a clean shutdown it stops every poll and gives its leases
// back, so other replicas take the instances at their next tick. It returns an error only
// if the Kafka client cannot be built.
func (p *Poller) Run(ctx context.Context) error {
	opts := append(kafkaclient.Options(p.cfg.Brokers, p.cfg.Security, Name, p.log, p.deps.Registry),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.DefaultProduceTopic(topics.RenderChanges),
	)
	prod, err := kgo.NewClient(append(opts, p.cfg.KafkaOpts...)...)
	if err != nil {
		return fmt.Errorf("render-poller: kafka client: %w", err)
	}
	defer prod.Close()
	p.prod = prod
	p.log.Info().Dur("lease_ttl", p.cfg.LeaseTTL).Dur("lease_tick", p.cfg.LeaseTick).Msg("render-poller started")

	wctx, stopWorkers := context.WithCancel(ctx)
	defer stopWorkers()
	t := time.NewTicker(p.cfg.LeaseTick)
	defer t.Stop()
	for {
		p.tick(ctx, wctx)
		select {
		case <-ctx.Done():
			stopWorkers()
			p.wg.Wait()
			if !p.abandonLeases {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				if err := p.store.releaseAll(rctx, p.cfg.ReplicaID); err != nil {
					p.log.Warn().Err(err).Msg("could not give leases back; they lapse after the lease TTL")
				}
				cancel()
			}
			p.log.Info().Msg("render-poller stopped")
			return nil
		case <-t.C:
		}
	}
}

// tick runs one lease round and starts or stops workers to match the leases held.
func (p *Poller) tick(ctx, wctx context.Context) {
	start := time.Now()
	leases, err := p.store.leaseTick(ctx, p.cfg.ReplicaID, p.cfg.LeaseTTL)
	if err != nil {
		if ctx.Err() == nil {
			p.metrics.leaseErrors.Inc()
			p.log.Warn().Err(err).Msg("lease round failed; polling stops when the current leases lapse")
		}
		return
	}
	// The database set lease_until = its now() + TTL, which is no earlier than start + TTL;
	// the margin covers clock-rate differences.
	p.leaseDeadline.Store(start.Add(p.cfg.LeaseTTL - p.cfg.LeaseTTL/10).UnixNano())

	owned := make(map[string]lease, len(leases))
	for _, l := range leases {
		owned[l.ID] = l
	}
	prevDone := map[string]chan struct{}{}
	for id, w := range p.workers {
		l, ok := owned[id]
		if ok && l.UpdatedAt.Equal(w.l.UpdatedAt) {
			continue
		}
		w.cancel()
		delete(p.workers, id)
		prevDone[id] = w.done
		if !ok {
			p.metrics.leaseChanges.WithLabelValues("released").Inc()
			p.log.Info().Str("instance", id).Str(logging.FieldOSP, w.l.OSPTenantID).Msg("render instance given up")
		}
	}
	for id, l := range owned {
		if _, ok := p.workers[id]; ok {
			continue
		}
		prev := prevDone[id]
		w := &worker{p: p, l: l, done: make(chan struct{}),
			log: p.log.With().Str("instance", id).Str(logging.FieldOSP, l.OSPTenantID).Logger()}
		var wc context.Context
		wc, w.cancel = context.WithCancel(wctx)
		p.workers[id] = w
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer close(w.done)
			if prev != nil {
				<-prev // the previous worker of this instance (config changed) finishes its poll first
			}
			w.run(wc)
		}()
		if _, reconfigured := prevDone[id]; !reconfigured {
			p.metrics.leaseChanges.WithLabelValues("acquired").Inc()
			w.log.Info().Msg("render instance taken")
		}
	}
	p.metrics.owned.Set(float64(len(p.workers)))
}

func (p *Poller) leaseValid() bool { return time.Now().UnixNano() < p.leaseDeadline.Load() }

// Ready reports whether the replica's last lease round is recent enough for it to poll: false
// before the first round and when PostgreSQL has been unreachable for about a lease TTL. It
// fits opsserver's /readyz checks.
func (p *Poller) Ready(context.Context) error {
	if !p.leaseValid() {
		return errors.New("no successful lease round within the lease TTL")
	}
	return nil
}

// worker polls one instance while this replica holds its lease.
type worker struct {
	p      *Poller
	l      lease
	log    zerolog.Logger
	cancel context.CancelFunc
	done   chan struct{}
}

func (w *worker) run(ctx context.Context) {
	p, interval := w.p, w.l.PollInterval
	delay := time.Duration(mrand.Int64N(int64(max(min(interval, p.cfg.StartSpread), 1))))
	var (
		client   *render.Client
		cursor   string
		loaded   bool
		failures int
		timer    = time.NewTimer(delay)
	)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		start := time.Now()
		if !p.leaseValid() {
			timer.Reset(p.cfg.LeaseTick)
			continue
		}
		result, err := func() (string, error) {
			if !loaded {
				c, _, err := p.store.pollState(ctx, w.l.ID)
				if err != nil {
					return resultStore, err
				}
				cursor, loaded = c, true
			}
			if client == nil {
				c, err := newClient(w.l.instanceRow, p.deps.Keyring, p.cfg.Render, p.cfg.HTTPClient, p.cfg.Now, w.log)
				if err != nil {
					return resultCredentials, err
				}
				client = c
			}
			select {
			case p.sem <- struct{}{}:
			case <-ctx.Done():
				return "", ctx.Err()
			}
			defer func() { <-p.sem }()
			return w.poll(ctx, client, &cursor, failures > 0)
		}()
		if ctx.Err() != nil {
			return
		}
		p.metrics.polls.WithLabelValues(w.l.ID, result).Inc()
		p.metrics.pollSeconds.Observe(time.Since(start).Seconds())
		if err == nil {
			failures = 0
			timer.Reset(max(time.Until(start.Add(interval)), 0))
			continue
		}
		if errors.Is(err, errLeaseLost) {
			loaded = false // read the stored cursor again: another replica may have moved it
		}
		failures++
		wait := p.backoff(interval, failures, err)
		w.log.Warn().Str("result", result).Int("failures", failures).Dur("retry_in", wait).Str("error", err.Error()).
			Msg("render poll failed; this instance backs off")
		nctx, ncancel := context.WithTimeout(ctx, 5*time.Second)
		if nerr := p.store.noteFailure(nctx, p.cfg.ReplicaID, w.l.ID, result, err.Error()); nerr != nil && ctx.Err() == nil {
			w.log.Warn().Err(nerr).Msg("could not record the poll failure")
		}
		ncancel()
		timer.Reset(wait)
	}
}

// errLeaseLost: the poll stopped, or its cursor was not saved, because this replica's lease
// may have lapsed, another replica owns the instance, or the stored cursor moved meanwhile.
var errLeaseLost = errors.New("lease lost (lapsed, taken, or the stored cursor moved) before the poll finished")

// withinLease returns ctx cancelled (cause errLeaseLost) once this replica's leases may have
// lapsed; lease rounds that succeed meanwhile extend it. A poll never outlives its lease, so it
// never produces while another replica polls the same instance.
func (p *Poller) withinLease(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := make(chan struct{})
	go func() {
		t := time.NewTimer(time.Until(time.Unix(0, p.leaseDeadline.Load())))
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				left := time.Until(time.Unix(0, p.leaseDeadline.Load()))
				if left <= 0 {
					cancel(errLeaseLost)
					return
				}
				t.Reset(left)
			}
		}
	}()
	return ctx, func() { close(stop); cancel(nil) }
}

// poll reads the feed after *cursor, produces one event per revision and then saves the new
// cursor. The order matters: a crash after producing and before saving repeats the read, and
// the repeated events carry the same ce_ids.
func (w *worker) poll(ctx context.Context, c *render.Client, cursor *string, dirty bool) (string, error) {
	p := w.p
	ctx, cancel := context.WithTimeout(ctx, p.cfg.PollTimeout)
	defer cancel()
	ctx, stop := p.withinLease(ctx)
	defer stop()
	ch, err := c.ChangedJobs(ctx, *cursor)
	if errors.Is(err, render.ErrInvalidCursor) && *cursor != "" {
		// Render no longer honours the cursor (another instance behind the URL, or a Render
		// restore). Reading from the start repeats changes under the same ids, which
		// consumers drop; skipping ahead could lose one.
		p.metrics.polls.WithLabelValues(w.l.ID, resultInvalidCursor).Inc()
		w.log.Warn().Msg("render refused the stored cursor; reading the feed from its start")
		ch, err = c.ChangedJobs(ctx, "")
	}
	if err != nil {
		if errors.Is(context.Cause(ctx), errLeaseLost) {
			return resultLeaseLost, fmt.Errorf("%w: %w", errLeaseLost, err)
		}
		return classify(err), err
	}
	detected := p.cfg.Now()
	if len(ch.Jobs) > 0 {
		recs, err := w.records(ctx, ch.Jobs, detected)
		if err != nil {
			return resultStore, err
		}
		if !p.leaseValid() {
			return resultLeaseLost, errLeaseLost
		}
		if err := p.prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			if errors.Is(context.Cause(ctx), errLeaseLost) {
				return resultLeaseLost, fmt.Errorf("%w: %w", errLeaseLost, err)
			}
			return resultProduce, fmt.Errorf("produce %d change events: %w", len(recs), err)
		}
		if p.afterProduce != nil {
			p.afterProduce()
		}
		p.metrics.changes.WithLabelValues(w.l.ID).Add(float64(len(recs)))
		for _, j := range ch.Jobs {
			p.metrics.lagSeconds.Observe(max(detected.Sub(j.UpdatedAt).Seconds(), 0))
		}
		w.log.Debug().Int("changes", len(recs)).Int("pages", ch.Pages).Int("duplicates", ch.Duplicates).Msg("render changes published")
	}
	next := cmp.Or(ch.NextCursor, *cursor)
	if next == *cursor && !dirty {
		return resultOK, nil // nothing new to store
	}
	ok, err := p.store.saveCursor(ctx, p.cfg.ReplicaID, w.l.ID, *cursor, next)
	if err != nil {
		return resultStore, err
	}
	if !ok {
		return resultLeaseLost, errLeaseLost
	}
	*cursor = next
	return resultOK, nil
}

// records builds the change events of one poll, with the ECO's ids where the job's external
// reference is one of the OSP's Strike job numbers.
func (w *worker) records(ctx context.Context, jobs []render.Job, detected time.Time) ([]*kgo.Record, error) {
	var refs []string
	seen := map[string]bool{}
	for _, j := range jobs {
		if j.ExternalRef != "" && !seen[j.ExternalRef] {
			seen[j.ExternalRef] = true
			refs = append(refs, j.ExternalRef)
		}
	}
	ecos := map[string]ecoRef{}
	if len(refs) > 0 {
		var err error
		if ecos, err = w.p.store.ecosByJobNumber(ctx, w.l.OSPTenantID, refs); err != nil {
			return nil, err
		}
	}
	out := make([]*kgo.Record, 0, len(jobs))
	for _, j := range jobs {
		id := ids.EventID(schemas.TypeRenderJobChanged, w.l.ID, j.ID, fmt.Sprint(j.Version))
		ev := schemas.RenderJobChanged{
			ChangeID: id, OSPTenantID: w.l.OSPTenantID, InstanceID: w.l.ID, RenderJobID: j.ID,
			ExternalRef: j.ExternalRef, Status: string(j.Status), Assignee: j.Assignee, Version: j.Version,
			UpdatedAt: j.UpdatedAt.UTC(), DetectedAt: detected.UTC(),
		}
		subject := j.ID
		if e, ok := ecos[j.ExternalRef]; ok {
			ev.ECOID, ev.NOCTenantID, ev.JobNumber = e.ECOID, e.NOCTenantID, j.ExternalRef
			subject = e.ECOID
		}
		value, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("marshal change event: %w", err)
		}
		out = append(out, cloudevents.Record(topics.RenderChanges, w.l.OSPTenantID, cloudevents.Event{
			ID: id, Type: schemas.TypeRenderJobChanged, Source: "strike/" + Name, Subject: subject, Time: j.UpdatedAt,
		}, value))
	}
	return out, nil
}

// backoff is how long a failing instance waits: its interval doubled per consecutive failure,
// capped at MaxBackoff, ±20 % jitter so instances failing together do not retry together, and
// never shorter than a Retry-After Render asked for.
func (p *Poller) backoff(interval time.Duration, failures int, err error) time.Duration {
	d := interval << min(failures, 20)
	d = min(max(d, interval), max(p.cfg.MaxBackoff, interval))
	d = time.Duration(float64(d) * (0.8 + 0.4*mrand.Float64()))
	if ra, ok := render.RetryAfter(err); ok {
		d = max(d, ra)
	}
	return d
}

// classify names a failed poll's result for the metrics.
func classify(err error) string {
	switch {
	case errors.Is(err, render.ErrUnavailable):
		return resultUnavailable
	case errors.Is(err, render.ErrRateLimited):
		return resultRateLimited
	case errors.Is(err, render.ErrUnauthorized):
		return resultUnauthorized
	case errors.Is(err, render.ErrMalformed):
		return resultMalformed
	case errors.Is(err, render.ErrInvalidCursor):
		return resultInvalidCursor
	}
	return resultError
}

// newClient opens an instance's secret and builds its Render client. The secret stays in
// memory as a secrets.Secret; errors name the instance and the key id, never the value.
func newClient(r instanceRow, kr *secrets.Keyring, base render.InstanceConfig, hc *http.Client, now func() time.Time, log zerolog.Logger) (*render.Client, error) {
	secret, err := kr.Open(r.Sealed, secrets.RenderSecretAAD(r.OSPTenantID, r.ID, r.BaseURL, r.ClientID))
	if err != nil {
		if errors.Is(err, secrets.ErrDecrypt) {
			if _, lerr := kr.Open(r.Sealed, secrets.RenderSecretAADv1(r.OSPTenantID, r.ID)); lerr == nil {
				return nil, fmt.Errorf("open the client secret of render instance %s: %w: sealed before secrets were bound to the base URL and client id; run 'strike admin render rotate-keys'", r.ID, err)
			}
		}
		return nil, fmt.Errorf("open the client secret of render instance %s: %w", r.ID, err)
	}
	cfg := base
	cfg.BaseURL, cfg.ClientID, cfg.ClientSecret, cfg.Now = r.BaseURL, r.ClientID, secret, now
	c, err := render.New(cfg, hc, log)
	if err != nil {
		return nil, fmt.Errorf("render instance %s: %w", r.ID, err)
	}
	return c, nil
}
