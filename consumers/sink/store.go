package sink

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/osprey-strike/strike/internal/projection"
)

// TP names a partition.
type TP = projection.TP

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
		if stored, err = projection.ReadOffsets(ctx, tx, w.group, true); err != nil {
			return res, err
		}
	}
	b := &pgx.Batch{}
	owner := make([]int, 0, len(items)*2) // queued statement -> item index
	// What a queued statement's row count says of its item's tenants: boardWrite ignored the
	// event when it changed no row, probe when it found a row (projection.OtherTenantsProbe).
	checks := make([]tenantCheck, 0, len(items)*2)
	for i := range items {
		it := &items[i]
		tp := TP{Topic: it.rec.Topic, Partition: it.rec.Partition}
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
				b.Queue(s.SQL, s.Args...)
				owner = append(owner, i)
				checks = append(checks, checkOf(s))
			}
		}
		res.next[tp] = it.rec.Offset + 1
	}
	for tp, next := range res.next {
		if w.noOffsets {
			break
		}
		o := projection.OffsetStmt(w.group, tp, next)
		b.Queue(o.SQL, o.Args...)
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

// applyDroppingPoison is apply that drops each item PostgreSQL refuses for its data (marking it
// itemDLQ) and writes the batch again without it, for the callers that do not dead-letter
// (the rebuild, ApplyRecords): the live sink sends a refused record to the DLQ first.
func (w *writer) applyDroppingPoison(ctx context.Context, items []item, expected map[TP]int64) (applyResult, error) {
	for {
		res, err := w.apply(ctx, items, expected)
		var poison *poisonError
		if !errors.As(err, &poison) {
			return res, err
		}
		items[poison.item].kind = itemDLQ
	}
}

type tenantCheck int

const (
	noCheck tenantCheck = iota
	boardWrite
	probe
)

func checkOf(s stmt) tenantCheck {
	switch {
	case s.IsBoard():
		return boardWrite
	case s.IsProbe():
		return probe
	}
	return noCheck
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
