package dialer

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/dialer/ringdown"
	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/ecorequest"
	"github.com/osprey-strike/strike/internal/logging"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/internal/twilio"
	"github.com/osprey-strike/strike/schemas"
)

// batchDeps is what a batch reads: the committed ring-downs (never written by the batch), the
// machine and the world outside it.
type batchDeps struct {
	states    *ringdowns
	machine   ringdown.Machine
	store     Store
	validator *schemas.Validator
	urls      twilio.WebhookURLs
	now       func() time.Time
	owns      func(part int32) bool
	log       zerolog.Logger
	metrics   *metrics
}

// batch is one transaction's work: working copies of the touched ring-downs, their outputs, and
// the side effects to start once the transaction commits. An aborted batch is dropped whole and
// leaves the committed states untouched.
type batch struct {
	ctx     context.Context
	deps    batchDeps
	work    map[string]*owned // eco id -> working copy
	order   []string
	dirty   map[string]bool
	retired map[string]bool
	events  []*kgo.Record
	jobs    []job
	// accepted and firstCalls are metrics to count once committed.
	accepted   []*ringdown.State
	firstCalls []*ringdown.State
	rosters    map[[2]string]ringdown.Roster
	twilio     map[string]ringdown.TwilioContext
	// moves are the rotation pointer moves the batch decided, in order (rotation.go).
	moves []rotationMove
}

func newBatch(ctx context.Context, deps batchDeps) *batch {
	return &batch{ctx: ctx, deps: deps, work: map[string]*owned{}, dirty: map[string]bool{}, retired: map[string]bool{}}
}

// state returns the working copy of eco's ring-down, cloning the committed one on first touch.
func (b *batch) state(eco string) *owned {
	if w, ok := b.work[eco]; ok {
		return w
	}
	o := b.deps.states.live[eco]
	if o == nil {
		return nil
	}
	w := &owned{st: o.st.Clone(), part: o.part}
	b.work[eco] = w
	b.order = append(b.order, eco)
	return w
}

func (b *batch) machine() ringdown.Machine {
	m := b.deps.machine
	m.Env = envFor{b.ctx, b.deps.store}
	return m
}

func (b *batch) applyRecord(r *kgo.Record) error {
	typ, _ := cloudevents.Header(r, cloudevents.HeaderType)
	now := b.deps.now()
	switch typ {
	case schemas.TypeECOCreated:
		var ev schemas.ECOCreated
		if err := b.decode(r, typ, &ev); err != nil {
			return nil
		}
		if b.state(ev.ECOID) != nil {
			return nil // redelivered: the ring-down exists
		}
		if b.deps.states.retired(ev.ECOID) {
			// Redelivered long after it ended (a producer retry, an offset reset): a finished
			// ECO is never rung again.
			b.deps.metrics.redelivered.Inc()
			b.deps.log.Info().Str(logging.FieldECO, ev.ECOID).Msg("eco.created of a finished ring-down ignored")
			return nil
		}
		roster, tc, err := b.lookup(ev)
		if err != nil {
			return err
		}
		st, out, err := b.machine().StartWith(ev, roster, tc, now)
		if err != nil {
			return err
		}
		w := &owned{st: st, part: r.Partition}
		b.work[ev.ECOID] = w
		b.order = append(b.order, ev.ECOID)
		b.collect(w, out)
		b.deps.log.Info().Str(logging.FieldECO, ev.ECOID).Str(logging.FieldNOC, ev.NOCTenantID).Str(logging.FieldOSP, ev.OSPTenantID).
			Int("roster_size", len(roster.Contacts)).Int("start_position", st.StartPosition).Msg("ring-down started")
	case schemas.TypeECOCancelled:
		var ev schemas.ECOCancelled
		if err := b.decode(r, typ, &ev); err != nil {
			return nil
		}
		if w := b.state(ev.ECOID); w != nil {
			b.collect(w, b.deps.machine.ApplyCancel(w.st, ev, now))
		}
	case schemas.TypeTelephonyCallback:
		var ev schemas.TelephonyCallback
		if err := b.decode(r, typ, &ev); err != nil {
			return nil
		}
		w := b.state(ev.ECOID)
		if w == nil {
			b.deps.log.Debug().Str(logging.FieldECO, ev.ECOID).Str("call_id", ev.CallID).Msg("callback for an unknown or finished ring-down ignored")
			return nil
		}
		out, err := b.machine().ApplyCallback(w.st, ev, now)
		if err != nil {
			return err
		}
		b.collect(w, out)
	case schemas.TypeCalloutControl:
		return b.applyControl(r, now)
	}
	// eco.rejected and unknown types are not the dialer's business.
	return nil
}

// lookup reads the roster and the NOC's Twilio context of a new ECO, once per batch for each
// (OSP, region) and NOC: a storm of ECOs for one OSP costs two queries per batch, not per ECO.
// A rotating roster's start is decided per ECO (startOf).
func (b *batch) lookup(ev schemas.ECOCreated) (ringdown.Roster, ringdown.TwilioContext, error) {
	if b.rosters == nil {
		b.rosters, b.twilio = map[[2]string]ringdown.Roster{}, map[string]ringdown.TwilioContext{}
	}
	rk := [2]string{ev.OSPTenantID, ev.Region}
	roster, ok := b.rosters[rk]
	if !ok {
		var err error
		if roster, err = b.deps.store.Roster(b.ctx, ev.OSPTenantID, ev.Region, b.deps.now()); err != nil {
			return ringdown.Roster{}, ringdown.TwilioContext{}, err
		}
		b.rosters[rk] = roster
	}
	tc, ok := b.twilio[ev.NOCTenantID]
	if !ok {
		var err error
		if tc, err = b.deps.store.TwilioContext(b.ctx, ev.NOCTenantID); err != nil {
			return ringdown.Roster{}, ringdown.TwilioContext{}, err
		}
		b.twilio[ev.NOCTenantID] = tc
	}
	roster, err := b.startOf(ev, roster)
	return roster, tc, err
}

// decode validates a value against its schema; invalid input is logged and skipped (the
// eco-processor and the gateway validate before producing, so this is a bug elsewhere, and
// stalling every ring-down of the partition on it would be worse).
func (b *batch) decode(r *kgo.Record, typ string, v any) error {
	if err := b.deps.validator.Decode(typ, r.Value, v); err != nil {
		b.deps.metrics.invalid.Inc()
		b.deps.log.Error().Err(err).Str("topic", r.Topic).Int32("partition", r.Partition).Int64("offset", r.Offset).Msg("invalid record skipped")
		return err
	}
	return nil
}

// applyItem applies an internal input. One of a partition no longer owned, or of a ring-down
// no longer live, is dropped: the owner decides from the state.
func (b *batch) applyItem(it *item) error {
	w := b.state(it.eco)
	if w == nil || !b.deps.owns(w.part) {
		return nil
	}
	now := b.deps.now()
	m := b.machine()
	var out ringdown.Output
	var err error
	switch {
	case it.placed != nil:
		out, err = m.ApplyPlaced(w.st, *it.placed, now)
	case it.fetched != nil:
		out, err = m.ApplyFetched(w.st, *it.fetched, now)
	case it.found != nil:
		out, err = m.ApplyFound(w.st, *it.found, now)
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
type envFor struct {
	ctx   context.Context
	store Store
}

func (e envFor) LinkActive(noc, osp string) (bool, error) { return e.store.LinkActive(e.ctx, noc, osp) }

// event adds machine event e of ECO eco to the batch's strike.callout.events.v1 records.
func (b *batch) event(eco string, e ringdown.Event) {
	value, err := json.Marshal(e.Value)
	if err != nil {
		panic(fmt.Sprintf("marshal %s: %v", e.Type, err)) // only a bug can cause this
	}
	b.events = append(b.events, cloudevents.Record(topics.CalloutEvents, eco, cloudevents.Event{
		ID: e.ID, Type: e.Type, Source: "strike/" + Name, Subject: eco, Time: e.At}, value))
}

// collect turns a machine output into records and jobs.
func (b *batch) collect(w *owned, out ringdown.Output) {
	st := w.st
	for _, e := range out.Events {
		b.event(st.ECO.ECOID, e)
		if e.Type == schemas.TypeCalloutCallPlaced && st.CallsMade == 1 {
			b.firstCalls = append(b.firstCalls, st)
		}
		if ce, ok := e.Value.(schemas.CallEnded); ok {
			b.deps.metrics.calls.WithLabelValues(ce.Result).Inc()
		}
	}
	if out.Accepted > 0 {
		b.accepted = append(b.accepted, st)
	}
	b.rotationMoves(st, out.Events)
	if out.Failover != nil {
		rec, err := ecorequest.Record(b.deps.validator, out.Failover, "strike/"+Name, b.deps.now())
		if err != nil {
			b.deps.log.Error().Err(err).Str(logging.FieldECO, st.ECO.ECOID).Msg("failover request invalid; not sent")
		} else {
			b.events = append(b.events, rec)
		}
	}
	if out.Retire {
		b.retired[st.ECO.ECOID] = true
	}
	if out.Changed || out.Retire {
		b.dirty[st.ECO.ECOID] = true
	}
	for _, c := range out.Commands {
		b.jobs = append(b.jobs, b.job(c, w))
	}
}

// job prepares a command's side effect from the state it was decided in.
func (b *batch) job(c ringdown.Command, w *owned) job {
	st := w.st
	j := job{cmd: c, part: w.part, account: st.Twilio.SubaccountSID,
		log: b.deps.log.With().Str(logging.FieldECO, c.ECOID).Str(logging.FieldNOC, st.ECO.NOCTenantID).
			Str(logging.FieldOSP, st.ECO.OSPTenantID).Str("call_id", c.Call.ID).Logger()}
	switch c.Kind {
	case ringdown.CmdPlace:
		j.req = twilio.CallRequest{
			SubaccountSID:     st.Twilio.SubaccountSID,
			To:                c.Call.Contact.Phone,
			From:              st.Twilio.CallerID,
			Timeout:           st.RingDuration(b.deps.machine.Rules),
			StatusCallbackURL: b.deps.urls.Status(c.ECOID, c.Call.ID),
			Twiml:             twilio.GatherTwiML(st.ECO.JobNumber, st.ECO.Site.Name, b.deps.urls.Gather(c.ECOID, c.Call.ID, 1), 1),
		}
	case ringdown.CmdLookup:
		j.req = twilio.CallRequest{SubaccountSID: st.Twilio.SubaccountSID, To: c.Call.Contact.Phone, From: st.Twilio.CallerID}
	}
	return j
}

// partitions are the partitions of the ring-downs the batch changed, each once.
func (b *batch) partitions() []int32 {
	var ps []int32
	for _, id := range b.order {
		if p := b.work[id].part; b.dirty[id] && !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	return ps
}

// records are the batch's outputs: events, failover requests, then one state record (or
// marker) per changed ring-down.
func (b *batch) records() ([]*kgo.Record, error) {
	out := b.events
	for _, id := range b.order {
		if !b.dirty[id] {
			continue
		}
		var v any = b.work[id].st
		if b.retired[id] {
			v = ringdown.MarkerOf(b.work[id].st)
		}
		value, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode state of %s: %w", id, err)
		}
		out = append(out, &kgo.Record{Topic: topics.CalloutState, Key: []byte(id), Value: value})
	}
	return out, nil
}
