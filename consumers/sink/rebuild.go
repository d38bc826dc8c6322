package sink

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/internal/kafkaclient"
	"github.com/osprey-strike/strike/internal/projection"
)

// RebuildConfig configures Rebuild.
type RebuildConfig struct {
	// Brokers is a comma-separated seed list. Required.
	Brokers string
	// Security is how the clients authenticate and protect the wire (kafkaclient.Settings.Load);
	// the zero value is plaintext.
	Security kafkaclient.Security
	// Group is the live sink's group: the rebuilt offsets are stored under it, so the live sink
	// continues from where the rebuild stopped. Default DefaultGroup.
	Group string
	// Progress receives a progress display (per-partition offsets against end offsets) about
	// once per ProgressEvery; nil for none.
	Progress      io.Writer
	ProgressEvery time.Duration // default 1s
	// KafkaOpts are appended to the client options.
	KafkaOpts []kgo.Opt
}

// RebuildStats says what a rebuild did.
type RebuildStats struct {
	Records  int
	Applied  int
	Skipped  int
	Invalid  int // undecodable records: already dead-lettered by the live sink, not re-sent
	Duration time.Duration
}

// Rebuild projects every event from the earliest offsets into fresh tables (in a scratch schema
// beside the live one), up to the end offsets at its start, then swaps them in in one
// transaction: readers see the old tables or the new ones, never a mix. The live sink may keep
// running: after the swap its batches are fenced by the rebuilt offsets (it seeks back or skips
// ahead as needed), so nothing is lost or applied twice.
//
// Undecodable records are counted but not sent to the DLQ again; the live sink sent them when
// it first met them.
func Rebuild(ctx context.Context, deps Deps, cfg RebuildConfig) (RebuildStats, error) {
	return rebuild(ctx, deps, cfg, nil)
}

// rebuild is Rebuild with a test hook run after the fresh tables are filled, before the swap.
func rebuild(ctx context.Context, deps Deps, cfg RebuildConfig, beforeSwap func()) (RebuildStats, error) {
	var stats RebuildStats
	start := time.Now()
	if cfg.Brokers == "" {
		return stats, errors.New("sink rebuild: no Kafka brokers configured")
	}
	if deps.Pool == nil || deps.Validator == nil {
		return stats, errors.New("sink rebuild: Pool and Validator are required")
	}
	cfg.Group = cmp.Or(cfg.Group, DefaultGroup)
	cfg.ProgressEvery = cmp.Or(cfg.ProgressEvery, time.Second)

	var live string
	if err := deps.Pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&live); err != nil {
		return stats, fmt.Errorf("sink rebuild: current schema: %w", err)
	}
	scratch := live
	if len(scratch) > 50 {
		scratch = scratch[:50]
	}
	scratch += "_sink_rebuild"
	if err := projection.CreateScratch(ctx, deps.Pool, live, scratch); err != nil {
		return stats, fmt.Errorf("sink rebuild: %w", err)
	}

	cl, err := kgo.NewClient(append(kafkaclient.Options(cfg.Brokers, cfg.Security, Name+"-rebuild", deps.Log, nil),
		kgo.ConsumeTopics(Topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return stats, fmt.Errorf("sink rebuild: kafka client: %w", err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, Topics...)
	if err != nil {
		return stats, fmt.Errorf("sink rebuild: list end offsets: %w", err)
	}
	target := map[TP]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Partition >= 0 {
			target[TP{Topic: o.Topic, Partition: o.Partition}] = o.Offset
		}
	})
	if len(target) == 0 {
		return stats, fmt.Errorf("sink rebuild: none of %s exist", strings.Join(Topics, ", "))
	}
	// Records below the log start offset are gone (retention): the rebuild starts there.
	starts, err := kadm.NewClient(cl).ListStartOffsets(ctx, Topics...)
	if err != nil {
		return stats, fmt.Errorf("sink rebuild: list start offsets: %w", err)
	}
	pos := map[TP]int64{}
	starts.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Partition >= 0 {
			pos[TP{Topic: o.Topic, Partition: o.Partition}] = o.Offset
		}
	})
	done := func() bool {
		for tp, end := range target {
			if pos[tp] < end {
				return false
			}
		}
		return true
	}

	w := &writer{pool: deps.Pool, group: cfg.Group, searchPath: pgx.Identifier{scratch}.Sanitize() + ", " + pgx.Identifier{live}.Sanitize()}
	dec := decoder{v: deps.Validator, now: time.Now}
	lastProgress := time.Time{}
	for !done() {
		fetches := cl.PollRecords(ctx, 5000)
		if err := ctx.Err(); err != nil {
			return stats, fmt.Errorf("sink rebuild: %w", err)
		}
		if err := fetches.Err0(); err != nil && !errors.Is(err, context.Canceled) {
			deps.Log.Warn().Err(err).Msg("rebuild fetch error")
		}
		var items []item
		fetches.EachRecord(func(r *kgo.Record) {
			tp := TP{Topic: r.Topic, Partition: r.Partition}
			if end, ok := target[tp]; ok && r.Offset >= end {
				return // beyond the snapshot: the live sink will apply it
			}
			items = append(items, dec.decode(r))
		})
		var res applyResult
		if len(items) > 0 {
			var err error
			if res, err = w.applyDroppingPoison(ctx, items, nil); err != nil {
				return stats, fmt.Errorf("sink rebuild: %w", err)
			}
		}
		for i := range items {
			it := &items[i]
			pos[TP{Topic: it.rec.Topic, Partition: it.rec.Partition}] = it.rec.Offset + 1
			stats.Records++
			switch {
			case it.kind == itemApply && res.ignored[i]:
				stats.Skipped++
			case it.kind == itemApply:
				stats.Applied++
			case it.kind == itemSkip:
				stats.Skipped++
			case it.kind == itemDLQ:
				stats.Invalid++
			}
		}
		if cfg.Progress != nil && (time.Since(lastProgress) >= cfg.ProgressEvery || done()) {
			printProgress(cfg.Progress, pos, target)
			lastProgress = time.Now()
		}
	}
	// Store a position for every partition, also those whose records are all gone (retention),
	// so a live sink that is ahead anywhere sees the stored offset behind it and seeks back.
	if err := storePositions(ctx, deps, w, pos); err != nil {
		return stats, err
	}
	if beforeSwap != nil {
		beforeSwap()
	}
	if err := projection.SwapIn(ctx, deps.Pool, live, scratch); err != nil {
		return stats, fmt.Errorf("sink rebuild: %w", err)
	}
	stats.Duration = time.Since(start)
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, "rebuilt and swapped in: %d records, %d projected, %d skipped (unknown types, tenant mismatches), %d undecodable, in %s\n",
			stats.Records, stats.Applied, stats.Skipped, stats.Invalid, stats.Duration.Round(time.Millisecond))
	}
	return stats, nil
}

func storePositions(ctx context.Context, deps Deps, w *writer, pos map[TP]int64) error {
	return pgx.BeginFunc(ctx, deps.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('search_path', $1, true)`, w.searchPath); err != nil {
			return fmt.Errorf("sink rebuild: set search_path: %w", err)
		}
		b := &pgx.Batch{}
		for tp, off := range pos {
			if off > 0 { // nothing is ever ahead of offset 0; a missing row reads as 0
				o := projection.OffsetStmt(w.group, tp, off)
				b.Queue(o.SQL, o.Args...)
			}
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("sink rebuild: store positions: %w", err)
		}
		return nil
	})
}

func printProgress(w io.Writer, pos, target map[TP]int64) {
	tps := make([]TP, 0, len(target))
	for tp := range target {
		tps = append(tps, tp)
	}
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
	var total, reached int64
	var b strings.Builder
	for _, tp := range tps {
		end := target[tp]
		p := min(pos[tp], end)
		total += end
		reached += p
		fmt.Fprintf(&b, "  %s/%d  %d/%d\n", tp.Topic, tp.Partition, p, end)
	}
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(reached) / float64(total)
	}
	fmt.Fprintf(w, "rebuild %5.1f%%  (%d of %d offsets)\n%s", pct, reached, total, b.String())
}
