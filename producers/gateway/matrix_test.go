package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/producers/gateway"
)

// TestCrossTenantMatrixLeaksNothing sends every route, for every user, in every tenant (real and
// non-existent), about every ECO, and checks two things: a user outside a tenant gets a 403 that
// names no ECO, and any ECO id in any answer is one the active tenant may see.
func TestCrossTenantMatrixLeaksNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	type tenant struct{ kind, id string }
	tenants := []tenant{
		{"noc", devdata.NOCNorthwind}, {"noc", devdata.NOCHarbor}, {"noc", "noc-ghost"},
		{"osp", devdata.OSPAcme}, {"osp", devdata.OSPBolt}, {"osp", devdata.OSPCedar}, {"osp", "osp-ghost"},
	}
	members := map[string]map[tenant]bool{
		single: {{"noc", devdata.NOCNorthwind}: true},
		multi:  {{"noc", devdata.NOCNorthwind}: true, {"noc", devdata.NOCHarbor}: true},
		viewer: {{"noc", devdata.NOCNorthwind}: true},
		agent:  {{"osp", devdata.OSPAcme}: true},
	}
	// visible says whether tenant may see an ECO: ground truth from how the world was built.
	visible := func(ten tenant, ecoID string) bool {
		for _, e := range w.ecos {
			if e.ECOID != ecoID {
				continue
			}
			if ten.kind == "noc" {
				return e.NOC == ten.id
			}
			return e.OSP == ten.id && !w.rejected[ecoID]
		}
		return false
	}
	users := []string{single, multi, viewer, agent, sysadmin, nobody, ""}
	// {token} is a spare token of the system admin: only they may revoke it as their own, under
	// any other user it does not exist (404), and {user} is the single-NOC operator.
	_, spare, err := gateway.Accounts{Pool: w.db.Pool}.IssueToken(context.Background(), sysadmin, "matrix spare", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	requests := 0
	for _, route := range gateway.Routes {
		method, pattern, _ := strings.Cut(route, " ")
		for _, ten := range tenants {
			kindSeg := "{" + ten.kind + "}"
			isTenantRoute := strings.HasPrefix(pattern, "/v1/"+ten.kind+"s/")
			isAdmin := strings.HasPrefix(pattern, "/v1/admin/")
			isMe := pattern == "/v1/me" || strings.HasPrefix(pattern, "/v1/me/")
			if !isTenantRoute && !isAdmin && !isMe {
				continue
			}
			for _, eco := range w.ecos {
				path := strings.NewReplacer(kindSeg, ten.id, "{eco}", eco.ECOID, "{noc}", "noc-ghost", "{osp}", "osp-ghost",
					"{region}", "metro-north", "{user}", single, "{token}", spare.ID).Replace(pattern)
				if !strings.Contains(pattern, "{eco}") && eco.ECOID != w.ecos["nw-acme-1"].ECOID {
					continue // routes without an ECO: once per tenant is enough
				}
				var body any
				switch {
				case isAdmin || isMe:
					body = "{}" // a validation problem; nothing changes
				case method == "POST" && strings.HasSuffix(pattern, "/cancel"):
					body = map[string]string{"reason": "matrix"}
				case method == "POST":
					body = validCreate(devdata.OSPAcme)
				}
				for _, user := range users {
					requests++
					r := w.do(t, user, method, path, body)
					member := members[user][ten]
					switch {
					case user == "":
						if r.status != http.StatusUnauthorized {
							t.Errorf("%s %s anonymous: %d", method, path, r.status)
						}
					case isAdmin && user != sysadmin:
						if r.status != http.StatusForbidden || r.slug() != gateway.ProbNotSystemAdmin {
							t.Errorf("%s %s as %s: %d %s", method, path, user, r.status, r.slug())
						}
					case isMe && strings.Contains(pattern, "{token}") && user != sysadmin:
						if r.status != http.StatusNotFound || r.slug() != gateway.ProbNotFound {
							t.Errorf("%s %s as %s (not the owner): %d %s, want 404", method, path, user, r.status, r.slug())
						}
					case isTenantRoute && !member && user != sysadmin:
						want := gateway.ProbForbiddenTenant
						if user == nobody {
							want = gateway.ProbNoMemberships
						}
						if r.status != http.StatusForbidden || r.slug() != want {
							t.Errorf("%s %s as %s (not a member): %d %s, want 403 %s", method, path, user, r.status, r.slug(), want)
						}
					}
					// Whatever the status: no ECO the active tenant may not see is named.
					for _, other := range w.ecos {
						if !strings.Contains(string(r.body), other.ECOID) {
							continue
						}
						if !isTenantRoute || !visible(ten, other.ECOID) {
							t.Errorf("LEAK: %s %s as %s names ECO %s (%s -> %s)", method, path, user, other.ECOID, other.NOC, other.OSP)
						}
					}
				}
			}
		}
	}
	t.Logf("%d requests, zero leaks", requests)
}
