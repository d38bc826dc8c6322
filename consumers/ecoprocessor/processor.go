// Package ecoprocessor turns ECO requests into ECOs with the OSP's next job number, exactly once.
//
// It consumes strike.eco.requests.v1 read-committed in a franz-go GroupTransactSession. Each
// polled batch is decided in one PostgreSQL round trip (allocate_jobs) and its outputs (eco.created,
// eco.rejected, DLQ records) are produced in one Kafka transaction together with the batch's
// offsets. PostgreSQL commits first; if the Kafka transaction then aborts or the process dies, the
// batch is redelivered and allocate_jobs hands every request the number it already had, so
// numbers stay contiguous, in request order, and never duplicated (DESIGN §3).
package ecoprocessor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/dlq"
	"github.com/osprey-strike/strike/internal/engagement"
	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/logging"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

// Name is the component name used in logs, metrics, ce_source and DLQ records.
const Name = "eco-processor"

// Config configures a Processor. Zero values take the documented defaults.
type Config struct {
	// Brokers is a comma-separated seed list. Required.
	Brokers string
	// Security is how the clients authenticate and protect the wire (kafkaclient.Settings.Load);
	// the zero value is plaintext.
	Security kafkaclient.Security
	// Group is the consumer group; default "strike-eco-processor".
	Group string
	// TransactionalID must be unique per live replica; a stable id (a pod name) lets a restarted
	// replica abort its predecessor's open transaction at once instead of waiting for the
	// transaction timeout. Default "strike-eco-processor-<hostname>".
	TransactionalID string
	// MaxPollRecords bounds a batch; default 2000. Larger batches spread the fixed cost of a
	// transaction and of the allocation statement over more requests.
	MaxPollRecords int
	// Guardrails bound engagement overrides; default engagement.Defaults().
	Guardrails *engagement.Guardrails
	// Now is the clock; default time.Now.
	Now func() time.Time
	// KafkaOpts are appended to the client options (tests shorten timeouts with them).
	KafkaOpts []kgo.Opt
}

// Deps are the Processor's collaborators.
type Deps struct {
	Store     Store
	Validator *schemas.Validator
	Log       zerolog.Logger
	Registry  prometheus.Registerer // may be nil
}

// Processor is the eco-processor.
type Processor struct {
	cfg     Config
	deps    Deps
	log     zerolog.Logger
	metrics *metrics

	beforeCommit func() // test hook; nil in production

	// partitions is the partition count of strike.eco.requests.v1, read at start and again
	// when a record shows a partition beyond it; 0 (unknown) skips the partition check.
	partitions int
	// keyPartitioner is franz-go's default partitioner (Kafka's murmur2 over the key), the one
	// every producer of requests must use; see misplaced.
	keyPartitioner kgo.TopicPartitioner
}

// New validates cfg and builds a Processor; Run starts it.
func New(deps Deps, cfg Config) (*Processor, error) {
	if cfg.Brokers == "" {
		return nil, errors.New("eco-processor: no Kafka brokers configured")
	}
	if deps.Store == nil || deps.Validator == nil {
		return nil, errors.New("eco-processor: Store and Validator are required")
	}
	if cfg.Group == "" {
		cfg.Group = "strike-eco-processor"
	}
	if cfg.TransactionalID == "" {
		host, _ := os.Hostname()
		cfg.TransactionalID = "strike-eco-processor-" + host
	}
	if cfg.MaxPollRecords <= 0 {
		cfg.MaxPollRecords = 2000
	}
	if cfg.Guardrails == nil {
		g := engagement.Defaults()
		cfg.Guardrails = &g
	}
	if err := cfg.Guardrails.Validate(); err != nil {
		return nil, fmt.Errorf("eco-processor: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Processor{
		cfg:            cfg,
		deps:           deps,
		log:            deps.Log.With().Str(logging.FieldComponent, Name).Logger(),
		metrics:        newMetrics(deps.Registry),
		keyPartitioner: kgo.StickyKeyPartitioner(nil).ForTopic(topics.ECORequests),
	}, nil
}

// Run consumes until ctx ends, then aborts any open transaction and leaves the group. It
// returns nil on a clean shutdown and an error when the Kafka client has failed in a way a
// restart must fix (for example a fenced transactional id).
func (p *Processor) Run(ctx context.Context) error {
	opts := append(kafkaclient.Options(p.cfg.Brokers, p.cfg.Security, Name, p.log, p.deps.Registry),
		kgo.ConsumerGroup(p.cfg.Group),
		// The internal requests topic (HTTP intake, failover) and every NOC's ingress topic.
		kgo.ConsumeRegex(),
		kgo.ConsumeTopics("^"+regexp.QuoteMeta(topics.ECORequests)+"$", topics.IngressPattern),
		kgo.TransactionalID(p.cfg.TransactionalID),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		// Outputs are flushed by the transaction's end anyway; lingering would only add its
		// 10 ms default to every batch's latency while we wait for the produce results.
		kgo.ProducerLinger(0),
	)
	opts = append(opts, p.cfg.KafkaOpts...)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("eco-processor: kafka client: %w", err)
	}
	defer sess.Close()
	p.log.Info().Str("group", p.cfg.Group).Str("transactional_id", p.cfg.TransactionalID).Msg("eco-processor started")

	// The shared consumer loop: a Transient failure aborts the transaction (the offsets rewind,
	// the batch comes again) and backs off; an authentication or authorization failure, or an
	// unexpected one (a fenced transactional id), stops the replica.
	err = kafkaclient.Loop{
		Name: "eco-processor", Log: p.log,
		Poll: func(ctx context.Context) kgo.Fetches { return sess.PollRecords(ctx, p.cfg.MaxPollRecords) },
		Handle: func(ctx context.Context, recs []*kgo.Record) error {
			committed, err := p.transact(ctx, sess, recs)
			if err == nil && !committed {
				// A rebalance took our partitions mid-batch: the new owner redoes the batch.
				p.log.Info().Int("records", len(recs)).Msg("transaction aborted by a rebalance; batch left to the new owner")
			}
			return err
		},
	}.Run(ctx)
	p.log.Info().Msg("eco-processor stopping")
	return err
}

// transact handles one polled batch in one Kafka transaction.
func (p *Processor) transact(ctx context.Context, sess *kgo.GroupTransactSession, recs []*kgo.Record) (bool, error) {
	start := time.Now()
	if err := sess.Begin(); err != nil {
		return false, fmt.Errorf("begin transaction: %w", err)
	}
	if err := p.learnPartitions(ctx, kadm.NewClient(sess.Client()), recs); err != nil {
		return false, abort(ctx, sess, err)
	}
	outs, counts, err := p.decide(ctx, recs)
	if err != nil {
		p.metrics.dbErrors.Inc()
		return false, abort(ctx, sess, err)
	}

	var (
		mu         sync.Mutex
		produceErr error
		wg         sync.WaitGroup
	)
	for _, r := range outs {
		wg.Add(1)
		sess.Produce(ctx, r, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				produceErr = errors.Join(produceErr, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if produceErr != nil {
		return false, abort(ctx, sess, fmt.Errorf("produce: %w", produceErr))
	}
	if p.beforeCommit != nil {
		p.beforeCommit()
	}
	committed, err := sess.End(context.WithoutCancel(ctx), kgo.TryCommit)
	if err != nil {
		p.metrics.transactions.WithLabelValues("failed").Inc()
		return false, fmt.Errorf("end transaction: %w", err)
	}
	if !committed {
		p.metrics.transactions.WithLabelValues("aborted").Inc()
		return false, nil
	}
	p.metrics.transactions.WithLabelValues("committed").Inc()
	p.metrics.batchSeconds.Observe(time.Since(start).Seconds())
	for outcome, n := range counts {
		p.metrics.records.WithLabelValues(outcome).Add(float64(n))
	}
	p.metrics.dlq.Count(outs...)
	return true, nil
}

// abort aborts the transaction after err, a failure a retry can fix: the offsets rewind and the
// batch comes again. A failed abort is returned as it is (the loop stops on it).
func abort(ctx context.Context, sess *kgo.GroupTransactSession, err error) error {
	if _, abortErr := sess.End(context.WithoutCancel(ctx), kgo.TryAbort); abortErr != nil {
		return fmt.Errorf("abort after %v: %w", err, abortErr)
	}
	return kafkaclient.Transient(err)
}

// learnPartitions reads the partition count of the requests topic when it is not known yet or
// a record shows a partition beyond it (partitions were added: see docs/topics.md).
func (p *Processor) learnPartitions(ctx context.Context, adm *kadm.Client, recs []*kgo.Record) error {
	highest := int32(-1)
	for _, r := range recs {
		highest = max(highest, r.Partition)
	}
	if int(highest) < p.partitions {
		return nil
	}
	details, err := adm.ListTopics(ctx, topics.ECORequests)
	if err != nil {
		return fmt.Errorf("partition count of %s: %w", topics.ECORequests, err)
	}
	d, ok := details[topics.ECORequests]
	if !ok || d.Err != nil {
		return fmt.Errorf("partition count of %s: %v", topics.ECORequests, d.Err)
	}
	if n := len(d.Partitions); n != p.partitions {
		p.log.Info().Int("partitions", n).Str("topic", topics.ECORequests).Msg("partition count read")
		p.partitions = n
	}
	return nil
}

// misplaced says why r is on another partition than franz-go's default partitioner (Kafka's
// murmur2 over the key, as the Java client) gives its key, or nil. Requests of one OSP must
// share a partition to be numbered in request order; a producer with another hash (librdkafka's
// default consistent_random is crc32) spreads them over several.
func (p *Processor) misplaced(r *kgo.Record) error {
	if p.partitions <= 0 || len(r.Key) == 0 {
		return nil
	}
	want := int32(p.keyPartitioner.Partition(&kgo.Record{Key: r.Key}, p.partitions))
	if want == r.Partition {
		return nil
	}
	return fmt.Errorf("record keyed %q is on partition %d, but Kafka's murmur2 hash of its key gives partition %d of %d, "+
		"so it could be numbered out of request order: produce with a murmur2 partitioner "+
		"(librdkafka/confluent-kafka partitioner=murmur2_random; the Java client's and franz-go's default)",
		r.Key, r.Partition, want, p.partitions)
}

// foreign rejects a request or cancel on a NOC's ingress topic whose body names another NOC
// (tenant_mismatch), or returns nil. The topic is what the broker let that NOC's principal
// write; the body proves nothing. The rejection belongs to the NOC that sent it: its tenant is
// the topic's, and its ECO id is a refusal's of that NOC (ids.RefusedECOID), so it can neither
// touch nor reveal the named NOC's ECO, nor the sender's own ECO under that request id.
func (p *Processor) foreign(r *kgo.Record, requestID, noc, osp string, now time.Time) *kgo.Record {
	sender, ok := topics.IngressNOC(r.Topic)
	if !ok || sender == noc {
		return nil
	}
	p.log.Warn().Str("topic", r.Topic).Str(logging.FieldNOC, sender).Str("named_noc", noc).Str("request_id", requestID).
		Msg("request names another NOC than its ingress topic's; rejected")
	ecoID := ids.RefusedECOID(sender, requestID, r.Value)
	return event(topics.ECOEvents, ecoID, schemas.TypeECORejected, now, schemas.ECORejected{
		ECOID: ecoID, RequestID: requestID, NOCTenantID: sender, OSPTenantID: osp,
		Reason:     schemas.ReasonTenantMismatch,
		Detail:     fmt.Sprintf("the request names NOC %q but arrived on %s, NOC %q's ingress topic", noc, r.Topic, sender),
		RejectedAt: now.UTC(),
	}, rejectionID(ecoID, sender, requestID, schemas.ReasonTenantMismatch)...)
}

// decision is what happens to one input record.
type decision struct {
	in     *kgo.Record
	req    schemas.ECORequest
	cancel *schemas.ECOCancel // set for a cancel request
	out    *kgo.Record        // set once decided: a DLQ record, a rejection or a creation
	// alloc is the index into the allocation batch, or -1.
	alloc int
	// refused is set for an ECO request refused in Go (d.out holds the refusal) whose ids could
	// be read: if the request already has an allocation, that allocation wins (see decide).
	refused *requestIDs
}

// requestIDs are the fields of a request that identify its allocation. Decoding only them
// reads the ids of a record that today's schema refuses.
type requestIDs struct {
	RequestID   string `json:"request_id"`
	NOCTenantID string `json:"noc_tenant_id"`
	OSPTenantID string `json:"osp_tenant_id"`
}

// decide turns a batch of input records into output records, in input order. The only error
// is a failed PostgreSQL call: every bad input has an output.
func (p *Processor) decide(ctx context.Context, recs []*kgo.Record) ([]*kgo.Record, map[string]int, error) {
	now := p.cfg.Now()
	ds := make([]decision, len(recs))
	// Decoding and schema validation are pure and cost more per record than anything else on
	// this side of PostgreSQL, so large batches are checked on every core; the order-dependent
	// part (building the allocation batch) stays sequential below.
	checkAll(len(recs), func(i int) { p.check(&ds[i], recs[i], now) })
	var batch []AllocationRequest
	var cancels []string
	var refused []RequestKey
	for i := range ds {
		d := &ds[i]
		switch {
		case d.cancel != nil:
			cancels = append(cancels, d.cancel.ECOID)
		case d.out == nil:
			var failover []string
			if d.req.Engagement != nil {
				failover = d.req.Engagement.FailoverOSPIDs
			}
			d.alloc = len(batch)
			batch = append(batch, AllocationRequest{
				RequestID: d.req.RequestID, ECOID: ids.ECOID(d.req.NOCTenantID, d.req.RequestID), NOCTenantID: d.req.NOCTenantID,
				OSPTenantID: d.req.OSPTenantID, Region: d.req.Region, FailoverOSPIDs: failover,
				Request: d.in.Value, // valid JSON: it passed the schema
			})
		case d.refused != nil:
			refused = append(refused, RequestKey{NOCTenantID: d.refused.NOCTenantID, RequestID: d.refused.RequestID})
		}
	}

	var allocs []Allocation
	if len(batch) > 0 {
		var err error
		if allocs, err = p.deps.Store.Allocate(ctx, batch); err != nil {
			return nil, nil, err
		}
		// Counted when PostgreSQL commits the numbers, not when Kafka commits the batch: a
		// batch whose transaction aborts is answered again as redelivered, so counting at the
		// Kafka commit would miss its numbers for good.
		for i, a := range allocs {
			if a.Created && !a.Redelivered {
				p.metrics.jobNumbers.WithLabelValues(batch[i].OSPTenantID).Inc()
			}
		}
	}

	// Cancels are looked up after the allocations, so a cancel in the same batch as its ECO's
	// request finds it.
	var ecos map[string]ECO
	if len(cancels) > 0 {
		var err error
		if ecos, err = p.deps.Store.FindECOs(ctx, cancels); err != nil {
			return nil, nil, err
		}
	}

	// A request refused in Go (stricter guardrails or schema than the release that allocated
	// it, a wrong key or partition) that already has an allocation gets its eco.created again,
	// from the stored original: otherwise its number would stay a gap for good. Looked up after
	// the allocations, so a refused repeat of a request numbered in this batch finds it too.
	var existing map[RequestKey]Allocation
	if len(refused) > 0 {
		var err error
		if existing, err = p.deps.Store.FindAllocations(ctx, refused); err != nil {
			return nil, nil, err
		}
	}

	counts := map[string]int{}
	outs := make([]*kgo.Record, 0, len(recs))
	for i := range ds {
		d := &ds[i]
		if d.cancel != nil {
			d.out = p.cancelled(*d.cancel, ecos, now)
		}
		if d.refused != nil {
			a, ok := existing[RequestKey{NOCTenantID: d.refused.NOCTenantID, RequestID: d.refused.RequestID}]
			switch {
			case ok && a.OSPTenantID == d.refused.OSPTenantID:
				if req, ok := p.original(a, d); ok {
					p.log.Warn().Str(logging.FieldRequest, a.RequestID).Str(logging.FieldOSP, a.OSPTenantID).
						Int64("number", a.Number).Str("refusal", outcomeOf(d.out)).
						Msg("request refused now was allocated before; its eco.created is sent again from the stored original")
					d.req, d.out = req, p.created(req, a)
				}
			case ok && outcomeOf(d.out) == "rejected":
				// The NOC's id already names its ECO at another OSP: a conflict, shown under an
				// id of its own rather than on that ECO's row.
				d.out = p.rejected(d.req, ids.RefusedECOID(d.req.NOCTenantID, d.req.RequestID, d.in.Value), schemas.ReasonRequestIDConflict,
					fmt.Sprintf("request_id %s was already used by NOC %s for a different request", d.req.RequestID, d.req.NOCTenantID), now)
			}
		}
		if d.alloc >= 0 {
			a := allocs[d.alloc]
			switch {
			case a.Created:
				req, _ := p.original(a, d)
				d.out = p.created(req, a)
			case a.Reason == schemas.ReasonRequestIDConflict:
				// Shown under an id of its own: the ECO this NOC's id names stays untouched.
				d.out = p.rejected(d.req, ids.RefusedECOID(d.req.NOCTenantID, d.req.RequestID, d.in.Value), a.Reason, a.Detail, now)
			default:
				d.out = p.rejected(d.req, a.ECOID, a.Reason, a.Detail, now)
			}
		}
		outcome := outcomeOf(d.out)
		counts[outcome]++
		p.logDecision(d, outcome)
		outs = append(outs, d.out)
	}
	return outs, counts, nil
}

// original is the request an allocation was made for: the stored original when there is one,
// else (a new allocation, or one made before originals were stored) the record's own request.
// It is false when neither can be decoded.
func (p *Processor) original(a Allocation, d *decision) (schemas.ECORequest, bool) {
	if len(a.Original) > 0 {
		var req schemas.ECORequest
		err := json.Unmarshal(a.Original, &req)
		if err == nil {
			return req, true
		}
		p.log.Error().Err(err).Str(logging.FieldRequest, a.RequestID).Msg("stored original request does not decode")
	}
	if d.refused == nil {
		return d.req, true // passed today's schema
	}
	var req schemas.ECORequest
	if err := json.Unmarshal(d.in.Value, &req); err != nil || req.RequestID != a.RequestID {
		p.log.Error().Str(logging.FieldRequest, a.RequestID).
			Msg("request refused now was allocated before, but no original is stored and the record does not decode: its number stays unsent")
		return req, false
	}
	return req, true
}

// refusedIDs reads the allocation ids of an ECO request record refused in Go, or nil. A record
// on a NOC's ingress topic that names another NOC gets nil: an allocation is only ever its own
// NOC's to have re-sent, or whether a refusal came back would tell the sender that the named NOC
// used that request id.
func refusedIDs(d *decision) *requestIDs {
	var ids requestIDs
	if d.req.RequestID != "" {
		ids = requestIDs{RequestID: d.req.RequestID, NOCTenantID: d.req.NOCTenantID, OSPTenantID: d.req.OSPTenantID}
	} else if json.Unmarshal(d.in.Value, &ids) != nil || ids.RequestID == "" {
		return nil
	}
	if sender, ok := topics.IngressNOC(d.in.Topic); ok && sender != ids.NOCTenantID {
		return nil
	}
	return &ids
}

// check decodes and validates one record. It leaves d.out nil for a request to allocate, sets
// d.cancel for a valid cancel, and sets d.out to the DLQ record or rejection of anything else.
func (p *Processor) check(d *decision, r *kgo.Record, now time.Time) {
	d.in, d.alloc = r, -1
	typ, _ := cloudevents.Header(r, cloudevents.HeaderType)
	switch typ {
	case "", schemas.TypeECORequest:
	case schemas.TypeECOCancel:
		d.cancel = p.decodeCancel(d, now)
		return
	default:
		d.out = dlq.Record(Name, r, schemas.DLQUnsupportedType,
			fmt.Errorf("ce_type %q on %s, want %s or %s", typ, r.Topic, schemas.TypeECORequest, schemas.TypeECOCancel), now)
		return
	}
	defer func() {
		if d.out != nil {
			d.refused = refusedIDs(d)
		}
	}()
	if err := p.deps.Validator.Decode(schemas.TypeECORequest, r.Value, &d.req); err != nil {
		d.req = schemas.ECORequest{} // a partial decode is not a request
		d.out = dlq.Record(Name, r, dlq.Reason(err), err, now)
		return
	}
	if string(r.Key) != d.req.OSPTenantID {
		d.out = dlq.Record(Name, r, schemas.DLQKeyMismatch,
			fmt.Errorf("record key %q differs from osp_tenant_id %q: requests must be keyed by OSP so each OSP's requests stay in order on one partition",
				r.Key, d.req.OSPTenantID), now)
		return
	}
	if err := p.misplaced(r); err != nil {
		d.out = dlq.Record(Name, r, schemas.DLQPartitionMismatch, err, now)
		return
	}
	if out := p.foreign(r, d.req.RequestID, d.req.NOCTenantID, d.req.OSPTenantID, now); out != nil {
		d.out = out
		return
	}
	if err := p.cfg.Guardrails.CheckRequest(d.req.PeopleNeeded, d.req.Engagement); err != nil {
		d.out = p.rejected(d.req, ids.ECOID(d.req.NOCTenantID, d.req.RequestID), schemas.ReasonOverrideOutOfBounds, err.Error(), now)
	}
}

// parallelFrom is the batch size from which checkAll uses more than one goroutine; below it
// the goroutines cost more than they save.
const parallelFrom = 64

// checkAll runs f(0..n-1), split over GOMAXPROCS goroutines for large n.
func checkAll(n int, f func(int)) {
	workers := min(runtime.GOMAXPROCS(0), max(1, n/parallelFrom))
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// decodeCancel validates a cancel request; a bad one gets its DLQ record in d.out.
func (p *Processor) decodeCancel(d *decision, now time.Time) *schemas.ECOCancel {
	var c schemas.ECOCancel
	if err := p.deps.Validator.Decode(schemas.TypeECOCancel, d.in.Value, &c); err != nil {
		d.out = dlq.Record(Name, d.in, dlq.Reason(err), err, now)
		return nil
	}
	if string(d.in.Key) != c.OSPTenantID {
		d.out = dlq.Record(Name, d.in, schemas.DLQKeyMismatch,
			fmt.Errorf("record key %q differs from osp_tenant_id %q", d.in.Key, c.OSPTenantID), now)
		return nil
	}
	if err := p.misplaced(d.in); err != nil {
		d.out = dlq.Record(Name, d.in, schemas.DLQPartitionMismatch, err, now)
		return nil
	}
	if out := p.foreign(d.in, c.RequestID, c.NOCTenantID, c.OSPTenantID, now); out != nil {
		d.out = out
		return nil
	}
	d.req = schemas.ECORequest{RequestID: c.RequestID, NOCTenantID: c.NOCTenantID, OSPTenantID: c.OSPTenantID}
	return &c
}

// cancelled turns a valid cancel into eco.cancelled, or a rejection when the ECO does not exist
// for that NOC and OSP (a NOC cannot cancel another NOC's ECO, and learns nothing about it).
func (p *Processor) cancelled(c schemas.ECOCancel, ecos map[string]ECO, now time.Time) *kgo.Record {
	e, ok := ecos[c.ECOID]
	if !ok || e.NOCTenantID != c.NOCTenantID || e.OSPTenantID != c.OSPTenantID {
		return event(topics.ECOEvents, c.ECOID, schemas.TypeECORejected, now, schemas.ECORejected{
			ECOID: c.ECOID, RequestID: c.RequestID, NOCTenantID: c.NOCTenantID, OSPTenantID: c.OSPTenantID,
			Reason: schemas.ReasonUnknownECO, Detail: fmt.Sprintf("no ECO %s for NOC %s and OSP %s", c.ECOID, c.NOCTenantID, c.OSPTenantID),
			RejectedAt: now.UTC(),
		}, rejectionID(c.ECOID, c.NOCTenantID, c.RequestID, schemas.ReasonUnknownECO)...)
	}
	return event(topics.ECOEvents, c.ECOID, schemas.TypeECOCancelled, now, schemas.ECOCancelled{
		ECOID: c.ECOID, RequestID: c.RequestID, NOCTenantID: c.NOCTenantID, OSPTenantID: c.OSPTenantID,
		JobNumber: e.JobNumber, CancelledBy: c.RequestedBy, Reason: c.Reason, CancelledAt: now.UTC(),
	}, c.ECOID)
}

func outcomeOf(r *kgo.Record) string {
	switch r.Topic {
	case topics.DLQ:
		return "dlq"
	}
	switch t, _ := cloudevents.Header(r, cloudevents.HeaderType); t {
	case schemas.TypeECORejected:
		return "rejected"
	case schemas.TypeECOCancelled:
		return "cancelled"
	}
	return "created"
}

func (p *Processor) logDecision(d *decision, outcome string) {
	ev := p.log.Debug()
	if outcome != "created" {
		ev = p.log.Info()
	}
	ev.Str("outcome", outcome).
		Str(logging.FieldRequest, d.req.RequestID).
		Str(logging.FieldNOC, d.req.NOCTenantID).
		Str(logging.FieldOSP, d.req.OSPTenantID).
		Int32("partition", d.in.Partition).Int64("offset", d.in.Offset).
		Msg("eco request decided")
}

func (p *Processor) created(req schemas.ECORequest, a Allocation) *kgo.Record {
	people := req.PeopleNeeded
	if people == 0 {
		people = 1
	}
	ev := schemas.ECOCreated{
		ECOID: a.ECOID, RequestID: req.RequestID, JobNumber: a.JobNumber, Number: a.Number,
		NOCTenantID: req.NOCTenantID, OSPTenantID: req.OSPTenantID, Region: req.Region,
		Priority: req.Priority, Site: req.Site, Summary: req.Summary, NOCTicketRef: req.NOCTicketRef,
		RequestedBy: req.RequestedBy, PeopleNeeded: people,
		Engagement:  p.cfg.Guardrails.Resolve(a.Policy, a.Link, req.Engagement),
		ParentECOID: req.ParentECOID, RequestedAt: req.RequestedAt,
		CreatedAt: a.AllocatedAt.UTC(),
	}
	return event(topics.ECOEvents, a.ECOID, schemas.TypeECOCreated, a.AllocatedAt, ev, a.ECOID)
}

func (p *Processor) rejected(req schemas.ECORequest, ecoID, reason, detail string, now time.Time) *kgo.Record {
	ev := schemas.ECORejected{
		ECOID: ecoID, RequestID: req.RequestID, NOCTenantID: req.NOCTenantID, OSPTenantID: req.OSPTenantID,
		Region: req.Region, Reason: reason, Detail: detail, ParentECOID: req.ParentECOID,
		RejectedAt: now.UTC(),
	}
	return event(topics.ECOEvents, ecoID, schemas.TypeECORejected, now, ev, rejectionID(ecoID, req.NOCTenantID, req.RequestID, reason)...)
}

// rejectionID are the parts of an eco.rejected's ce_id: the NOC's request id is only unique
// within the NOC, and a refusal shown under an ECO id of its own differs from the request's
// other rejections by that id.
func rejectionID(ecoID, noc, requestID, reason string) []string {
	return []string{ecoID, noc, requestID, reason}
}

// event marshals v as the value of a record of type typ keyed by key, whose ce_id is derived from
// idParts so a re-emitted event keeps its id.
func event(topic, key, typ string, at time.Time, v any, idParts ...string) *kgo.Record {
	value, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal %s: %v", typ, err)) // only a bug can cause this
	}
	return cloudevents.Record(topic, key, cloudevents.Event{
		ID: ids.EventID(typ, idParts...), Type: typ, Source: "strike/" + Name, Subject: key, Time: at,
	}, value)
}

type metrics struct {
	records      *prometheus.CounterVec
	transactions *prometheus.CounterVec
	batchSeconds prometheus.Histogram
	dbErrors     prometheus.Counter
	jobNumbers   *prometheus.CounterVec
	dlq          dlq.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		dlq: dlq.NewCounter(reg),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strike_eco_processor_records_total",
			Help: "ECO requests and cancels decided, by outcome (created, rejected, cancelled, dlq), counted once committed.",
		}, []string{"outcome"}),
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strike_eco_processor_transactions_total",
			Help: "Kafka transactions ended, by result (committed, aborted, failed).",
		}, []string{"result"}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "strike_eco_processor_batch_duration_seconds",
			Help:    "Time from beginning a batch's transaction to its commit.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		dbErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strike_eco_processor_db_errors_total",
			Help: "Batches aborted because PostgreSQL failed; each is retried with backoff.",
		}),
		// Labelled by OSP tenant id only: OSPs are a bounded set of tenants, and a series
		// appears only once PostgreSQL gave that OSP a number (an unknown OSP is rejected).
		jobNumbers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strike_eco_processor_job_numbers_allocated_total",
			Help: "Job numbers allocated, by OSP tenant (new numbers only: a redelivered request's number is not counted again).",
		}, []string{"osp_tenant_id"}),
	}
	if reg != nil {
		reg.MustRegister(m.records, m.transactions, m.batchSeconds, m.dbErrors, m.jobNumbers)
	}
	return m
}
