package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/sink"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/producers/gateway"
	"github.com/osprey-strike/strike/schemas"
)

func TestControlsAreProducedKeyedByECOWithWhoSentThem(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	withOSPAdmin(t, w)
	running := w.ecos["nw-acme-2"]
	r := w.do(t, single, "POST", "/v1/nocs/noc-northwind/ecos/"+running.ECOID+"/controls",
		map[string]any{"action": "set_people_needed", "people_needed": 2, "reason": "two crews"})
	if r.status != 202 {
		t.Fatalf("NOC control: %d %s", r.status, r.body)
	}
	ack := decode[gateway.ControlResponse](t, r)
	r = w.do(t, ospAdmin, "POST", "/v1/osps/osp-acme/ecos/"+running.ECOID+"/controls",
		map[string]any{"action": "add_number", "phone": "+15550109999", "name": "Sam"})
	if r.status != 202 {
		t.Fatalf("OSP control: %d %s", r.status, r.body)
	}
	recs := kafkatest.ReadAll(t, w.kafka.Brokers, "strike.callout.controls.v1", 2, 10*time.Second)
	var got []schemas.CalloutControl
	for _, rec := range recs {
		var c schemas.CalloutControl
		if err := w.v.Decode(schemas.TypeCalloutControl, rec.Value, &c); err != nil || string(rec.Key) != running.ECOID {
			t.Fatalf("record %s key %s: %v", rec.Value, rec.Key, err)
		}
		got = append(got, c)
	}
	noc, osp := got[0], got[1]
	if noc.ControlID != ack.ControlID || noc.Actor.Kind != "noc" || noc.Actor.TenantID != devdata.NOCNorthwind || noc.Actor.User.Email != single ||
		noc.PeopleNeeded != 2 || noc.OSPTenantID != devdata.OSPAcme {
		t.Errorf("NOC control %+v", noc)
	}
	if osp.Actor.Kind != "osp" || osp.Actor.TenantID != devdata.OSPAcme || osp.Actor.User.Email != ospAdmin || osp.Phone != "+15550109999" ||
		osp.NOCTenantID != devdata.NOCNorthwind {
		t.Errorf("OSP control %+v", osp)
	}
}

func TestControlRefusalsSayWhy(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	withOSPAdmin(t, w)
	running, finished := w.ecos["nw-acme-2"].ECOID, w.ecos["nw-acme-1"].ECOID
	noc := func(eco string) string { return "/v1/nocs/noc-northwind/ecos/" + eco + "/controls" }
	osp := func(eco string) string { return "/v1/osps/osp-acme/ecos/" + eco + "/controls" }
	tests := []struct {
		name, user, path string
		body             map[string]any
		status           int
		slug             string
	}{
		{"OSP stopping the callout (engagement intent is the NOC's)", ospAdmin, osp(running), map[string]any{"action": "stop"}, 403, gateway.ProbWrongTenantKind},
		{"OSP changing people needed", ospAdmin, osp(running), map[string]any{"action": "set_people_needed", "people_needed": 2}, 403, gateway.ProbWrongTenantKind},
		{"NOC adding a number (people are the OSP's)", single, noc(running), map[string]any{"action": "add_number", "phone": "+15550109999"}, 403, gateway.ProbWrongTenantKind},
		{"NOC skipping a person", single, noc(running), map[string]any{"action": "skip", "contact_position": 1}, 403, gateway.ProbWrongTenantKind},
		{"a finished ECO", single, noc(finished), map[string]any{"action": "stop"}, 409, gateway.ProbECOFinished},
		{"a finished ECO, OSP side", ospAdmin, osp(finished), map[string]any{"action": "call_next", "contact_position": 2}, 409, gateway.ProbECOFinished},
		{"a NOC viewer", viewer, noc(running), map[string]any{"action": "stop"}, 403, gateway.ProbForbiddenRole},
		{"an OSP agent", agent, osp(running), map[string]any{"action": "skip", "contact_position": 1}, 403, gateway.ProbForbiddenRole},
		{"another NOC's ECO through mine", single, noc(w.ecos["hb-acme-1"].ECOID), map[string]any{"action": "stop"}, 404, gateway.ProbNotFound},
		{"people needed above Strike's bound", single, noc(running), map[string]any{"action": "set_people_needed", "people_needed": 21}, 422, gateway.ProbValidation},
		{"passes above Strike's bound", single, noc(running), map[string]any{"action": "set_passes", "loop_count": 9}, 422, gateway.ProbValidation},
		{"a number that is not E.164", ospAdmin, osp(running), map[string]any{"action": "add_number", "phone": "555-0101"}, 422, gateway.ProbValidation},
		{"an unknown action", single, noc(running), map[string]any{"action": "explode"}, 422, gateway.ProbValidation},
		{"not logged in", "", noc(running), map[string]any{"action": "stop"}, 401, gateway.ProbUnauthenticated},
	}
	for _, tt := range tests {
		r := w.do(t, tt.user, "POST", tt.path, tt.body)
		if r.status != tt.status || r.slug() != tt.slug || (r.prob.Detail == "" && len(r.prob.Errors) == 0) {
			t.Errorf("%s: %d %s %q, want %d %s with a reason", tt.name, r.status, r.slug(), r.prob.Detail, tt.status, tt.slug)
		}
	}
	if recs := kafkatest.ReadAll(t, w.kafka.Brokers, "strike.callout.controls.v1", 0, time.Second); len(recs) != 0 {
		t.Errorf("refused controls were produced: %d records", len(recs))
	}
}

// After the dialer applies a set_people_needed, the ECO reads the new figure on both sides, in
// the list and the ECO itself (the board's people_needed column).
func TestAnAppliedPeopleNeededShowsOnTheECO(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	running := w.ecos["nw-acme-2"] // created asking for 1, ringing
	nina := schemas.Actor{Kind: "noc", TenantID: devdata.NOCNorthwind, Role: "operator", User: schemas.Requester{Name: "Nina", Email: single}}
	if _, err := sink.ApplyRecords(context.Background(), w.db.Pool, w.v,
		[]*kgo.Record{running.PeopleNeededSet(nina, 3, "", 5*time.Second)}); err != nil {
		t.Fatal(err)
	}
	for _, as := range []struct{ user, base string }{
		{single, "/v1/nocs/noc-northwind/ecos"},
		{agent, "/v1/osps/osp-acme/ecos"},
	} {
		d := decode[gateway.ECODetail](t, w.do(t, as.user, "GET", as.base+"/"+running.ECOID, nil))
		if d.PeopleNeeded == nil || *d.PeopleNeeded != 3 {
			t.Errorf("%s: ECO people_needed %s, want 3 (set by the applied control)", as.user, intOrNil(d.PeopleNeeded))
		}
		l := decode[list](t, w.do(t, as.user, "GET", as.base, nil))
		found := false
		for _, e := range l.Items {
			if e.ECOID == running.ECOID {
				found = true
				if e.PeopleNeeded == nil || *e.PeopleNeeded != 3 {
					t.Errorf("%s: listed people_needed %s, want 3", as.user, intOrNil(e.PeopleNeeded))
				}
			}
		}
		if !found {
			t.Errorf("%s: ECO %s not listed", as.user, running.ECOID)
		}
	}
}

func intOrNil(p *int) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}
