package sink

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/schemas"
)

// SetBeforeCommit installs a hook run before each batch write (tests kill a replica there).
func (s *Sink) SetBeforeCommit(f func(n int)) { s.beforeCommit = f }

// SetMidTransaction installs a hook run inside each batch's transaction, after its writes and
// before its commit (a test kills the process there).
func (s *Sink) SetMidTransaction(f func()) { s.w.midTx = f }

// Stmt is a decoded projection write, for the raw baseline of the benchmark.
type Stmt = stmt

// Statements decodes recs into their projection writes, one group per record.
func Statements(t testing.TB, recs []*kgo.Record) [][]Stmt {
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	d := decoder{v: v, now: time.Now}
	out := make([][]Stmt, len(recs))
	for i, r := range recs {
		out[i] = d.decode(r).stmts
	}
	return out
}

// RebuildBeforeSwap is Rebuild with a hook run after the fresh tables are filled, before the
// swap (a test lets the live sink move ahead there).
func RebuildBeforeSwap(ctx context.Context, deps Deps, cfg RebuildConfig, beforeSwap func()) (RebuildStats, error) {
	return rebuild(ctx, deps, cfg, beforeSwap)
}
