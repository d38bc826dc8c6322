package dialer

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/logging"
	"github.com/osprey-strike/strike/internal/topics"
)

// restoreIdle is how long a restore read may see nothing new before the partitions count as
// read to their end: read-committed fetches skip transaction markers without surfacing their
// offsets, so "the last record's offset + 1 = end" is not always reached.
const restoreIdle = 500 * time.Millisecond

// restore reads strike.callout.state.v1 partitions ps from the start to their last stable
// offset and resumes every ring-down in them: timers re-armed from the state, calls whose intent
// was committed without a SID placed again. It runs on the Run goroutine, between polls.
func (d *Dialer) restore(ctx context.Context, ps []int32) error {
	if len(ps) == 0 {
		return nil
	}
	start := time.Now()
	offsets := map[int32]kgo.Offset{}
	for _, p := range ps {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append(kafkaclient.Options(d.cfg.Brokers, Name+"-restore", d.log, nil),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topics.CalloutState: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(100*time.Millisecond),
	)...)
	if err != nil {
		return fmt.Errorf("restore client: %w", err)
	}
	defer cl.Close()

	ends, err := d.stableEnds(ctx, kadm.NewClient(cl), ps)
	if err != nil {
		return err
	}
	want := 0
	for _, e := range ends {
		if e > 0 {
			want++
		}
	}
	states := map[string]*owned{}
	reached := map[int32]bool{} // the record just below the stable end was read
	seen := map[int32]bool{}    // some committed record was read
	deadline := time.Now().Add(d.cfg.RestoreTimeout)
	for len(reached) < want {
		pctx, cancel := context.WithTimeout(ctx, restoreIdle)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		recs := fs.Records()
		if len(recs) == 0 {
			// Idle. What is left below the stable end may be only transaction markers (or
			// aborted records), which read-committed fetches skip without a trace: done once
			// every partition has shown its committed records. A partition that has shown
			// none is waited for until RestoreTimeout (it may hold only aborted data).
			done := true
			for p, e := range ends {
				if e > 0 && !reached[p] && !seen[p] {
					done = false
				}
			}
			if done || time.Now().After(deadline) {
				break
			}
			continue
		}
		for _, r := range recs {
			seen[r.Partition] = true
			if r.Offset+1 >= ends[r.Partition] {
				reached[r.Partition] = true
			}
			id := string(r.Key)
			if r.Value == nil {
				delete(states, id)
				continue
			}
			var st State
			if err := json.Unmarshal(r.Value, &st); err != nil {
				d.log.Error().Err(err).Str(logging.FieldECO, id).Int64("offset", r.Offset).Msg("unreadable state skipped")
				continue
			}
			states[id] = &owned{st: &st, partition: r.Partition}
		}
	}
	for id, o := range states {
		if old := d.states[id]; old != nil && old.timer != nil {
			old.timer.Stop()
		}
		d.states[id] = o
		d.arm(id, o)
		for _, c := range d.machine.Resume(o.st) {
			d.partsMu.Lock()
			orphan, isOrphan := d.orphans[c.Call.ID]
			delete(d.orphans, c.Call.ID)
			running := d.inflight[c.Call.ID]
			d.partsMu.Unlock()
			switch {
			case isOrphan:
				d.inbox.push(orphan)
			case running: // its result will come as an input
			default:
				d.enqueue(d.job(c, o))
			}
		}
	}
	d.metrics.restored.Add(float64(len(states)))
	d.metrics.active.Set(float64(d.activeCount()))
	d.log.Info().Ints32("partitions", ps).Int("ring_downs", len(states)).Dur("took", time.Since(start)).Msg("partitions assigned; ring-downs restored")
	return nil
}

// stableEnds waits (up to RestoreTimeout) until no transaction is open on the state partitions
// (last stable offset = high watermark), so a dead owner's last transaction is decided before
// we read, and returns the end offsets.
func (d *Dialer) stableEnds(ctx context.Context, adm *kadm.Client, ps []int32) (map[int32]int64, error) {
	deadline := time.Now().Add(d.cfg.RestoreTimeout)
	for {
		lso, err := adm.ListCommittedOffsets(ctx, topics.CalloutState)
		if err != nil {
			return nil, fmt.Errorf("list stable offsets: %w", err)
		}
		hwm, err := adm.ListEndOffsets(ctx, topics.CalloutState)
		if err != nil {
			return nil, fmt.Errorf("list end offsets: %w", err)
		}
		ends := map[int32]int64{}
		stable := true
		for _, p := range ps {
			l, ok1 := lso.Lookup(topics.CalloutState, p)
			h, ok2 := hwm.Lookup(topics.CalloutState, p)
			if !ok1 || !ok2 || l.Err != nil || h.Err != nil {
				return nil, fmt.Errorf("offsets of %s/%d unavailable", topics.CalloutState, p)
			}
			ends[p] = l.Offset
			if l.Offset < h.Offset {
				stable = false
			}
		}
		if stable || time.Now().After(deadline) {
			return ends, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
