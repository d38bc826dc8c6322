// Package dlqreplay reads strike.dlq.v1 and re-produces the original records it holds: each
// selected DLQ record's original value, with its original key and headers, to its origin topic
// (or another), marked with the DLQ position it was replayed from.
//
// A run reads from the start of the DLQ (or the first record at or after Since) up to the end
// offsets it finds when it starts, so records that arrive meanwhile (a replayed record refused
// again) are left for the next run. A record whose original value, headers or key were cut to
// fit the DLQ cannot be replayed: it is skipped and counted.
//
// Replaying is idempotent only as far as the consumers drop duplicates by ce_id: Strike's do, so
// replaying a record that was in fact applied changes nothing there.
package dlqreplay

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/dlq"
	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

// HeaderReplayOf marks a replayed record with the DLQ record it came from, as
// "strike.dlq.v1/<partition>/<offset>", so a record that fails again and returns to the DLQ is
// recognisable as a replay (its original headers carry this header) and a loop can be seen.
const HeaderReplayOf = "strike_dlq_replay_of"

// Why a selected record is skipped.
const (
	SkipValueTruncated   = "original value truncated"
	SkipHeadersTruncated = "original headers truncated"
	SkipKeyMaybeCut      = "key may have been cut (1 KiB)"
	SkipUndecodable      = "DLQ value does not decode"
)

// Filter selects DLQ records; empty fields select everything.
type Filter struct {
	Reasons     []string // any of these strike_dlq_reason values
	OriginTopic string   // strike_dlq_origin_topic
	Consumer    string   // strike_dlq_consumer
	Key         *string  // the record key, exactly
	Since       time.Time
}

// Options configure a Run.
type Options struct {
	Filter
	// ToTopic, when set, receives every replayed record instead of its origin topic.
	ToTopic string
	// DryRun selects and reports records but produces nothing.
	DryRun bool
	// OnItem is called for every selected record, in DLQ order per partition (replayed, would be
	// replayed, or skipped). It is called from Run's goroutine.
	OnItem func(Item)
	// Progress, when set, is called every ProgressEvery (default 1 s) while Run runs.
	Progress      func(Counts)
	ProgressEvery time.Duration
}

// Counts are a run's figures.
type Counts struct {
	Read     int64 // DLQ records read (control records not counted)
	Selected int64 // records the filter selected
	Replayed int64 // records produced and acknowledged (in a dry run: would be replayed)
	Skipped  int64 // selected records that cannot be replayed
}

// Item is one selected DLQ record.
type Item struct {
	Partition       int32 // in strike.dlq.v1
	Offset          int64 // in strike.dlq.v1
	Reason          string
	Consumer        string
	OriginTopic     string
	OriginPartition int32
	OriginOffset    int64
	Key             []byte
	Target          string // the topic it is (or would be) produced to
	Skip            string // why it is skipped; empty if replayed
}

// Run replays the DLQ records opts select, connecting with base (seed brokers, security). It
// returns the figures and the first error; records already produced stay produced.
func Run(ctx context.Context, base []kgo.Opt, opts Options) (Counts, error) {
	var c counts
	adminCl, err := kgo.NewClient(base...)
	if err != nil {
		return Counts{}, err
	}
	defer adminCl.Close()
	from, end, err := kafkaclient.StableRange(ctx, kadm.NewClient(adminCl), topics.DLQ, opts.Since)
	if err != nil {
		return Counts{}, err
	}
	if len(from) == 0 {
		report(opts, &c)
		return c.get(), nil
	}

	cl, err := kgo.NewClient(append(slices.Clone(base),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topics.DLQ: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records (transaction markers) are returned so that a partition whose last
		// offset is a marker is seen to be read to its end.
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return Counts{}, err
	}
	defer cl.Close()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	if opts.Progress != nil {
		every := opts.ProgressEvery
		if every <= 0 {
			every = time.Second
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					opts.Progress(c.get())
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()

	var (
		prodMu  sync.Mutex
		prodErr error
	)
	for len(end) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return c.get(), err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("fetch %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return c.get(), ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			last, ok := end[r.Partition]
			if !ok || r.Offset >= last {
				return
			}
			if r.Offset >= last-1 {
				delete(end, r.Partition)
			}
			if r.Attrs.IsControl() {
				return
			}
			c.read.Add(1)
			it, out, ok := selectRecord(r, opts)
			if !ok {
				return
			}
			c.selected.Add(1)
			switch {
			case it.Skip != "":
				c.skipped.Add(1)
			case opts.DryRun:
				c.replayed.Add(1)
			default:
				cl.Produce(ctx, out, func(_ *kgo.Record, err error) {
					if err != nil {
						prodMu.Lock()
						if prodErr == nil {
							prodErr = fmt.Errorf("produce replay of %s/%d/%d to %s: %w", topics.DLQ, it.Partition, it.Offset, it.Target, err)
						}
						prodMu.Unlock()
						return
					}
					c.replayed.Add(1)
				})
			}
			if opts.OnItem != nil {
				opts.OnItem(it)
			}
		})
		prodMu.Lock()
		err := prodErr
		prodMu.Unlock()
		if err != nil {
			return c.get(), err
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return c.get(), err
	}
	prodMu.Lock()
	err = prodErr
	prodMu.Unlock()
	report(opts, &c)
	return c.get(), err
}

func report(opts Options, c *counts) {
	if opts.Progress != nil {
		opts.Progress(c.get())
	}
}

// selectRecord applies the filter to a DLQ record; for a selected one it returns its item and,
// unless it is skipped, the record to produce.
func selectRecord(r *kgo.Record, opts Options) (Item, *kgo.Record, bool) {
	h := headers(r)
	if len(opts.Reasons) > 0 && !slices.Contains(opts.Reasons, h[dlq.HeaderReason]) {
		return Item{}, nil, false
	}
	if opts.OriginTopic != "" && h[dlq.HeaderOriginTopic] != opts.OriginTopic {
		return Item{}, nil, false
	}
	if opts.Consumer != "" && h[dlq.HeaderConsumer] != opts.Consumer {
		return Item{}, nil, false
	}
	if opts.Key != nil && string(r.Key) != *opts.Key {
		return Item{}, nil, false
	}
	it := Item{
		Partition: r.Partition, Offset: r.Offset,
		Reason: h[dlq.HeaderReason], Consumer: h[dlq.HeaderConsumer], OriginTopic: h[dlq.HeaderOriginTopic],
		Key: r.Key,
	}
	p, _ := strconv.ParseInt(h[dlq.HeaderOriginPartition], 10, 32)
	it.OriginPartition = int32(p)
	it.OriginOffset, _ = strconv.ParseInt(h[dlq.HeaderOriginOffset], 10, 64)

	var rec schemas.DLQRecord
	value, err := decode(r.Value, &rec)
	if err == nil && rec.Origin.Topic == "" {
		err = errors.New("no origin topic")
	}
	if err == nil {
		it.OriginTopic = rec.Origin.Topic
	}
	it.Target = it.OriginTopic
	if opts.ToTopic != "" {
		it.Target = opts.ToTopic
	}
	switch {
	case h[dlq.HeaderTruncated] == "true" || rec.OriginalTruncated:
		it.Skip = SkipValueTruncated
	case err != nil:
		it.Skip = SkipUndecodable + ": " + err.Error()
	case rec.OriginalHeadersTruncated:
		it.Skip = SkipHeadersTruncated
	case len(r.Key) >= dlq.MaxKeyBytes: // maybe cut: replayed, it would go to the wrong key
		it.Skip = SkipKeyMaybeCut
	}
	if it.Skip != "" {
		return it, nil, true
	}
	out := &kgo.Record{Topic: it.Target, Key: r.Key, Value: value}
	names := make([]string, 0, len(rec.OriginalHeaders))
	for k := range rec.OriginalHeaders {
		if k != HeaderReplayOf {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		out.Headers = append(out.Headers, kgo.RecordHeader{Key: k, Value: []byte(rec.OriginalHeaders[k])})
	}
	out.Headers = append(out.Headers, kgo.RecordHeader{Key: HeaderReplayOf, Value: []byte(ReplayOf(r.Partition, r.Offset))})
	return it, out, true
}

// ReplayOf is the value of HeaderReplayOf for the DLQ record at partition and offset.
func ReplayOf(partition int32, offset int64) string {
	return fmt.Sprintf("%s/%d/%d", topics.DLQ, partition, offset)
}

// decode reads a DLQ value and returns the original value it holds.
func decode(v []byte, rec *schemas.DLQRecord) ([]byte, error) {
	if err := json.Unmarshal(v, rec); err != nil {
		return nil, err
	}
	switch {
	case rec.OriginalValue != nil:
		return []byte(*rec.OriginalValue), nil
	case rec.OriginalValueBase64 != "":
		return base64.StdEncoding.DecodeString(rec.OriginalValueBase64)
	}
	return []byte{}, nil // an empty original
}

func headers(r *kgo.Record) map[string]string {
	m := make(map[string]string, len(r.Headers))
	for _, h := range r.Headers {
		if _, ok := m[h.Key]; !ok {
			m[h.Key] = string(h.Value)
		}
	}
	return m
}

type counts struct{ read, selected, replayed, skipped atomic.Int64 }

func (c *counts) get() Counts {
	return Counts{Read: c.read.Load(), Selected: c.selected.Load(), Replayed: c.replayed.Load(), Skipped: c.skipped.Load()}
}
