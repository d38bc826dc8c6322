package sink

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TP names a partition.
type TP struct {
	Topic     string
	Partition int32
}

// writer applies decoded batches to PostgreSQL together with the offsets they reach.
type writer struct {
	pool  *pgxpool.Pool
	group string
	// searchPath, when set, is the transaction's search_path: the rebuild writes the same
	// statements into fresh tables in its own schema this way.
	searchPath string
	// noOffsets writes rows without reading or storing offsets (ApplyRecords).
	noOffsets bool
	// midTx is a test hook run after the writes are sent, before the commit; nil in production.
	midTx func()
}

// applyResult is what a committed batch did.
type applyResult struct {
	next   map[TP]int64 // stored next offset per partition written
	rewind map[TP]int64 // partitions whose stored offset is behind what we consumed: seek back
	stale  int          // records already applied (a replay), left out
	// ignored are the items whose board write changed nothing because the row belongs to
	// other tenants than the event names: none of their writes took effect.
	ignored map[int]bool
}

// poisonError is a statement PostgreSQL refused for its data (not for being unavailable): the
// item is sent to the DLQ and the batch is retried without it.
type poisonError struct {
	item int
	err  error
}

func (e *poisonError) Error() string { return fmt.Sprintf("record refused by PostgreSQL: %v", e.err) }
func (e *poisonError) Unwrap() error { return e.err }

// apply writes items in one transaction with the offsets, in four round trips whatever the batch
// size (begin, read offsets, the pipelined writes, commit).
//
// The stored offsets fence the writes. expected is where this consumer believes each partition
// stands (from the assignment or its last commit; absent when unknown):
//   - records below the stored offset were applied already (a replay, or another replica got
//     there first) and are left out;
//   - a stored offset behind expected (a missing row counts as 0) means someone rewound it (a
//     rebuild was swapped in): the partition is reported in rewind and nothing of it is written,
//     so the caller seeks back.
func (w *writer) apply(ctx context.Context, items []item, expected map[TP]int64) (applyResult, error) {
	res := applyResult{next: map[TP]int64{}, rewind: map[TP]int64{}, ignored: map[int]bool{}}
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return res, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after commit

	if w.searchPath != "" {
		if _, err := tx.Exec(ctx, `SELECT set_config('search_path', $1, true)`, w.searchPath); err != nil {
			return res, fmt.Errorf("set search_path: %w", err)
		}
	}
	stored := map[TP]int64{}
	if !w.noOffsets {
		if stored, err = readOffsets(ctx, tx, w.group, true); err != nil {
			return res, err
		}
	}
	b := &pgx.Batch{}
	owner := make([]int, 0, len(items)*2) // queued statement -> item index
	// What a queued statement's row count says of its item's tenants: boardWrite ignored the
	// event when it changed no row, probe when it found a row (sqlOtherTenants).
	checks := make([]tenantCheck, 0, len(items)*2)
	for i := range items {
		it := &items[i]
		tp := TP{it.rec.Topic, it.rec.Partition}
		st, hasSt := stored[tp]
		// A partition this replica has written that has no stored row at all was swapped out
		// by a rebuild that found nothing there yet: it stands at 0.
		if exp, ok := expected[tp]; ok && st < exp {
			res.rewind[tp] = st
			continue
		}
		it.stale = hasSt && it.rec.Offset < st
		if it.stale {
			res.stale++
			continue
		}
		if it.kind == itemApply {
			for _, s := range it.stmts {
				b.Queue(s.sql, s.args...)
				owner = append(owner, i)
				checks = append(checks, checkOf(s.sql))
			}
		}
		res.next[tp] = it.rec.Offset + 1
	}
	for tp, next := range res.next {
		if w.noOffsets {
			break
		}
		b.Queue(sqlOffsets, w.group, tp.Topic, tp.Partition, next)
		owner = append(owner, -1)
		checks = append(checks, noCheck)
	}
	if b.Len() > 0 {
		br := tx.SendBatch(ctx, b)
		for q := range b.Len() {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				if isDataError(err) && owner[q] >= 0 {
					return res, &poisonError{item: owner[q], err: err}
				}
				return res, fmt.Errorf("write batch: %w", err)
			}
			if n := tag.RowsAffected(); (checks[q] == boardWrite && n == 0) || (checks[q] == probe && n > 0) {
				res.ignored[owner[q]] = true
			}
		}
		if err := br.Close(); err != nil {
			return res, fmt.Errorf("write batch: %w", err)
		}
	}
	if w.midTx != nil {
		w.midTx()
	}
	if err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("commit: %w", err)
	}
	return res, nil
}

type tenantCheck int

const (
	noCheck tenantCheck = iota
	boardWrite
	probe
)

func checkOf(sql string) tenantCheck {
	switch sql {
	case sqlBoard:
		return boardWrite
	case sqlOtherTenants:
		return probe
	}
	return noCheck
}

// readOffsets returns the stored next offsets of group; forUpdate locks them for the transaction
// so two replicas that both think they own a partition serialize.
func readOffsets(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, group string, forUpdate bool) (map[TP]int64, error) {
	sql := `SELECT topic, partition, next_offset FROM sink_offsets WHERE consumer_group = $1`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	rows, err := q.Query(ctx, sql, group)
	if err != nil {
		return nil, fmt.Errorf("read offsets: %w", err)
	}
	out := map[TP]int64{}
	var tp TP
	var off int64
	_, err = pgx.ForEachRow(rows, []any{&tp.Topic, &tp.Partition, &off}, func() error {
		out[tp] = off
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read offsets: %w", err)
	}
	return out, nil
}

// isDataError reports whether PostgreSQL refused a statement for its data (class 22 data
// exception, class 23 integrity violation), which retrying cannot fix, as opposed to the server
// being unavailable, which it can.
func isDataError(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return len(pgErr.Code) == 5 && (pgErr.Code[:2] == "22" || pgErr.Code[:2] == "23")
}

// StoredOffsets returns group's next offsets as stored in sink_offsets, by topic and partition:
// the sink's position, which Kafka's committed offsets do not hold (for lag metrics).
func StoredOffsets(ctx context.Context, pool *pgxpool.Pool, group string) (map[string]map[int32]int64, error) {
	stored, err := readOffsets(ctx, pool, group, false)
	if err != nil {
		return nil, err
	}
	out := map[string]map[int32]int64{}
	for tp, off := range stored {
		if out[tp.Topic] == nil {
			out[tp.Topic] = map[int32]int64{}
		}
		out[tp.Topic][tp.Partition] = off
	}
	return out, nil
}
