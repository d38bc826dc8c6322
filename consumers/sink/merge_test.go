package sink

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/sink/sinktest"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/internal/projection"
	"github.com/osprey-strike/strike/schemas"
)

func validator(t testing.TB) *schemas.Validator {
	t.Helper()
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// withOffsets gives records consecutive offsets on one partition, as a broker would.
func withOffsets(recs []*kgo.Record, from int64) []*kgo.Record {
	for i, r := range recs {
		r.Topic, r.Partition, r.Offset = "t", 0, from+int64(i)
	}
	return recs
}

func decodeAll(t testing.TB, v *schemas.Validator, recs []*kgo.Record) []item {
	t.Helper()
	d := decoder{v: v, now: time.Now}
	items := make([]item, len(recs))
	for i, r := range recs {
		items[i] = d.decode(r)
		if items[i].kind != itemApply {
			t.Fatalf("record %d (%s) not projectable: kind %d, dlq %s", i, items[i].typ, items[i].kind, items[i].dlqReason)
		}
	}
	return items
}

func snapshot(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	return sinktest.Snapshot(t, pool)
}

func TestReplayedBatchChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	v := validator(t)
	w := &writer{pool: db.Pool, group: "g"}
	e := sinktest.NewECO("noc-a", "osp-a", 1, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	items := decodeAll(t, v, withOffsets(e.Lifecycle(), 0))

	if _, err := w.apply(ctx, items, nil); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, db.Pool)

	res, err := w.apply(ctx, items, map[TP]int64{{Topic: "t", Partition: 0}: int64(len(items))})
	if err != nil {
		t.Fatal(err)
	}
	if res.stale != len(items) || len(res.next) != 0 {
		t.Errorf("replay: stale = %d, offsets written = %d; want every record recognised as applied and no write", res.stale, len(res.next))
	}
	if after := snapshot(t, db.Pool); after != before {
		t.Errorf("replayed batch changed the projections:\nbefore %s\nafter  %s", before, after)
	}

	// Even past the offset fence (rows written by hand, offsets lost), re-applying merges to the
	// same rows: every write is idempotent.
	if _, err := (&writer{pool: db.Pool, noOffsets: true}).apply(ctx, items, nil); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, db.Pool); after != before {
		t.Errorf("re-applied batch changed the projections:\nbefore %s\nafter  %s", before, after)
	}
}

func TestStoredOffsetBehindExpectedIsReportedAsRewind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	v := validator(t)
	w := &writer{pool: db.Pool, group: "g"}
	e := sinktest.NewECO("noc-a", "osp-a", 1, time.Now())
	recs := withOffsets(e.Lifecycle(), 0)
	if _, err := w.apply(ctx, decodeAll(t, v, recs[:3]), nil); err != nil {
		t.Fatal(err)
	}
	// This replica believes it is at 7 (a rebuild swapped in tables that stop at 3).
	res, err := w.apply(ctx, decodeAll(t, v, recs[7:]), map[TP]int64{{Topic: "t", Partition: 0}: 7})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.rewind[TP{Topic: "t", Partition: 0}]; got != 3 || len(res.next) != 0 {
		t.Errorf("rewind = %v, next = %v; want a rewind to 3 and nothing written", res.rewind, res.next)
	}
}

// boardView is the part of a board row that must not depend on event order.
const boardView = `SELECT jsonb_build_object('status', status, 'accepted_by', accepted_by_name,
	'accepted_at', accepted_at, 'calls_made', calls_made, 'field_status', field_status,
	'field_version', field_version, 'created_at', created_at, 'updated_at', updated_at,
	'region', region, 'summary', summary, 'reject_reason', reject_reason, 'exhausted', exhausted_reason,
	'timeline', (SELECT count(*) FROM eco_timeline tl WHERE tl.eco_id = b.eco_id),
	'attempts', (SELECT jsonb_agg(jsonb_build_object('call', call_id, 'result', result, 'placed', placed_at,
		'ended', ended_at, 'sid', call_sid) ORDER BY call_id) FROM call_attempts a WHERE a.eco_id = b.eco_id))::text
	FROM eco_board b WHERE eco_id = $1`

func TestOutOfOrderAndDuplicateEventsConverge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	v := validator(t)
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	s := time.Second

	scenarios := []struct {
		name   string
		events func(e sinktest.ECO) []*kgo.Record
		want   string // the board status every order must reach
	}{
		{"accepted ECO with a late call.placed", func(e sinktest.ECO) []*kgo.Record {
			return append(e.Lifecycle(), e.Placed(3, 39*s))
		}, projection.StatusAccepted},
		{"cancel is final even before a later acceptance", func(e sinktest.ECO) []*kgo.Record {
			return []*kgo.Record{e.Created(), e.Started(s), e.Placed(1, 2*s), e.Cancelled(10 * s), e.Accepted(1, 20*s)}
		}, projection.StatusCancelled},
		{"rejected then created after the link came back", func(e sinktest.ECO) []*kgo.Record {
			return []*kgo.Record{e.Rejected(schemas.ReasonLinkNotActive), e.Created(), e.Started(s)}
		}, projection.StatusRinging},
		{"exhausted", func(e sinktest.ECO) []*kgo.Record {
			return []*kgo.Record{e.Created(), e.Started(s), e.Placed(1, 2*s), e.Ended(1, schemas.CallNoAnswer, 30*s), e.Exhausted(31 * s)}
		}, projection.StatusExhausted},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var want string
			rng := rand.New(rand.NewPCG(1, 2))
			for run := range 8 {
				e := sinktest.NewECO("noc-a", "osp-a", 7, at)
				recs := sc.events(e)
				switch run {
				case 0: // in order
				case 1: // reversed
					for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
						recs[i], recs[j] = recs[j], recs[i]
					}
				default: // shuffled, with duplicates
					for range 3 {
						recs = append(recs, recs[rng.IntN(len(recs))])
					}
					rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
				}
				// Events arrive in batches of random size.
				for len(recs) > 0 {
					n := 1 + rng.IntN(len(recs))
					if _, err := ApplyRecords(ctx, db.Pool, v, recs[:n]); err != nil {
						t.Fatal(err)
					}
					recs = recs[n:]
				}
				var got string
				if err := db.Pool.QueryRow(ctx, boardView, e.ECOID).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if run == 0 {
					want = got
					var row struct{ Status string }
					_ = json.Unmarshal([]byte(got), &row)
					if row.Status != sc.want {
						t.Fatalf("in order: status %q, want %q (row %s)", row.Status, sc.want, got)
					}
					continue
				}
				if got != want {
					t.Errorf("order %d converged differently:\n got %s\nwant %s", run, got, want)
				}
			}
		})
	}
}
