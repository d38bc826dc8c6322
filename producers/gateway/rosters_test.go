package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/sink"
	"github.com/osprey-strike/strike/consumers/sink/sinktest"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/producers/gateway"
	"github.com/osprey-strike/strike/schemas"
)

const ospAdmin = "oscar@acme.example" // admin of osp-acme

func withOSPAdmin(t *testing.T, w *world) {
	t.Helper()
	ctx := context.Background()
	acc := gateway.Accounts{Pool: w.db.Pool}
	if _, _, err := acc.EnsureUser(ctx, ospAdmin, "Oscar", false); err != nil {
		t.Fatal(err)
	}
	if err := acc.AddMembership(ctx, ospAdmin, "osp", devdata.OSPAcme, gateway.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	tok, err := acc.CreateToken(ctx, ospAdmin, "test")
	if err != nil {
		t.Fatal(err)
	}
	w.tokens[ospAdmin] = tok
}

func TestOSPAdminEditsTheirRosterAndAgentsReadIt(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	withOSPAdmin(t, w)
	now := time.Now().UTC().Truncate(time.Second)
	body := gateway.RosterBody{Name: "Acme metro north on-call", Rotation: "after_last_accepted", Contacts: []gateway.ContactBody{
		{Position: 1, Name: "Ada Lovelace", Phone: "+15550101001", Unavailable: []gateway.AwayBody{{
			From: now.Add(-time.Hour).Format(time.RFC3339), Until: now.Add(24 * time.Hour).Format(time.RFC3339), Reason: "leave", Note: "annual leave",
			Substitute: &gateway.PersonBody{Name: "Barbara Liskov", Phone: "+15550101009"}}}},
		{Position: 2, Name: "Grace Hopper", Phone: "+15550101002"},
	}}
	r := w.do(t, ospAdmin, "PUT", "/v1/osps/osp-acme/rosters/metro-north", body)
	if r.status != 200 {
		t.Fatalf("OSP admin PUT: %d %s", r.status, r.body)
	}
	saved := decode[gateway.RosterView](t, r)
	if saved.Rotation != "after_last_accepted" || len(saved.Contacts) != 2 {
		t.Fatalf("saved %+v", saved)
	}
	got := decode[gateway.RosterView](t, w.do(t, agent, "GET", "/v1/osps/osp-acme/rosters/metro-north", nil))
	ada := got.Contacts[0]
	if ada.Name != "Ada Lovelace" || ada.AwayNow == nil || ada.AwayNow.Substitute == nil || ada.AwayNow.Substitute.Name != "Barbara Liskov" ||
		got.Contacts[1].AwayNow != nil {
		t.Errorf("agent reads %+v: want Ada away now with Barbara as substitute, Grace available", got)
	}
	l := decode[struct {
		Items []gateway.RosterSummaryView `json:"items"`
	}](t, w.do(t, agent, "GET", "/v1/osps/osp-acme/rosters", nil))
	acme, metro := 0, -1 // the demo seeds other Acme regions too
	for _, r := range devdata.Rosters {
		if r.OSP == devdata.OSPAcme {
			acme++
		}
	}
	for i, it := range l.Items {
		if it.Region == devdata.RegionMetro {
			metro = i
		}
	}
	if len(l.Items) != acme || metro < 0 || l.Items[metro].Contacts != 2 {
		t.Errorf("roster list %+v, want Acme's %d rosters, metro-north with 2 people", l.Items, acme)
	}
	if r := w.do(t, agent, "GET", "/v1/osps/osp-acme/rosters/nowhere", nil); r.status != 404 || r.slug() != gateway.ProbNotFound {
		t.Errorf("missing region: %d %s", r.status, r.body)
	}
	if r := w.do(t, sysadmin, "PUT", "/v1/osps/osp-acme/rosters/coast", gateway.RosterBody{Name: "Coast",
		Contacts: []gateway.ContactBody{{Position: 1, Name: "Ada", Phone: "+15550101001"}}}); r.status != 200 {
		t.Errorf("system admin PUT: %d %s", r.status, r.body)
	}
	// Removing a region: agents may not, the OSP admin may, once.
	if r := w.do(t, agent, "DELETE", "/v1/osps/osp-acme/rosters/coast", nil); r.status != 403 || r.slug() != gateway.ProbForbiddenRole {
		t.Errorf("agent DELETE: %d %s", r.status, r.body)
	}
	if r := w.do(t, ospAdmin, "DELETE", "/v1/osps/osp-acme/rosters/coast", nil); r.status != 204 {
		t.Errorf("OSP admin DELETE: %d %s", r.status, r.body)
	}
	if r := w.do(t, ospAdmin, "DELETE", "/v1/osps/osp-acme/rosters/coast", nil); r.status != 404 || r.slug() != gateway.ProbNotFound {
		t.Errorf("DELETE again: %d %s, want 404", r.status, r.body)
	}
	if r := w.do(t, agent, "GET", "/v1/osps/osp-acme/rosters/coast", nil); r.status != 404 {
		t.Errorf("GET after DELETE: %d %s", r.status, r.body)
	}
}

func TestRosterWritesNeedTheOSPAdminRoleAndValidNumbers(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	withOSPAdmin(t, w)
	ok := gateway.RosterBody{Name: "x", Contacts: []gateway.ContactBody{{Position: 1, Name: "Ada", Phone: "+15550101001"}}}
	if r := w.do(t, agent, "PUT", "/v1/osps/osp-acme/rosters/metro-north", ok); r.status != 403 || r.slug() != gateway.ProbForbiddenRole {
		t.Errorf("agent PUT: %d %s, want 403 forbidden-role", r.status, r.body)
	}
	bad := []struct {
		name   string
		body   any
		status int
		says   string
	}{
		{"phone not E.164", gateway.RosterBody{Contacts: []gateway.ContactBody{{Position: 1, Name: "Ada", Phone: "555 0100"}}}, 422, "E.164"},
		{"positions repeat", gateway.RosterBody{Contacts: []gateway.ContactBody{{Position: 1, Name: "A", Phone: "+15550101001"}, {Position: 1, Name: "B", Phone: "+15550101002"}}}, 422, "not unique"},
		{"unknown rotation", gateway.RosterBody{Rotation: "random"}, 422, "rotation"},
		{"substitute not E.164", map[string]any{"contacts": []any{map[string]any{"position": 1, "name": "A", "phone": "+15550101001",
			"unavailable": []any{map[string]any{"from": "2026-12-01T00:00:00Z", "until": "2026-12-02T00:00:00Z", "reason": "leave",
				"substitute": map[string]any{"name": "B", "phone": "12"}}}}}}, 422, "substitute phone"},
		{"time not RFC 3339", map[string]any{"contacts": []any{map[string]any{"position": 1, "name": "A", "phone": "+15550101001",
			"unavailable": []any{map[string]any{"from": "tomorrow", "until": "2026-12-02T00:00:00Z", "reason": "leave"}}}}}, 400, "from"},
		{"unknown field", map[string]any{"contacts": []any{map[string]any{"position": 1, "name": "A", "phone": "+15550101001", "pager": "x"}}}, 400, "pager"},
	}
	for _, c := range bad {
		r := w.do(t, ospAdmin, "PUT", "/v1/osps/osp-acme/rosters/metro-north", c.body)
		if r.status != c.status || !strings.Contains(string(r.body), c.says) {
			t.Errorf("%s: %d %s, want %d saying %q", c.name, r.status, r.body, c.status, c.says)
		}
	}
	// Nothing of the refused writes was stored.
	got := decode[gateway.RosterView](t, w.do(t, agent, "GET", "/v1/osps/osp-acme/rosters/metro-north", nil))
	if len(got.Contacts) != len(devdata.Rosters[0].Contacts) {
		t.Errorf("after refused writes the roster has %d contacts, want the seeded %d", len(got.Contacts), len(devdata.Rosters[0].Contacts))
	}
}

func TestAnotherTenantsRosterAnswersTheSameWhetherTheOSPExistsOrNot(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	withOSPAdmin(t, w)
	for _, user := range []string{ospAdmin, agent, single} {
		for _, path := range []string{"/v1/osps/%s/rosters", "/v1/osps/%s/rosters/metro-north"} {
			for _, method := range []string{"GET", "PUT", "DELETE"} {
				var body any
				if method != "GET" && !strings.HasSuffix(path, "north") {
					continue
				}
				if method == "PUT" {
					body = gateway.RosterBody{Contacts: []gateway.ContactBody{{Position: 1, Name: "A", Phone: "+15550101001"}}}
					if !strings.HasSuffix(path, "north") {
						continue
					}
				}
				existing := w.do(t, user, method, strings.Replace(path, "%s", devdata.OSPBolt, 1), body)
				ghost := w.do(t, user, method, strings.Replace(path, "%s", "osp-ghost", 1), body)
				if existing.status != 403 || existing.slug() != gateway.ProbForbiddenTenant {
					t.Errorf("%s %s as %s: %d %s, want 403 forbidden-tenant", method, path, user, existing.status, existing.body)
				}
				if existing.status != ghost.status || string(existing.body) != string(ghost.body) {
					t.Errorf("%s %s as %s: an existing and a missing OSP answer differently:\n%s\n%s", method, path, user, existing.body, ghost.body)
				}
			}
		}
	}
	got := decode[gateway.RosterView](t, w.do(t, sysadmin, "GET", "/v1/osps/osp-bolt/rosters/metro-north", nil))
	if got.Contacts[0].Name != devdata.Rosters[1].Contacts[0].Name {
		t.Errorf("a refused PUT changed Bolt's roster: %+v", got)
	}
}

func TestECOViewSaysWhyEachPersonWasOrWasNotCalled(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := time.Second
	e := sinktest.NewECO(devdata.NOCNorthwind, devdata.OSPAcme, 50, time.Date(2026, 5, 2, 8, 0, 0, 0, time.UTC))
	recs := []*kgo.Record{e.Created(), e.StartedWithRoster(4, s), e.Skipped(1, schemas.SkipSubstituted, 2*s)}
	recs = append(recs, e.SubstituteCall(1, schemas.CallNoAnswer, 2*s)...)
	recs = append(recs, e.Placed(2, 30*s), e.Accepted(2, 40*s), e.Ended(2, schemas.CallAccepted, 41*s),
		e.Skipped(3, schemas.SkipFilled, 41*s), e.Skipped(4, schemas.SkipFilled, 41*s))
	if _, err := sink.ApplyRecords(context.Background(), w.db.Pool, w.v, recs); err != nil {
		t.Fatal(err)
	}
	for _, as := range []struct{ user, path string }{
		{single, "/v1/nocs/noc-northwind/ecos/" + e.ECOID},
		{agent, "/v1/osps/osp-acme/ecos/" + e.ECOID},
	} {
		r := w.do(t, as.user, "GET", as.path, nil)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", as.path, r.status, r.body)
		}
		d := decode[gateway.ECODetail](t, r)
		if d.People == nil || !d.People.Snapshot || len(d.People.People) != 4 {
			t.Fatalf("%s people %+v, want the 4-person snapshot", as.path, d.People)
		}
		var got []string
		for _, p := range d.People.People {
			var es []string
			for _, en := range p.Entries {
				es = append(es, en.Outcome+":"+en.Result+en.Reason)
			}
			got = append(got, fmt.Sprintf("%d %s", p.Position, strings.Join(es, ",")))
		}
		want := []string{"1 skipped:substituted,called:no_answer", "2 called:accepted", "3 skipped:filled", "4 skipped:filled"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s people\n got %v\nwant %v", as.path, got, want)
		}
		ada := d.People.People[0]
		if len(ada.Unavailable) != 1 || ada.Entries[0].Substitute == nil || ada.Entries[1].Callee == nil ||
			ada.Entries[1].Callee.Phone != sinktest.Substitute.Phone || ada.Entries[0].CallID != ada.Entries[1].CallID {
			t.Errorf("position 1 %+v: want the window, the substitute named, and the substitute's call as the callee", ada)
		}
	}
	// An ECO from before issue 13 (no snapshot) lists the people who were called.
	old := decode[gateway.ECODetail](t, w.do(t, single, "GET", "/v1/nocs/noc-northwind/ecos/"+w.ecos["nw-acme-1"].ECOID, nil))
	if old.People == nil || old.People.Snapshot || len(old.People.People) != 2 {
		t.Errorf("an ECO without a snapshot: %+v, want its two called people", old.People)
	}
}
