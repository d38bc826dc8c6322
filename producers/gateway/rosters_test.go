package gateway_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/producers/gateway"
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
	if len(l.Items) != 1 || l.Items[0].Region != devdata.RegionMetro || l.Items[0].Contacts != 2 {
		t.Errorf("roster list %+v", l.Items)
	}
	if r := w.do(t, agent, "GET", "/v1/osps/osp-acme/rosters/nowhere", nil); r.status != 404 || r.slug() != gateway.ProbNotFound {
		t.Errorf("missing region: %d %s", r.status, r.body)
	}
	if r := w.do(t, sysadmin, "PUT", "/v1/osps/osp-acme/rosters/coast", gateway.RosterBody{Name: "Coast",
		Contacts: []gateway.ContactBody{{Position: 1, Name: "Ada", Phone: "+15550101001"}}}); r.status != 200 {
		t.Errorf("system admin PUT: %d %s", r.status, r.body)
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
			for _, method := range []string{"GET", "PUT"} {
				var body any
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
