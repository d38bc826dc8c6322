package dialer

import (
	"container/heap"
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/osprey-strike/strike/consumers/dialer/ringdown"
	"github.com/osprey-strike/strike/internal/twilio"
)

// job is a side effect ready to run: everything it needs is copied out of the state, so it never
// reads a ring-down after the transaction that decided it.
type job struct {
	cmd     ringdown.Command
	part    int32
	account string // the (sub)account the call goes out under: its CPS limit applies
	req     twilio.CallRequest
	log     zerolog.Logger
	seq     uint64 // submission order: oldest first among equals
	epoch   uint64 // the partition's epoch the job was decided in
}

// effects runs the side effects of committed transitions (CreateCall, EndCall, FetchCall, the
// Calls list) and owns everything about them: which partitions may have side effects, the
// placements waiting on each account's CPS limit, and the jobs in flight, per partition, under
// its own lock.
//
// The promises it keeps: a placement leaves with its partition (revoke drops the queued ones and
// waits, bounded, for those in flight); ownership is checked just before CreateCall, and
// confirmed with the broker when the replica has not heard from it for a while (a process paused
// past its session timeout is a zombie that must not call); when calls wait on the CPS limit,
// higher-priority ECOs' first calls go first, then first calls, then the oldest; none starves,
// since within a class the order is by age.
type effects struct {
	twilio  Caller
	results func(item) // hands a result back to the loop; may block (back-pressure)
	confirm func(ctx context.Context, part int32) (bool, error)
	// generation is the group generation the client is in now (franz-go's GroupMetadata).
	generation func() int32
	log        zerolog.Logger
	metrics    *metrics
	cps        float64
	cpsFor     map[string]float64
	workers    int
	maxWait    time.Duration // revoke's bound on in-flight work
	freshFor   time.Duration // how long a broker confirmation of ownership holds

	mu        sync.Mutex
	changed   *sync.Cond // queues, ownership or in-flight changed
	parts     map[int32]bool
	epochs    map[int32]uint64 // per partition: how many times it was revoked here
	gen       int32            // the group generation of the assignment held
	confirmed time.Time        // last time the broker confirmed this member's generation
	accounts  map[string]*account
	other     []job // EndCall, FetchCall, lookups: not paced
	inflight  map[int32]int
	running   int
	seq       uint64
	closed    bool
	wg        sync.WaitGroup
}

// account is one Twilio (sub)account's placements and CPS limit.
type account struct {
	limit *rate.Limiter
	queue placements
}

func newEffects(tw Caller, results func(item), confirm func(context.Context, int32) (bool, error), generation func() int32,
	cfg Config, log zerolog.Logger, m *metrics) *effects {
	e := &effects{twilio: tw, results: results, confirm: confirm, generation: generation, log: log, metrics: m, cps: cfg.CPS, cpsFor: cfg.CPSOverrides,
		workers: cfg.Workers, maxWait: cfg.RevokeWait, freshFor: cfg.OwnershipFresh,
		parts: map[int32]bool{}, epochs: map[int32]uint64{}, accounts: map[string]*account{}, inflight: map[int32]int{}}
	e.changed = sync.NewCond(&e.mu)
	return e
}

// held lists the partitions that may have side effects now.
func (e *effects) held() []int32 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ps []int32
	for p := range e.parts {
		ps = append(ps, p)
	}
	return ps
}

// assign lets partitions of generation gen have side effects; it returns their epochs.
func (e *effects) assign(ps []int32, gen int32) ownership {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.gen = gen
	o := make(ownership, len(ps))
	for _, p := range ps {
		e.parts[p] = true
		o[p] = e.epochs[p]
	}
	return o
}

// revoke stops side effects of ps: queued ones are dropped (the new owner decides them again from
// the state) and in-flight ones are waited for, at most maxWait, so that by the time the group
// hands ps over, no call of theirs is still being placed here. A CreateCall that outlives the
// wait is found by the new owner, which confirms every attempt without a SID before placing it.
func (e *effects) revoke(ps []int32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	gone := map[int32]bool{}
	for _, p := range ps {
		delete(e.parts, p)
		e.epochs[p]++
		gone[p] = true
	}
	dropped := 0
	for _, a := range e.accounts {
		n := len(a.queue)
		a.queue = slices.DeleteFunc(a.queue, func(j job) bool { return gone[j.part] })
		heap.Init(&a.queue)
		dropped += n - len(a.queue)
	}
	n := len(e.other)
	e.other = slices.DeleteFunc(e.other, func(j job) bool { return gone[j.part] })
	dropped += n - len(e.other)
	e.metrics.queued.Set(float64(e.pendingLocked()))
	if dropped > 0 {
		e.metrics.dropped.Add(float64(dropped))
	}
	deadline := time.Now().Add(e.maxWait)
	for e.inflightOf(ps) > 0 && time.Now().Before(deadline) {
		// Cond has no timed wait: a short timer broadcasts so the deadline is seen.
		t := time.AfterFunc(10*time.Millisecond, e.changed.Broadcast)
		e.changed.Wait()
		t.Stop()
	}
	if left := e.inflightOf(ps); left > 0 {
		e.log.Warn().Ints32("partitions", ps).Int("in_flight", left).Msg("revoked with Twilio requests still in flight; the new owner confirms them before placing")
	}
	e.changed.Broadcast()
}

func (e *effects) inflightOf(ps []int32) int {
	n := 0
	for _, p := range ps {
		n += e.inflight[p]
	}
	return n
}

// ownership maps partitions to the epoch they were assigned in.
type ownership map[int32]uint64

// ownsSince reports whether p has been owned without interruption since its epoch was epoch.
// Owned again after a revoke is not the same: another replica may have changed its ring-downs
// in between, and the loop must restore them before deciding anything for them.
func (e *effects) ownsSince(p int32, epoch uint64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.parts[p] && e.epochs[p] == epoch
}

// confirmed records that the broker just accepted this member's generation (a fenced commit).
func (e *effects) confirmedNow() {
	e.mu.Lock()
	e.confirmed = time.Now()
	e.mu.Unlock()
}

// submit queues a job of a committed transaction; a job of a partition no longer owned in the
// epoch it was decided in is dropped (the owner restores the state that decided it).
func (e *effects) submit(j job) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.parts[j.part] || e.epochs[j.part] != j.epoch || e.closed {
		e.metrics.dropped.Inc()
		return
	}
	e.seq++
	j.seq = e.seq
	if j.cmd.Kind == ringdown.CmdPlace {
		a := e.accounts[j.account]
		if a == nil {
			a = &account{limit: rate.NewLimiter(e.limitFor(j.account), 1)}
			e.accounts[j.account] = a
		}
		heap.Push(&a.queue, j)
	} else {
		e.other = append(e.other, j)
	}
	e.metrics.queued.Set(float64(e.pendingLocked()))
	e.changed.Broadcast()
}

func (e *effects) limitFor(account string) rate.Limit {
	cps, ok := e.cpsFor[account]
	if !ok {
		cps = e.cps
	}
	if cps <= 0 || math.IsInf(cps, 1) {
		return rate.Inf
	}
	return rate.Limit(cps)
}

// pending is the number of queued jobs (the loop stops taking new ECOs above a bound).
func (e *effects) pending() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pendingLocked()
}

func (e *effects) pendingLocked() int {
	n := len(e.other)
	for _, a := range e.accounts {
		n += len(a.queue)
	}
	return n
}

// run dispatches jobs until stop: unpaced ones at once, placements when their account's limit
// allows, at most workers at a time.
func (e *effects) run(ctx context.Context) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for !e.closed {
		j, wait, ok := e.next()
		if !ok {
			if wait > 0 {
				t := time.AfterFunc(wait, e.changed.Broadcast)
				e.changed.Wait()
				t.Stop()
			} else {
				e.changed.Wait()
			}
			continue
		}
		e.inflight[j.part]++
		e.running++
		e.metrics.queued.Set(float64(e.pendingLocked()))
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.perform(ctx, j)
			e.mu.Lock()
			e.inflight[j.part]--
			if e.inflight[j.part] <= 0 {
				delete(e.inflight, j.part)
			}
			e.running--
			e.changed.Broadcast()
			e.mu.Unlock()
		}()
	}
}

// next picks the job to start now, or how long until a placement's limit allows one (0: wait
// for a change). Called with mu held.
func (e *effects) next() (job, time.Duration, bool) {
	if e.running >= e.workers {
		return job{}, 0, false
	}
	if len(e.other) > 0 {
		j := e.other[0]
		e.other[0] = job{}
		e.other = e.other[1:]
		return j, 0, true
	}
	now := time.Now()
	var wait time.Duration
	for _, a := range e.accounts {
		if len(a.queue) == 0 {
			continue
		}
		if a.limit.AllowN(now, 1) {
			return heap.Pop(&a.queue).(job), 0, true
		}
		r := a.limit.ReserveN(now, 1)
		d := r.DelayFrom(now)
		r.CancelAt(now)
		if wait == 0 || d < wait {
			wait = d
		}
	}
	return job{}, wait, false
}

// stop ends dispatching and waits for the jobs in flight.
func (e *effects) stop() {
	e.mu.Lock()
	e.closed = true
	e.changed.Broadcast()
	e.mu.Unlock()
	e.wg.Wait()
}

// mayCall is the last check before CreateCall: the partition is still this replica's, and the
// broker confirmed the replica's generation recently (else it is asked now).
func (e *effects) mayCall(ctx context.Context, part int32) bool {
	e.mu.Lock()
	owned, fresh, gen := e.parts[part], time.Since(e.confirmed) < e.freshFor, e.gen
	e.mu.Unlock()
	if !owned || gen != e.generation() {
		return false // revoked, or a rebalance began: the next assignment decides
	}
	if fresh {
		return true
	}
	ok, err := e.confirm(ctx, part)
	if err != nil {
		e.log.Warn().Err(err).Int32("partition", part).Msg("ownership could not be confirmed; call not placed")
		return false
	}
	if ok {
		e.confirmedNow()
	}
	return ok
}

// perform runs one job and hands its result back.
func (e *effects) perform(ctx context.Context, j job) {
	c := j.cmd
	switch c.Kind {
	case ringdown.CmdPlace:
		if !e.mayCall(ctx, j.part) {
			e.metrics.dropped.Inc()
			return
		}
		j.log.Debug().Int32("partition", j.part).Msg("placing call")
		call, err := e.twilio.CreateCall(ctx, j.req)
		p := ringdown.Placed{CallID: c.Call.ID, SID: call.SID}
		switch {
		case err == nil:
		case ctx.Err() != nil && !twilio.MayHaveCreated(err):
			return // shutting down before Twilio saw it: the next owner places it
		case twilio.IsAccountProblem(err):
			p.Err, p.Detail = ringdown.PlaceAccount, err.Error()
		case twilio.IsInvalidNumber(err), errors.Is(err, twilio.ErrRejected), errors.Is(err, twilio.ErrNotFound):
			p.Err, p.Detail = ringdown.PlaceInvalidNumber, err.Error()
		case twilio.MayHaveCreated(err):
			p.Err, p.Detail = ringdown.PlaceUncertain, err.Error()
		default:
			p.Err, p.Detail = ringdown.PlaceTransient, err.Error()
		}
		if err != nil {
			e.metrics.placeFailures.WithLabelValues(p.Err).Inc()
			j.log.Warn().Err(err).Str("class", p.Err).Msg("call not placed")
		}
		e.results(item{eco: c.ECOID, part: j.part, placed: &p})
	case ringdown.CmdFetch:
		call, err := e.twilio.FetchCall(ctx, j.account, c.Call.SID)
		f := ringdown.Fetched{CallID: c.Call.ID, SID: c.Call.SID, Status: call.Status, Duration: call.Duration}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			f.Err = err.Error()
			j.log.Warn().Err(err).Msg("reconciliation fetch failed; retried later")
		}
		e.results(item{eco: c.ECOID, part: j.part, fetched: &f})
	case ringdown.CmdLookup:
		calls, err := e.twilio.FindCalls(ctx, j.account, j.req.To, j.req.From, c.Call.IntentAt)
		f := ringdown.Found{CallID: c.Call.ID}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			f.Err = err.Error()
			j.log.Warn().Err(err).Msg("looking up an unsure call failed; retried later")
		}
		for _, x := range calls {
			f.Calls = append(f.Calls, ringdown.FoundCall{SID: x.SID, Status: x.Status, Duration: x.Duration})
		}
		e.results(item{eco: c.ECOID, part: j.part, found: &f})
	case ringdown.CmdEnd:
		if err := e.twilio.EndCall(ctx, j.account, c.Call.SID); err != nil && ctx.Err() == nil {
			// The call's own callbacks (or the reconciliation) still end it in the state.
			j.log.Warn().Err(err).Str("call_sid", c.Call.SID).Msg("hang-up failed")
		}
	}
}
