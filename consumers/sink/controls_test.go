package sink_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/sink"
	"github.com/osprey-strike/strike/consumers/sink/sinktest"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/internal/projection"
	"github.com/osprey-strike/strike/schemas"
)

func TestControlsAndCallInsShowOnTheTimelineWithWhoDidWhat(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	e := sinktest.NewECO("noc-a", "osp-a", 1, time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC))
	noor := schemas.Actor{Kind: "noc", TenantID: "noc-a", Role: "operator", User: schemas.Requester{Name: "Noor", UserID: "u1"}}
	dana := schemas.Actor{Kind: "osp", TenantID: "osp-a", Role: "admin", User: schemas.Requester{Name: "Dana", UserID: "u2"}}
	recs := []*kgo.Record{e.Created(), e.Started(time.Second),
		e.ControlOutcome(dana, schemas.ControlSkip, schemas.ControlApplied, "", 2*time.Second),
		e.ControlOutcome(dana, schemas.ControlStop, schemas.ControlRefused, schemas.RefusedWrongKind, 3*time.Second),
		e.CallIn(2, schemas.CallInHeld, "", 4*time.Second),
		e.ControlOutcome(noor, schemas.ControlPeopleNeeded, schemas.ControlApplied, "", 5*time.Second),
	}
	// Applied twice: a replayed batch changes nothing.
	for range 2 {
		if _, err := sink.ApplyRecords(context.Background(), db.Pool, v, recs); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := db.Pool.Query(context.Background(), `SELECT type, payload FROM eco_timeline WHERE eco_id = $1
		AND type IN ($2, $3) ORDER BY occurred_at`, e.ECOID, schemas.TypeCalloutControlOutcome, schemas.TypeCalloutCallIn)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var typ string
		var raw []byte
		if err := rows.Scan(&typ, &raw); err != nil {
			t.Fatal(err)
		}
		var p struct {
			Action, Outcome, Reason string
			Actor                   struct{ User struct{ Name string } }
		}
		_ = json.Unmarshal(raw, &p)
		got = append(got, p.Actor.User.Name+" "+p.Action+" "+p.Outcome+" "+p.Reason)
	}
	want := []string{"Dana skip applied ", "Dana stop refused wrong_tenant_kind", "  held ", "Noor set_people_needed applied "}
	if len(got) != len(want) {
		t.Fatalf("timeline %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("timeline row %d: %q, want %q", i, got[i], want[i])
		}
	}
}

// A NOC's rejected request retried with the same id to another OSP is created (rejections are
// not stored, so the retry is no conflict). Its eco.created takes over the rejection's row, OSP
// included: the OSP never saw the rejection. Another NOC's eco.created never does.
func TestAnECOCreatedTakesOverItsNOCsRejectionRowAtAnotherOSP(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	rejected := sinktest.NewECO("noc-a", "osp-x", 1, at)
	retried := rejected
	retried.OSP, retried.At = "osp-y", at.Add(time.Minute)
	foreign := sinktest.NewECO("noc-b", "osp-y", 2, at)
	foreignRej := foreign
	foreignRej.NOC = "noc-c" // another NOC's rejection under the same ECO id, first
	n, err := sink.ApplyRecords(context.Background(), db.Pool, v, []*kgo.Record{
		rejected.Rejected(schemas.ReasonLinkNotActive), retried.Created(), retried.Started(time.Second),
		foreignRej.Rejected(schemas.ReasonLinkNotActive), foreign.Created(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("%d events projected, want 4: another NOC's eco.created never takes over a row", n)
	}
	var osp, status string
	if err := db.Pool.QueryRow(context.Background(), `SELECT osp_tenant_id, status FROM eco_board WHERE eco_id = $1`,
		rejected.ECOID).Scan(&osp, &status); err != nil {
		t.Fatal(err)
	}
	if osp != "osp-y" || status != projection.StatusRinging {
		t.Errorf("the retried request's row: OSP %s, status %s; want osp-y, ringing", osp, status)
	}
	var noc string
	if err := db.Pool.QueryRow(context.Background(), `SELECT noc_tenant_id, status FROM eco_board WHERE eco_id = $1`,
		foreign.ECOID).Scan(&noc, &status); err != nil {
		t.Fatal(err)
	}
	if noc != "noc-c" || status != projection.StatusRejected {
		t.Errorf("the other NOC's row: %s %s, want noc-c's rejection untouched", noc, status)
	}
}

// An applied set_people_needed moves the board's people_needed (which the board, the ECO page,
// the API and the call-in "already filled" answer read): the newest applied outcome wins by
// event time, whatever order the events arrive in; a refusal, a redelivered older outcome, a
// replayed eco.created and an outcome naming other tenants change nothing.
func TestAnAppliedPeopleNeededControlMovesTheBoard(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	at := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	noor := schemas.Actor{Kind: "noc", TenantID: "noc-a", Role: "operator", User: schemas.Requester{Name: "Noor", UserID: "u1"}}
	e := sinktest.NewECO("noc-a", "osp-a", 1, at) // eco.created asks for 1
	forged := e
	forged.OSP = "osp-b"
	inOrder := []*kgo.Record{e.Created(), e.Started(time.Second),
		e.PeopleNeededSet(noor, 2, "", 3*time.Second),
		e.PeopleNeededSet(noor, 3, "", 5*time.Second),
		e.PeopleNeededSet(noor, 9, schemas.RefusedOutOfBounds, 6*time.Second),
		forged.PeopleNeededSet(noor, 7, "", 7*time.Second),
	}
	n, err := sink.ApplyRecords(ctx, db.Pool, v, inOrder)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(inOrder)-1 {
		t.Errorf("%d events projected, want %d: the outcome naming another OSP is ignored", n, len(inOrder)-1)
	}
	// Redelivered out of order: the older applied outcome, then the eco.created.
	if _, err := sink.ApplyRecords(ctx, db.Pool, v, []*kgo.Record{inOrder[2], inOrder[0]}); err != nil {
		t.Fatal(err)
	}
	// Another ECO whose events arrive newest first.
	r := sinktest.NewECO("noc-a", "osp-a", 2, at)
	reversed := []*kgo.Record{r.PeopleNeededSet(noor, 3, "", 5*time.Second), r.PeopleNeededSet(noor, 2, "", 3*time.Second),
		r.Started(time.Second), r.Created()}
	if _, err := sink.ApplyRecords(ctx, db.Pool, v, reversed); err != nil {
		t.Fatal(err)
	}
	// One of the three accepts: a caller who rings back is not told the ECO is filled.
	if _, err := sink.ApplyRecords(ctx, db.Pool, v, []*kgo.Record{e.AcceptedOf(2, 1, 3, 8*time.Second)}); err != nil {
		t.Fatal(err)
	}
	if filled, err := projection.Filled(ctx, db.Pool, e.ECOID); err != nil || filled {
		t.Errorf("1 of 3 accepted: filled %v (%v), want false", filled, err)
	}
	for _, id := range []string{e.ECOID, r.ECOID} {
		var need int
		if err := db.Pool.QueryRow(ctx, `SELECT people_needed FROM eco_board WHERE eco_id = $1`, id).Scan(&need); err != nil {
			t.Fatal(err)
		}
		if need != 3 {
			t.Errorf("ECO %s: people_needed %d, want 3 (the newest applied set_people_needed)", id, need)
		}
	}
}
