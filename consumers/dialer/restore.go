package dialer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/dialer/ringdown"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/logging"
	"github.com/osprey-strike/strike/internal/topics"
)

// stateRead is what a restore read from the state partitions.
type stateRead struct {
	live map[string]*owned
	done map[string]int32
}

// readState reads strike.callout.state.v1 partitions ps from their start to their exact end:
// first it waits (up to RestoreTimeout) until no transaction is open there, so a dead owner's
// last transaction is decided, then it reads read-committed with the transaction markers kept
// (kgo.KeepControlRecords), so the last offset below the end is always seen, even when it is a
// marker or the log ends in aborted records. A fetch error fails the restore: deciding a
// partition without its state would redo or lose transitions.
func (d *Dialer) readState(ctx context.Context, ps []int32) (stateRead, error) {
	out := stateRead{live: map[string]*owned{}, done: map[string]int32{}}
	cl, err := kgo.NewClient(append(kafkaclient.Options(d.cfg.Brokers, d.cfg.Security, Name+"-restore", d.log, nil),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(100*time.Millisecond),
	)...)
	if err != nil {
		return out, fmt.Errorf("restore client: %w", err)
	}
	defer cl.Close()

	starts, ends, err := d.stableRange(ctx, kadm.NewClient(cl), ps)
	if err != nil {
		return out, err
	}
	offsets := map[int32]kgo.Offset{}
	for _, p := range ps {
		if starts[p] < ends[p] {
			offsets[p] = kgo.NewOffset().At(starts[p])
		}
	}
	if len(offsets) == 0 {
		return out, nil
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topics.CalloutState: offsets})
	rctx, cancel := context.WithTimeout(ctx, d.cfg.RestoreTimeout)
	defer cancel()
	for len(offsets) > 0 {
		fs := cl.PollFetches(rctx)
		if err := rctx.Err(); err != nil {
			return out, fmt.Errorf("read %s partitions %v to their end: %w", topics.CalloutState, ps, err)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = errors.Join(ferr, fmt.Errorf("%s/%d: %w", t, p, err)) })
		if ferr != nil {
			return out, fmt.Errorf("read state: %w", ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset+1 >= ends[r.Partition] {
				delete(offsets, r.Partition)
			}
			if r.Attrs.IsControl() || r.Offset >= ends[r.Partition] {
				return
			}
			d.restoreRecord(out, r)
		})
	}
	return out, nil
}

// restoreRecord applies one state record: a ring-down, a marker, or a tombstone (older
// releases deleted finished ring-downs).
func (d *Dialer) restoreRecord(out stateRead, r *kgo.Record) {
	id := string(r.Key)
	delete(out.live, id)
	delete(out.done, id)
	if r.Value == nil {
		return
	}
	var probe struct {
		Retired bool `json:"retired"`
	}
	if err := json.Unmarshal(r.Value, &probe); err != nil {
		d.log.Error().Err(err).Str(logging.FieldECO, id).Int64("offset", r.Offset).Msg("unreadable state skipped")
		return
	}
	if probe.Retired {
		out.done[id] = r.Partition
		return
	}
	var st ringdown.State
	if err := json.Unmarshal(r.Value, &st); err != nil {
		d.log.Error().Err(err).Str(logging.FieldECO, id).Int64("offset", r.Offset).Msg("unreadable state skipped")
		return
	}
	out.live[id] = &owned{st: &st, part: r.Partition}
}

// stableRange waits (up to RestoreTimeout) until no transaction is open on the state partitions
// (last stable offset = high watermark) and returns their start and end offsets.
func (d *Dialer) stableRange(ctx context.Context, adm *kadm.Client, ps []int32) (map[int32]int64, map[int32]int64, error) {
	deadline := time.Now().Add(d.cfg.RestoreTimeout)
	for {
		lso, err := adm.ListCommittedOffsets(ctx, topics.CalloutState)
		if err != nil {
			return nil, nil, fmt.Errorf("list stable offsets: %w", err)
		}
		hwm, err := adm.ListEndOffsets(ctx, topics.CalloutState)
		if err != nil {
			return nil, nil, fmt.Errorf("list end offsets: %w", err)
		}
		start, err := adm.ListStartOffsets(ctx, topics.CalloutState)
		if err != nil {
			return nil, nil, fmt.Errorf("list start offsets: %w", err)
		}
		starts, ends := map[int32]int64{}, map[int32]int64{}
		stable := true
		for _, p := range ps {
			l, ok1 := lso.Lookup(topics.CalloutState, p)
			h, ok2 := hwm.Lookup(topics.CalloutState, p)
			s, ok3 := start.Lookup(topics.CalloutState, p)
			if !ok1 || !ok2 || !ok3 || l.Err != nil || h.Err != nil || s.Err != nil {
				return nil, nil, fmt.Errorf("offsets of %s/%d unavailable", topics.CalloutState, p)
			}
			starts[p], ends[p] = s.Offset, l.Offset
			if l.Offset < h.Offset {
				stable = false
			}
		}
		if stable {
			return starts, ends, nil
		}
		if time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("%s partitions %v: a transaction stayed open past %v", topics.CalloutState, ps, d.cfg.RestoreTimeout)
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
