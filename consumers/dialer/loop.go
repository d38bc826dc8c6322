package dialer

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/topics"
)

// Run consumes until ctx ends; it returns nil on a clean shutdown.
func (d *Dialer) Run(ctx context.Context) error {
	var sess *kgo.GroupTransactSession
	d.effects = newEffects(d.deps.Twilio, d.inbox.push,
		func(ctx context.Context, part int32) (bool, error) {
			return d.confirmOwnership(ctx, sess.Client(), part)
		},
		func() int32 { _, gen := sess.Client().GroupMetadata(); return gen },
		d.cfg, d.log, d.metrics)
	opts := append(kafkaclient.Options(d.cfg.Brokers, d.cfg.Security, Name, d.log, d.deps.Registry),
		kgo.ConsumerGroup(d.cfg.Group),
		kgo.ConsumeTopics(topics.ECOEvents, topics.TelephonyCallbacks, topics.CalloutControls),
		// Partition p of both topics on one member: only a range balancer promises it.
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.TransactionalID(d.cfg.TransactionalID),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ProducerLinger(0),
		kgo.SessionTimeout(DefaultSessionTimeout),
		kgo.HeartbeatInterval(DefaultHeartbeatInterval),
		kgo.TransactionTimeout(DefaultTransactionTimeout),
		// The callbacks only record the change and wake the loop, except revoke, which also
		// takes the partitions' side effects back (queued ones dropped, in-flight ones waited
		// for) before the group hands the partitions over. No callback ends a transaction.
		kgo.OnPartitionsAssigned(func(_ context.Context, cl *kgo.Client, m map[string][]int32) {
			// franz-go's GroupTransactSession calls the revoke (and lost) callback only once
			// between two Ends: a second rebalance before the loop's next session End is not
			// reported. The balancer is eager, so an assignment replaces the last one whole:
			// whatever is still held was revoked meanwhile.
			if stale := d.effects.held(); len(stale) > 0 {
				d.log.Info().Ints32("partitions", stale).Msg("revoke not reported by the session; revoking at the next assignment")
				d.revoked(map[string][]int32{topics.ECOEvents: stale})
			}
			_, gen := cl.GroupMetadata()
			epochs := d.effects.assign(m[topics.ECOEvents], gen)
			d.inbox.pushNow(item{assigned: m[topics.ECOEvents], epochs: epochs, gen: gen})
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { d.revoked(m) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { d.revoked(m) }),
	)
	opts = append(opts, d.cfg.KafkaOpts...)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("dialer: kafka client: %w", err)
	}
	defer sess.Close()

	ectx, stopEffects := context.WithCancel(context.WithoutCancel(ctx))
	go d.effects.run(ectx)
	defer func() {
		stopEffects()
		d.effects.stop()
		d.states.stopTimers()
	}()
	d.log.Info().Str("group", d.cfg.Group).Str("transactional_id", d.cfg.TransactionalID).Msg("dialer started")
	return d.loop(ctx, sess)
}

func (d *Dialer) revoked(m map[string][]int32) {
	ps := m[topics.ECOEvents]
	d.effects.revoke(ps)
	d.inbox.pushNow(item{revoked: ps})
}

// loop polls a batch of records and internal inputs, applies it in one transaction, and starts
// its side effects once committed.
func (d *Dialer) loop(ctx context.Context, sess *kgo.GroupTransactSession) error {
	// The transactional loop stays the dialer's own (internal inputs, restores, back-pressure);
	// fetch errors, the retry schedule and what a failure means are the shared consumer loop's.
	retry := kafkaclient.Backoff()
	paused := false
	for {
		fetches, items := d.poll(ctx, sess)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			d.log.Info().Msg("dialer stopping")
			return nil
		}
		if err := kafkaclient.FetchError(fetches, d.log); err != nil {
			return fmt.Errorf("dialer: %w", err)
		}
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
		if len(recs) > 0 || len(items) > 0 {
			committed, err := d.transact(ctx, sess, recs, items)
			switch {
			case err != nil && ctx.Err() != nil:
				return nil
			case err != nil && kafkaclient.Classify(err) == kafkaclient.Retry:
				d.inbox.pushNow(resumable(items)...)
				wait := retry.NextBackOff()
				d.log.Warn().Err(err).Dur("retry_in", wait).Msg("batch aborted; it will be redone")
				if !kafkaclient.Wait(ctx, wait) {
					return nil
				}
			case err != nil:
				if fe := kafkaclient.Fatal(err); fe != nil {
					err = fe
				}
				return fmt.Errorf("dialer: %w", err)
			case !committed:
				d.inbox.pushNow(resumable(items)...)
				d.log.Info().Msg("transaction aborted by a rebalance or a fence; inputs left to the owner")
			default:
				retry.Reset()
			}
		}
		// Back-pressure: with too many side effects queued, read no new ECOs (callbacks still
		// flow, and they free the queue) until half have run.
		switch n := d.effects.pending(); {
		case !paused && n >= d.cfg.MaxQueued:
			sess.Client().PauseFetchTopics(topics.ECOEvents)
			paused = true
			d.log.Warn().Int("queued", n).Msg("side effects queue full: new ECOs wait")
		case paused && n < d.cfg.MaxQueued/2:
			sess.Client().ResumeFetchTopics(topics.ECOEvents)
			paused = false
		}
	}
}

// poll waits for records or internal inputs. While inputs wait it takes only what is already
// buffered (a nil context makes kgo drain without blocking), so a stream of timers and Twilio
// results never starves new ECOs and callbacks.
func (d *Dialer) poll(ctx context.Context, sess *kgo.GroupTransactSession) (kgo.Fetches, []item) {
	b := d.inbox
	b.mu.Lock()
	if len(b.items) > 0 {
		b.mu.Unlock()
		//lint:ignore SA1012 a nil context makes kgo return what is buffered without blocking
		return sess.PollRecords(nil, d.cfg.MaxPollRecords), b.take()
	}
	pctx, cancel := context.WithCancel(ctx)
	b.wake = cancel
	b.mu.Unlock()
	fetches := sess.PollRecords(pctx, d.cfg.MaxPollRecords)
	cancel()
	b.mu.Lock()
	b.wake = nil
	b.mu.Unlock()
	return fetches, b.take()
}

// resumable are the internal inputs of an aborted batch worth redoing (Kafka redelivers the
// records; partition changes were already applied).
func resumable(items []item) []item {
	return slices.DeleteFunc(slices.Clone(items), func(it item) bool { return it.eco == "" })
}

// rebalance applies partition changes (restore or drop) and returns the other items.
func (d *Dialer) rebalance(ctx context.Context, items []item) ([]item, error) {
	rest := items[:0]
	for _, it := range items {
		switch {
		case it.revoked != nil:
			for _, p := range it.revoked {
				delete(d.restored, p)
			}
			d.states.drop(it.revoked)
			d.metrics.setLive(d.states.byPhase())
			d.log.Info().Ints32("partitions", it.revoked).Msg("partitions revoked; ring-downs dropped")
		case it.assigned != nil:
			if err := d.restore(ctx, it.assigned); err != nil {
				return nil, fmt.Errorf("restore partitions %v: %w", it.assigned, err)
			}
			for p, epoch := range it.epochs {
				d.restored[p] = epoch
			}
			d.restoredGen = it.gen
		default:
			rest = append(rest, it)
		}
	}
	return rest, nil
}

// restore resumes the ring-downs of newly assigned partitions from the state topic: timers are
// re-armed (deadlines are absolute times in the state) and attempts without a SID are confirmed
// with Twilio before being placed again (ringdown.Machine.Resume).
func (d *Dialer) restore(ctx context.Context, ps []int32) error {
	if len(ps) == 0 {
		return nil
	}
	start := time.Now()
	got, err := d.readState(ctx, ps)
	if err != nil {
		return err
	}
	now := d.cfg.Clock.Now()
	for id, o := range got.live {
		d.log.Debug().Str("eco_id", id).Int32("partition", o.part).Str("phase", o.st.Phase).Int("calls_made", o.st.CallsMade).
			Int("live_calls", len(o.st.Calls)).Msg("state restored")
		if old := d.states.live[id]; old != nil && old.timer != nil {
			old.timer.Stop()
		}
		d.machine.Resume(o.st, now)
		d.states.live[id] = o
		d.arm(id, o)
	}
	for id, p := range got.done {
		d.states.done[id] = p
	}
	d.metrics.restored.Add(float64(len(got.live)))
	d.metrics.setLive(d.states.byPhase())
	d.log.Info().Ints32("partitions", ps).Int("ring_downs", len(got.live)).Int("finished", len(got.done)).
		Dur("took", time.Since(start)).Msg("partitions assigned; ring-downs restored")
	return nil
}

// transact applies one batch in one Kafka transaction and, once committed, installs its states
// and starts its side effects.
func (d *Dialer) transact(ctx context.Context, sess *kgo.GroupTransactSession, recs []*kgo.Record, items []item) (bool, error) {
	// A partition's ring-downs may be decided and committed only while it is still owned in the
	// epoch whose state the loop restored.
	owns := func(p int32) bool {
		epoch, ok := d.restored[p]
		_, gen := sess.Client().GroupMetadata()
		return ok && gen == d.restoredGen && d.effects.ownsSince(p, epoch)
	}
	t, err := begin(sess, d.cfg.Group, d.cfg.TransactionalID, &d.topicID, len(recs) == 0)
	if err != nil {
		return false, err
	}
	b := newBatch(ctx, batchDeps{states: d.states, machine: d.machine, store: d.deps.Store, validator: d.deps.Validator,
		urls: d.urls, now: d.cfg.Clock.Now, owns: owns, log: d.log, metrics: d.metrics})
	fail := func(cause error) (bool, error) {
		if err := t.abort(ctx); err != nil {
			return false, fmt.Errorf("abort after %v: %w", cause, err)
		}
		d.metrics.transactions.WithLabelValues("aborted").Inc()
		return false, kafkaclient.Transient(cause)
	}
	for _, r := range recs {
		if err := b.applyRecord(r); err != nil {
			return fail(err)
		}
	}
	for i := range items {
		if err := b.applyItem(&items[i]); err != nil {
			return fail(err)
		}
	}
	if err := b.moveRotations(); err != nil {
		return fail(err)
	}
	out, err := b.records()
	if err != nil {
		return fail(err)
	}
	if err := t.produce(ctx, out); err != nil {
		return fail(err)
	}
	if d.beforeCommit != nil {
		d.beforeCommit(len(b.jobs))
	}
	committed, err := t.commit(ctx, b.partitions(), owns)
	if err != nil {
		d.metrics.transactions.WithLabelValues("failed").Inc()
		return false, kafkaclient.Transient(fmt.Errorf("end transaction: %w", err))
	}
	if !committed {
		d.metrics.transactions.WithLabelValues("aborted").Inc()
		return false, nil
	}
	d.metrics.transactions.WithLabelValues("committed").Inc()
	d.effects.confirmedNow()
	d.install(b)
	return true, nil
}

// install makes a committed batch's states current, re-arms their timers and submits its side
// effects.
func (d *Dialer) install(b *batch) {
	delta := map[string]int{} // live ring-downs by phase
	for _, id := range b.order {
		w := b.work[id]
		if old := d.states.live[id]; old != nil {
			if old.timer != nil {
				old.timer.Stop()
			}
			if !old.st.Final() {
				delta[old.st.Phase]--
			}
		}
		if b.dirty[id] {
			d.log.Debug().Str("eco_id", id).Int32("partition", w.part).Str("phase", w.st.Phase).Int("calls_made", w.st.CallsMade).
				Int("live_calls", len(w.st.Calls)).Bool("retired", b.retired[id]).Msg("state committed")
		}
		if b.retired[id] {
			delete(d.states.live, id)
			d.states.done[id] = w.part
			continue
		}
		if !w.st.Final() {
			delta[w.st.Phase]++
		}
		d.states.live[id] = w
		d.arm(id, w)
	}
	d.metrics.addLive(delta)
	for _, st := range b.firstCalls {
		d.metrics.firstCall.Observe(st.FirstCallAt.Sub(st.ECO.CreatedAt).Seconds())
		if st.ECO.RequestedAt != nil {
			d.metrics.fromRequest.Observe(max(st.FirstCallAt.Sub(*st.ECO.RequestedAt).Seconds(), 0))
		}
	}
	for _, st := range b.accepted {
		d.metrics.acceptance.Observe(st.Accepted[len(st.Accepted)-1].At.Sub(st.ECO.CreatedAt).Seconds())
	}
	for _, j := range b.jobs {
		j.epoch = d.restored[j.part]
		d.effects.submit(j)
	}
}

// arm sets the ring-down's timer to its next deadline (an absolute time in the state).
func (d *Dialer) arm(id string, o *owned) {
	o.timer = nil
	next := o.st.NextDeadline(d.machine.Rules)
	if next.IsZero() {
		return
	}
	clock, part := d.cfg.Clock, o.part
	o.timer = clock.AfterFunc(next.Sub(clock.Now()), func() {
		d.metrics.lateness.Observe(max(clock.Now().Sub(next), 0).Seconds())
		d.inbox.push(item{eco: id, part: part, tick: next})
	})
}

// confirmOwnership asks the group coordinator whether this member still holds part: a replica
// that was paused past its session timeout still believes it does until its next heartbeat.
func (d *Dialer) confirmOwnership(ctx context.Context, cl *kgo.Client, part int32) (bool, error) {
	member, gen := cl.GroupMetadata()
	if gen < 0 || member == "" {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	groups, err := kadm.NewClient(cl).DescribeGroups(ctx, d.cfg.Group)
	if err != nil {
		return false, fmt.Errorf("describe group: %w", err)
	}
	g, ok := groups[d.cfg.Group]
	if !ok || g.Err != nil {
		return false, fmt.Errorf("describe group %s: %v", d.cfg.Group, g.Err)
	}
	for _, m := range g.Members {
		if m.MemberID != member {
			continue
		}
		ca, ok := m.Assigned.AsConsumer()
		if !ok {
			return false, nil
		}
		for _, t := range ca.Topics {
			if t.Topic == topics.ECOEvents && slices.Contains(t.Partitions, part) {
				return true, nil
			}
		}
	}
	return false, nil
}
