// Package dialer runs the ring-down of every ECO whose partition it owns (DESIGN §3).
//
// One consumer group reads strike.eco.events.v1 and strike.telephony.callbacks.v1 with a range
// balancer, so partition p of both topics (co-partitioned, keyed by eco_id) lands on the same
// replica: a callback always reaches the replica that owns its ECO. The pieces:
//
//   - ringdown: the pure state machine of one ECO (decisions, no I/O);
//   - loop.go: poll, apply a batch, commit, start its side effects;
//   - txn.go: the Kafka transaction, broker-fenced whether or not it consumed records;
//   - batch.go: one transaction's working copies and outputs;
//   - effects.go: side effects after commit, per partition, CPS-paced and prioritised;
//   - restore.go: a new owner reads the compacted strike.callout.state.v1 to its exact end.
//
// Side effects on Twilio run only after the transaction that decided them commits, so the
// intent to call is durable before the call is made; their results come back as inputs of a
// later transaction.
package dialer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/dialer/ringdown"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/logging"
	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/schemas"
)

// Name is the component name in logs, metrics and ce_source.
const Name = "dialer"

// Defaults of Config. The group timings bound failover: a replica that dies is out of the group
// after SessionTimeout, its open transaction is aborted by the broker after TransactionTimeout,
// and the survivor restores and resumes its ring-downs: within 10 s of a SIGKILL
// (docs/dialer.md, "Failover").
const (
	DefaultGroup              = "strike-dialer"
	DefaultRingDuration       = 25 * time.Second
	DefaultReconcileMargin    = 15 * time.Second
	DefaultAnswerGrace        = 90 * time.Second
	DefaultPlaceRetry         = 30 * time.Second
	DefaultConfirmWait        = 3 * time.Second
	DefaultRetention          = time.Hour
	DefaultWorkers            = 64
	DefaultMaxPollRecords     = 1000
	DefaultRestoreTimeout     = time.Minute
	DefaultCPS                = 1
	DefaultRevokeWait         = 5 * time.Second
	DefaultOwnershipFresh     = 3 * time.Second
	DefaultInboxSize          = 10_000
	DefaultMaxQueued          = 10_000
	DefaultSessionTimeout     = 6 * time.Second
	DefaultHeartbeatInterval  = 500 * time.Millisecond
	DefaultTransactionTimeout = 5 * time.Second
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

// Caller is the Twilio adapter (*twilio.Client). It must not pace calls itself: the dialer
// does, per account, so that higher-priority first calls go first.
type Caller interface {
	CreateCall(ctx context.Context, req twilio.CallRequest) (twilio.Call, error)
	FetchCall(ctx context.Context, subaccountSID, callSID string) (twilio.Call, error)
	EndCall(ctx context.Context, subaccountSID, callSID string) error
	FindCalls(ctx context.Context, subaccountSID, to, from string, since time.Time) ([]twilio.Call, error)
}

// Config configures a Dialer. Zero values take the documented defaults.
type Config struct {
	// Brokers is a comma-separated seed list. Required.
	Brokers string
	// Security is how the clients authenticate and protect the wire (kafkaclient.Settings.Load);
	// the zero value is plaintext.
	Security kafkaclient.Security
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
	// PlaceRetry is the pause before a failed placement, fetch or lookup is repeated; default
	// DefaultPlaceRetry.
	PlaceRetry time.Duration
	// ConfirmWait: an attempt that may exist at Twilio without our knowing its SID (a lost
	// CreateCall answer, a placement of a replica that is gone) waits this long for one of its
	// callbacks before the Calls list is asked; default DefaultConfirmWait.
	ConfirmWait time.Duration
	// Retention keeps a finished ring-down whole (for late callbacks) before only its marker
	// remains; default DefaultRetention.
	Retention time.Duration
	// Workers bounds concurrent Twilio requests; default DefaultWorkers.
	Workers int
	// CPS is the calls per second per Twilio account or subaccount (Twilio's default is 1;
	// excess calls would queue at Twilio, out of our order); 0 = DefaultCPS, negative =
	// unlimited. CPSOverrides sets it per account SID.
	CPS          float64
	CPSOverrides map[string]float64
	// RestoreTimeout bounds waiting for open transactions on the state partitions (a dead
	// replica's) and reading them; default DefaultRestoreTimeout.
	RestoreTimeout time.Duration
	// RevokeWait bounds how long a revoke waits for the partition's Twilio requests in flight;
	// default DefaultRevokeWait.
	RevokeWait time.Duration
	// OwnershipFresh: before a CreateCall, ownership confirmed by the broker longer ago than
	// this is confirmed again; default DefaultOwnershipFresh.
	OwnershipFresh time.Duration
	// InboxSize bounds internal inputs waiting for the loop (Twilio results, timers); a full
	// inbox makes their senders wait. Default DefaultInboxSize.
	InboxSize int
	// MaxQueued: with this many side effects queued, no new ECOs are read until half have
	// run. Default DefaultMaxQueued.
	MaxQueued int
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
	machine ringdown.Machine
	urls    twilio.WebhookURLs

	inbox  *inbox
	states *ringdowns // owned by the Run goroutine
	// restored holds, per partition, the epoch whose state the loop restored (Run goroutine).
	restored    ownership
	restoredGen int32 // the group generation of that assignment
	effects     *effects
	topicID     topicID // of strike.eco.events.v1, for the fence of offset-less transactions

	beforeCommit func(commands int) // test hook
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
	cfg.ConfirmWait = cmp.Or(cfg.ConfirmWait, DefaultConfirmWait)
	cfg.Retention = cmp.Or(cfg.Retention, DefaultRetention)
	cfg.Workers = cmp.Or(cfg.Workers, DefaultWorkers)
	cfg.CPS = cmp.Or(cfg.CPS, DefaultCPS)
	cfg.RestoreTimeout = cmp.Or(cfg.RestoreTimeout, DefaultRestoreTimeout)
	cfg.RevokeWait = cmp.Or(cfg.RevokeWait, DefaultRevokeWait)
	cfg.OwnershipFresh = cmp.Or(cfg.OwnershipFresh, DefaultOwnershipFresh)
	cfg.InboxSize = cmp.Or(cfg.InboxSize, DefaultInboxSize)
	cfg.MaxQueued = cmp.Or(cfg.MaxQueued, DefaultMaxQueued)
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	d := &Dialer{
		cfg:     cfg,
		deps:    deps,
		log:     deps.Log.With().Str(logging.FieldComponent, Name).Logger(),
		metrics: newMetrics(deps.Registry),
		urls:    twilio.WebhookURLs{Base: cfg.WebhookBase},
		inbox:   newInbox(cfg.InboxSize),
		states:  newRingdowns(),

		restored: ownership{},
	}
	d.machine = ringdown.Machine{Rules: ringdown.Rules{RingDefault: cfg.RingDuration, ReconcileMargin: cfg.ReconcileMargin,
		AnswerGrace: cfg.AnswerGrace, PlaceRetry: cfg.PlaceRetry, Retention: cfg.Retention, ConfirmWait: cfg.ConfirmWait}}
	return d, nil
}
