package ecoprocessor_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/sink"
	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/ecorequest"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/projection"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/schemas"
)

// Request ids are namespaced per NOC (DESIGN §5). Two NOCs that happen to use one request id
// each get their own ECO and job number, and neither's board row is touched by the other's
// request. Within one NOC, a redelivery gets the stored original's eco.created again, and the
// same id with another body is a conflict for that NOC alone, under an ECO id of its own.
func TestTwoNOCsReusingARequestIDEachGetTheirOwnECO(t *testing.T) {
	t.Parallel()
	b := setup(t)
	shared, refusedShared := uuid.NewString(), uuid.NewString()
	mine := request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro)
	mine.RequestID, mine.Summary, mine.Site.Name = shared, "Northwind fibre cut", "Northwind exchange"
	theirs := request(devdata.NOCHarbor, devdata.OSPAcme, devdata.RegionMetro)
	theirs.RequestID, theirs.Summary, theirs.Site.Name = shared, "Harbor cabinet fire", "Harbor cabinet"
	changed := *mine
	changed.Summary = "Northwind: another outage under the same id"
	// A request Harbor sends with an id Northwind uses, refused in Go before the database.
	mine2 := request(devdata.NOCNorthwind, devdata.OSPAcme, devdata.RegionMetro)
	mine2.RequestID = refusedShared
	loops := 9
	theirs2 := withOverrides(request(devdata.NOCHarbor, devdata.OSPAcme, devdata.RegionMetro),
		&schemas.EngagementOverrides{LoopCount: &loops})
	theirs2.RequestID = refusedShared

	recOf := func(r *schemas.ECORequest) *kgo.Record {
		rec, err := ecorequest.Record(b.validator, r, "test", time.Now())
		must(t, err)
		return rec
	}
	first := recOf(mine)
	again := *first // the same record delivered twice
	b.produceRaw(t, first, recOf(theirs), &again, recOf(&changed), recOf(mine2), recOf(theirs2))
	b.startReplica(t, "a", nil, nil)

	recs := kafkatest.ReadAll(t, b.kafka.Brokers, topics.ECOEvents, 6, 60*time.Second)
	type key struct{ noc, summary string }
	created := map[key][]schemas.ECOCreated{}
	var rejected []schemas.ECORejected
	for _, r := range recs {
		switch cloudevents.Parse(r).Type {
		case schemas.TypeECOCreated:
			var ev schemas.ECOCreated
			mustJSON(t, r.Value, &ev)
			created[key{ev.NOCTenantID, ev.Summary}] = append(created[key{ev.NOCTenantID, ev.Summary}], ev)
		case schemas.TypeECORejected:
			var ev schemas.ECORejected
			mustJSON(t, r.Value, &ev)
			rejected = append(rejected, ev)
		}
	}
	ours, harbors := created[key{devdata.NOCNorthwind, mine.Summary}], created[key{devdata.NOCHarbor, theirs.Summary}]
	if len(ours) != 2 || len(harbors) != 1 {
		t.Fatalf("eco.created: %d for Northwind's request (want it and its redelivery), %d for Harbor's (want 1); rejected %+v",
			len(ours), len(harbors), rejected)
	}
	if !reflect.DeepEqual(ours[0], ours[1]) {
		t.Errorf("redelivery: %+v, want the original's eco.created again: %+v", ours[1], ours[0])
	}
	if ours[0].ECOID == harbors[0].ECOID || ours[0].JobNumber == harbors[0].JobNumber {
		t.Errorf("both NOCs got ECO %s / job %s and %s / %s; want one each", ours[0].ECOID, ours[0].JobNumber, harbors[0].ECOID, harbors[0].JobNumber)
	}
	if ours[0].Number != 1 || harbors[0].Number != 2 {
		t.Errorf("numbers %d and %d, want Acme's 1 and 2 in request order", ours[0].Number, harbors[0].Number)
	}
	var conflict, refused *schemas.ECORejected
	for i := range rejected {
		switch r := &rejected[i]; {
		case r.RequestID == shared && r.NOCTenantID == devdata.NOCNorthwind:
			conflict = r
		case r.RequestID == refusedShared && r.NOCTenantID == devdata.NOCHarbor:
			refused = r
		}
	}
	switch {
	case conflict == nil || len(rejected) != 2:
		t.Fatalf("rejections %+v; want Northwind's changed request rejected and Harbor's out-of-bounds one", rejected)
	case conflict.Reason != schemas.ReasonRequestIDConflict:
		t.Errorf("same NOC, same id, another body: reason %q, want %s", conflict.Reason, schemas.ReasonRequestIDConflict)
	case conflict.ECOID == ours[0].ECOID || conflict.ECOID == harbors[0].ECOID:
		t.Errorf("the conflict's rejection carries ECO id %s, an existing ECO's", conflict.ECOID)
	}
	mine2ECO := created[key{devdata.NOCNorthwind, mine2.Summary}]
	if refused == nil || refused.Reason != schemas.ReasonOverrideOutOfBounds {
		t.Fatalf("Harbor's out-of-bounds request: %+v", refused)
	}
	for _, c := range mine2ECO {
		if c.RequestID == refusedShared && c.ECOID == refused.ECOID {
			t.Errorf("Harbor's refusal carries Northwind's ECO id %s", c.ECOID)
		}
	}

	// On the board, each ECO is its own NOC's and keeps what its own request said.
	if _, err := sink.ApplyRecords(context.Background(), b.db.Pool, b.validator, recs); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		eco, noc, summary, status string
	}{
		{ours[0].ECOID, devdata.NOCNorthwind, mine.Summary, projection.StatusCreated},
		{harbors[0].ECOID, devdata.NOCHarbor, theirs.Summary, projection.StatusCreated},
		{conflict.ECOID, devdata.NOCNorthwind, "", projection.StatusRejected},
	} {
		var noc, status, summary string
		var reason *string
		must(t, b.db.Pool.QueryRow(context.Background(), `SELECT noc_tenant_id, status, coalesce(summary, ''), reject_reason
			FROM eco_board WHERE eco_id = $1`, want.eco).Scan(&noc, &status, &summary, &reason))
		if noc != want.noc || status != want.status || summary != want.summary || (want.status != projection.StatusRejected && reason != nil) {
			t.Errorf("board row %s: %s %s %q reject reason %v; want %s %s %q", want.eco, noc, status, summary, reason, want.noc, want.status, want.summary)
		}
	}
}
