package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/sink"
	"github.com/osprey-strike/strike/consumers/sink/sinktest"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/ids"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/producers/gateway"
	"github.com/osprey-strike/strike/schemas"
)

// The demo users of the journeys.
const (
	single   = "nina@northwind.example"   // operator of one NOC
	multi    = "max@noc-ops.example"      // operator of two NOCs
	viewer   = "vic@northwind.example"    // viewer of one NOC
	agent    = "olga@acme.example"        // agent of an OSP that works for both NOCs
	sysadmin = "root@strike.example"      // system admin, no memberships
	nobody   = "newbie@northwind.example" // no memberships at all
)

type world struct {
	db     *pgtest.Schema
	gw     *pgxpool.Pool // the API's pool, connected as the gateway's role (pg.RoleGateway)
	kafka  *kafkatest.Cluster
	srv    *httptest.Server
	v      *schemas.Validator
	tokens map[string]string
	// ecos by name, and every ECO id with who may see it.
	ecos     map[string]sinktest.ECO
	rejected map[string]bool
}

// serve builds the API and serves it until the test ends.
func serve(t *testing.T, deps gateway.Deps, cfg gateway.Config) *httptest.Server {
	t.Helper()
	api, err := gateway.New(deps, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	db := pgtest.New(t)
	if err := devdata.Seed(ctx, tenancy.Store{Pool: db.Pool}); err != nil {
		t.Fatal(err)
	}
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	// SASL and ACLs on: the API produces as the gateway's own principal.
	k := kafkatest.NewSecured(t)
	producer := k.ClientAs(t, k.Principal(t, "gateway"), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	// The matrix sends hundreds of requests without a valid token from one address: the
	// failed-authentication limiter (limits_test.go) must not turn them into 429s here.
	gw := db.PoolAs(t, pg.RoleGateway)
	srv := serve(t, gateway.Deps{Pool: gw, Validator: v, Producer: producer, Log: zerolog.Nop()},
		gateway.Config{AuthFailureBurst: 1 << 20})

	w := &world{db: db, gw: gw, kafka: k, srv: srv, v: v, tokens: map[string]string{}, ecos: map[string]sinktest.ECO{}, rejected: map[string]bool{}}
	acc := gateway.Accounts{Pool: db.Pool}
	users := []struct {
		email string
		admin bool
		ms    [][3]string
	}{
		{single, false, [][3]string{{"noc", devdata.NOCNorthwind, "operator"}}},
		{multi, false, [][3]string{{"noc", devdata.NOCNorthwind, "operator"}, {"noc", devdata.NOCHarbor, "admin"}}},
		{viewer, false, [][3]string{{"noc", devdata.NOCNorthwind, "viewer"}}},
		{agent, false, [][3]string{{"osp", devdata.OSPAcme, "agent"}}},
		{sysadmin, true, nil},
		{nobody, false, nil},
	}
	for _, u := range users {
		if _, _, err := acc.EnsureUser(ctx, u.email, "", u.admin); err != nil {
			t.Fatal(err)
		}
		for _, m := range u.ms {
			if err := acc.AddMembership(ctx, u.email, m[0], m[1], m[2]); err != nil {
				t.Fatal(err)
			}
		}
		tok, err := acc.CreateToken(ctx, u.email, "test")
		if err != nil {
			t.Fatal(err)
		}
		w.tokens[u.email] = tok
	}

	at := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	add := func(name, noc, osp string, n int, evs func(e sinktest.ECO) []*kgo.Record) {
		e := sinktest.NewECO(noc, osp, n, at.Add(time.Duration(n)*time.Minute))
		w.ecos[name] = e
		recs = append(recs, evs(e)...)
	}
	lifecycle := func(e sinktest.ECO) []*kgo.Record { return e.Lifecycle() }
	created := func(e sinktest.ECO) []*kgo.Record { return []*kgo.Record{e.Created(), e.Started(time.Second)} }
	add("nw-acme-1", devdata.NOCNorthwind, devdata.OSPAcme, 1, lifecycle)
	add("nw-acme-2", devdata.NOCNorthwind, devdata.OSPAcme, 2, created)
	add("nw-bolt-1", devdata.NOCNorthwind, devdata.OSPBolt, 3, lifecycle)
	add("hb-acme-1", devdata.NOCHarbor, devdata.OSPAcme, 4, lifecycle)
	add("hb-cedar-1", devdata.NOCHarbor, devdata.OSPCedar, 5, created)
	add("nw-cedar-rejected", devdata.NOCNorthwind, devdata.OSPCedar, 6, func(e sinktest.ECO) []*kgo.Record {
		return []*kgo.Record{e.Rejected(schemas.ReasonLinkNotActive)}
	})
	w.rejected[w.ecos["nw-cedar-rejected"].ECOID] = true
	if _, err := sink.ApplyRecords(ctx, db.Pool, v, recs); err != nil {
		t.Fatal(err)
	}
	return w
}

type resp struct {
	status int
	body   []byte
	prob   gateway.Problem
}

func (w *world) do(t testing.TB, user, method, path string, body any) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, w.srv.URL+path, rd)
	if tok, ok := w.tokens[user]; ok {
		req.Header.Set("Authorization", "Bearer "+tok)
	} else if user != "" {
		req.Header.Set("Authorization", "Bearer "+user)
	}
	res, err := w.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, body: raw}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
		_ = json.Unmarshal(raw, &r.prob)
	}
	return r
}

func (r resp) slug() string { return r.prob.Slug() }

func decode[T any](t testing.TB, r resp) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return v
}

type me struct {
	Access  string `json:"access"`
	Landing string `json:"landing"`
	Notice  string `json:"notice"`
	Tenants []struct {
		Kind     string `json:"kind"`
		TenantID string `json:"tenant_id"`
		Role     string `json:"role"`
	} `json:"tenants"`
}

type list struct {
	Items      []gateway.ECO `json:"items"`
	NextCursor string        `json:"next_cursor"`
}

func ecoIDs(items []gateway.ECO) map[string]bool {
	out := map[string]bool{}
	for _, e := range items {
		out[e.ECOID] = true
	}
	return out
}

func TestSingleNOCOperatorLandsOnTheirNOCsBoard(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	m := decode[me](t, w.do(t, single, "GET", "/v1/me", nil))
	if m.Access != "single" || m.Landing != "/v1/nocs/noc-northwind/ecos" {
		t.Fatalf("me = %+v, want a single tenant and its board as landing", m)
	}
	r := w.do(t, single, "GET", m.Landing, nil)
	if r.status != 200 {
		t.Fatalf("board: %d %s", r.status, r.body)
	}
	l := decode[list](t, r)
	if len(l.Items) != 4 {
		t.Errorf("northwind board has %d ECOs, want 4 (3 ECOs and its rejected request)", len(l.Items))
	}
	for _, e := range l.Items {
		if e.NOCTenantID != devdata.NOCNorthwind {
			t.Errorf("northwind board shows ECO %s of %s", e.ECOID, e.NOCTenantID)
		}
	}
	d := decode[gateway.ECODetail](t, w.do(t, single, "GET", "/v1/nocs/noc-northwind/ecos/"+w.ecos["nw-acme-1"].ECOID, nil))
	if d.Status != "accepted" || len(d.Timeline) != 9 || len(d.CallAttempts) != 2 || d.AcceptedBy == nil || *d.FieldStatus != "on_site" {
		t.Errorf("ECO detail: status %s, %d timeline, %d calls, accepted by %v; want accepted with 9 events and 2 calls", d.Status, len(d.Timeline), len(d.CallAttempts), d.AcceptedBy)
	}
}

func TestMultiNOCOperatorChoosesAmongTheirNOCs(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	m := decode[me](t, w.do(t, multi, "GET", "/v1/me", nil))
	if m.Access != "multiple" || len(m.Tenants) != 2 || m.Landing != "" {
		t.Fatalf("me = %+v, want a choice of two NOCs and no landing", m)
	}
	for _, ten := range m.Tenants {
		l := decode[list](t, w.do(t, multi, "GET", "/v1/nocs/"+ten.TenantID+"/ecos", nil))
		if len(l.Items) == 0 {
			t.Errorf("%s board is empty", ten.TenantID)
		}
		for _, e := range l.Items {
			if e.NOCTenantID != ten.TenantID {
				t.Errorf("%s board shows an ECO of %s", ten.TenantID, e.NOCTenantID)
			}
		}
	}
}

func TestSystemAdminWithoutMembershipsPassesByTheExplicitCheck(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	m := decode[me](t, w.do(t, sysadmin, "GET", "/v1/me", nil))
	if m.Access != "system-admin" || len(m.Tenants) != 0 {
		t.Fatalf("me = %+v", m)
	}
	if r := w.do(t, sysadmin, "GET", "/v1/nocs/noc-harbor/ecos", nil); r.status != 200 || len(decode[list](t, r).Items) != 2 {
		t.Errorf("system admin on harbor's board: %d %s", r.status, r.body)
	}
	if r := w.do(t, sysadmin, "GET", "/v1/admin/tenants", nil); r.status != 200 {
		t.Errorf("admin tenants: %d %s", r.status, r.body)
	}
	if r := w.do(t, sysadmin, "PUT", "/v1/admin/osps/osp-dune", gateway.OSPBody{Name: "Dune", JobPrefix: "DUNE"}); r.status != 204 {
		t.Errorf("create OSP: %d %s", r.status, r.body)
	}
	r := w.do(t, sysadmin, "PUT", "/v1/admin/osps/osp-dune", gateway.OSPBody{Name: "Dune", JobPrefix: "DUNE", JobTemplate: "{nope}"})
	if r.status != 422 || r.slug() != gateway.ProbValidation {
		t.Errorf("invalid template: %d %s", r.status, r.body)
	}
	if r := w.do(t, multi, "GET", "/v1/admin/tenants", nil); r.status != 403 || r.slug() != gateway.ProbNotSystemAdmin {
		t.Errorf("NOC admin on admin route: %d %s", r.status, r.body)
	}
}

func TestUserWithoutAccessGetsDistinctAnswers(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	m := decode[me](t, w.do(t, nobody, "GET", "/v1/me", nil))
	if m.Access != "none" || !strings.Contains(m.Notice, gateway.ProbNoMemberships) {
		t.Errorf("me = %+v, want access none with the no-memberships notice", m)
	}
	cases := []struct {
		name, user, path string
		status           int
		slug             string
	}{
		{"no token", "", "/v1/nocs/noc-northwind/ecos", 401, gateway.ProbUnauthenticated},
		{"unknown token", "stk_nottherealtoken", "/v1/nocs/noc-northwind/ecos", 401, gateway.ProbUnauthenticated},
		{"garbage header", "nonsense", "/v1/me", 401, gateway.ProbUnauthenticated},
		{"no memberships", nobody, "/v1/nocs/noc-northwind/ecos", 403, gateway.ProbNoMemberships},
		{"no memberships, OSP", nobody, "/v1/osps/osp-acme/ecos", 403, gateway.ProbNoMemberships},
		{"member elsewhere", single, "/v1/nocs/noc-harbor/ecos", 403, gateway.ProbForbiddenTenant},
	}
	if r := w.do(t, single, "DELETE", "/v1/me", nil); r.status != 404 || r.slug() != gateway.ProbNotFound {
		t.Errorf("unknown route: %d %s, want a 404 problem", r.status, r.body)
	}
	for _, c := range cases {
		r := w.do(t, c.user, "GET", c.path, nil)
		if r.status != c.status || r.slug() != c.slug {
			t.Errorf("%s: %d %q, want %d %q", c.name, r.status, r.slug(), c.status, c.slug)
		}
	}
}

func TestDirectURLToAnotherTenantsECOLeaksNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	harborECO := w.ecos["hb-acme-1"].ECOID
	existing := w.do(t, single, "GET", "/v1/nocs/noc-harbor/ecos/"+harborECO, nil)
	ghost := w.do(t, single, "GET", "/v1/nocs/noc-ghost/ecos/"+harborECO, nil)
	if existing.status != 403 || existing.slug() != gateway.ProbForbiddenTenant {
		t.Errorf("another NOC's ECO: %d %s", existing.status, existing.body)
	}
	if string(existing.body) != string(ghost.body) || existing.status != ghost.status {
		t.Errorf("an existing and a non-existent tenant answer differently (existence oracle):\n%s\n%s", existing.body, ghost.body)
	}
	if r := w.do(t, single, "GET", "/v1/nocs/noc-northwind/ecos/"+harborECO, nil); r.status != 404 || strings.Contains(string(r.body), "harbor") {
		t.Errorf("another NOC's ECO under my own tenant: %d %s, want a plain 404", r.status, r.body)
	}
}

func TestOSPAgentSeesTheECOsOfEveryNOCTheyWorkFor(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	l := decode[list](t, w.do(t, agent, "GET", "/v1/osps/osp-acme/ecos", nil))
	nocs := map[string]int{}
	for _, e := range l.Items {
		if e.OSPTenantID != devdata.OSPAcme {
			t.Errorf("acme board shows an ECO of OSP %s", e.OSPTenantID)
		}
		nocs[e.NOCTenantID]++
	}
	if nocs[devdata.NOCNorthwind] != 2 || nocs[devdata.NOCHarbor] != 1 {
		t.Errorf("acme sees ECOs per NOC %v, want 2 from northwind and 1 from harbor", nocs)
	}
	if r := w.do(t, agent, "GET", "/v1/osps/osp-acme/ecos/"+w.ecos["hb-acme-1"].ECOID, nil); r.status != 200 {
		t.Errorf("acme agent on a harbor ECO it works: %d", r.status)
	}
	if r := w.do(t, agent, "POST", "/v1/nocs/noc-northwind/ecos", map[string]any{}); r.status != 403 {
		t.Errorf("OSP agent creating a NOC's ECO: %d", r.status)
	}
}

func TestRejectedRequestsShowToTheNOCOnly(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	id := w.ecos["nw-cedar-rejected"].ECOID
	if r := w.do(t, single, "GET", "/v1/nocs/noc-northwind/ecos?status=rejected", nil); len(decode[list](t, r).Items) != 1 {
		t.Errorf("NOC does not see its rejected request: %s", r.body)
	}
	if r := w.do(t, sysadmin, "GET", "/v1/osps/osp-cedar/ecos/"+id, nil); r.status != 404 {
		t.Errorf("OSP sees a request rejected before it reached it: %d %s", r.status, r.body)
	}
}

func TestHistoryStaysVisibleAfterTheLinkIsRemoved(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if r := w.do(t, sysadmin, "PUT", "/v1/admin/links/noc-northwind/osp-bolt", gateway.LinkBody{Status: "removed"}); r.status != 204 {
		t.Fatalf("remove link: %d %s", r.status, r.body)
	}
	bolt := w.ecos["nw-bolt-1"].ECOID
	if r := w.do(t, single, "GET", "/v1/nocs/noc-northwind/ecos/"+bolt, nil); r.status != 200 {
		t.Errorf("NOC lost its ECO after the link was removed: %d", r.status)
	}
	if r := w.do(t, sysadmin, "GET", "/v1/osps/osp-bolt/ecos", nil); !ecoIDs(decode[list](t, r).Items)[bolt] {
		t.Errorf("OSP lost the ECO after the link was removed: %s", r.body)
	}
	r := w.do(t, single, "POST", "/v1/nocs/noc-northwind/ecos", validCreate(devdata.OSPBolt))
	if r.status != 422 || r.slug() != gateway.ProbLinkNotActive {
		t.Errorf("new work over a removed link: %d %s", r.status, r.body)
	}
}

func validCreate(osp string) map[string]any {
	return map[string]any{"osp_tenant_id": osp, "region": devdata.RegionMetro, "priority": "P1",
		"site": map[string]any{"name": "Exchange 7", "address": "1 Main St"}, "summary": "Fibre cut on ring 4"}
}

func TestHTTPIntakeProducesTheRequestKeyedByOSPIdempotently(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	body := validCreate(devdata.OSPAcme)
	body["request_id"] = "6a0f4f4e-5d0b-4f7e-9b55-0f1b3f1e2d3c"
	r := w.do(t, single, "POST", "/v1/nocs/noc-northwind/ecos", body)
	if r.status != 202 {
		t.Fatalf("intake: %d %s", r.status, r.body)
	}
	ack := decode[gateway.IntakeResponse](t, r)
	if ack.RequestID != body["request_id"] || ack.ECOID == "" {
		t.Errorf("ack %+v", ack)
	}
	again := decode[gateway.IntakeResponse](t, w.do(t, single, "POST", "/v1/nocs/noc-northwind/ecos", body))
	if again.ECOID != ack.ECOID || !again.Replayed {
		t.Errorf("retry with the same request id: %+v, want the same ECO marked replayed", again)
	}
	body["summary"] = "something else"
	if r := w.do(t, single, "POST", "/v1/nocs/noc-northwind/ecos", body); r.status != 409 || r.slug() != gateway.ProbRequestIDConflict {
		t.Errorf("same id, other body: %d %s", r.status, r.body)
	}
	recs := kafkatest.ReadAll(t, w.kafka.Brokers, "strike.eco.requests.v1", 2, 10*time.Second)
	for _, rec := range recs {
		var req schemas.ECORequest
		if err := w.v.Decode(schemas.TypeECORequest, rec.Value, &req); err != nil {
			t.Fatal(err)
		}
		if string(rec.Key) != devdata.OSPAcme || req.NOCTenantID != devdata.NOCNorthwind || req.RequestedBy.Email != single {
			t.Errorf("produced %s keyed %s for NOC %s by %s", rec.Value, rec.Key, req.NOCTenantID, req.RequestedBy.Email)
		}
	}

	bad := []struct {
		name   string
		body   any
		status int
		slug   string
		field  string
	}{
		{"schema violation", map[string]any{"osp_tenant_id": devdata.OSPAcme, "region": "metro-north", "priority": "P1", "site": map[string]any{"name": ""}, "summary": "x"}, 422, gateway.ProbValidation, "site/name"},
		{"unknown field", map[string]any{"osp_tenant_id": devdata.OSPAcme, "noc_tenant_id": "noc-harbor"}, 400, gateway.ProbValidation, "noc_tenant_id"},
		{"wrong type", map[string]any{"people_needed": "two"}, 400, gateway.ProbValidation, "people_needed"},
		{"not JSON", "{nope", 400, gateway.ProbMalformedBody, ""},
		{"too large", `{"summary":"` + strings.Repeat("x", 70<<10) + `"}`, 413, gateway.ProbBodyTooLarge, ""},
		{"unlinked OSP", validCreate(devdata.OSPCedar), 422, gateway.ProbLinkNotActive, "osp_tenant_id"},
		{"bad request id", map[string]any{"request_id": "42"}, 422, gateway.ProbValidation, "request_id"},
	}
	for _, c := range bad {
		r := w.do(t, single, "POST", "/v1/nocs/noc-northwind/ecos", c.body)
		if r.status != c.status || r.slug() != c.slug {
			t.Errorf("%s: %d %s", c.name, r.status, r.body)
			continue
		}
		if c.field != "" && (len(r.prob.Errors) == 0 || !strings.HasPrefix(r.prob.Errors[0].Field, c.field)) {
			t.Errorf("%s: field errors %+v, want %s", c.name, r.prob.Errors, c.field)
		}
	}
	if r := w.do(t, viewer, "POST", "/v1/nocs/noc-northwind/ecos", validCreate(devdata.OSPAcme)); r.status != 403 || r.slug() != gateway.ProbForbiddenRole {
		t.Errorf("viewer creating an ECO: %d %s", r.status, r.body)
	}
}

func TestCancelProducesAnECOCancelKeyedByOSP(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	e := w.ecos["nw-acme-2"]
	r := w.do(t, single, "POST", "/v1/nocs/noc-northwind/ecos/"+e.ECOID+"/cancel", map[string]string{"reason": "fixed remotely"})
	if r.status != 202 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	recs := kafkatest.ReadAll(t, w.kafka.Brokers, "strike.eco.requests.v1", 1, 10*time.Second)
	var c schemas.ECOCancel
	if len(recs) != 1 || w.v.Decode(schemas.TypeECOCancel, recs[0].Value, &c) != nil || string(recs[0].Key) != devdata.OSPAcme || c.ECOID != e.ECOID {
		t.Fatalf("cancel records: %v", recs)
	}
	if r := w.do(t, single, "POST", "/v1/nocs/noc-northwind/ecos/"+w.ecos["hb-acme-1"].ECOID+"/cancel", nil); r.status != 404 {
		t.Errorf("cancel another NOC's ECO through my tenant: %d", r.status)
	}
	if r := w.do(t, single, "POST", "/v1/nocs/noc-northwind/ecos/"+w.ecos["nw-cedar-rejected"].ECOID+"/cancel", nil); r.status != 409 {
		t.Errorf("cancel a rejected request: %d", r.status)
	}
}

func TestListFiltersAndCursorPagination(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	seen := map[string]bool{}
	path := "/v1/nocs/noc-northwind/ecos?limit=1"
	var last time.Time
	for pages := 0; ; pages++ {
		l := decode[list](t, w.do(t, single, "GET", path, nil))
		for _, e := range l.Items {
			if seen[e.ECOID] {
				t.Fatalf("ECO %s on two pages", e.ECOID)
			}
			if !last.IsZero() && e.CreatedAt.After(last) {
				t.Fatalf("pages out of order")
			}
			seen[e.ECOID], last = true, e.CreatedAt
		}
		if l.NextCursor == "" {
			break
		}
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		path = "/v1/nocs/noc-northwind/ecos?limit=1&cursor=" + l.NextCursor
		if pages == 0 {
			if r := w.do(t, multi, "GET", "/v1/nocs/noc-harbor/ecos?limit=1&cursor="+l.NextCursor, nil); r.status != 400 {
				t.Errorf("another list's cursor: %d", r.status)
			}
		}
	}
	if len(seen) != 4 {
		t.Errorf("paged through %d ECOs, want 4", len(seen))
	}
	filters := []struct {
		q    string
		want int
	}{
		{"status=accepted", 2}, {"status=ringing", 1}, {"q=FIBRE%20CUT%202", 1}, {"q=100%25", 0},
		{"since=2026-05-01T08:03:00Z", 2}, {"since=2030-01-01T00:00:00Z", 0},
	}
	for _, f := range filters {
		l := decode[list](t, w.do(t, single, "GET", "/v1/nocs/noc-northwind/ecos?"+f.q, nil))
		if len(l.Items) != f.want {
			t.Errorf("%s: %d items, want %d", f.q, len(l.Items), f.want)
		}
	}
	for _, q := range []string{"status=bogus", "since=yesterday", "limit=0", "limit=9999", "cursor=abc", "q=" + strings.Repeat("x", 101)} {
		if r := w.do(t, single, "GET", "/v1/nocs/noc-northwind/ecos?"+q, nil); r.status != 400 || len(r.prob.Errors) == 0 {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
}

func TestRowLevelSecurityLimitsAQueryWithoutATenantFilter(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	tenants := func(kind, tenant, sql string) []string {
		var out []string
		err := gateway.TenantTx(ctx, w.gw, kind, tenant, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, sql)
			if err != nil {
				return err
			}
			out, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, table := range []string{"eco_board", "eco_timeline", "call_attempts"} {
		got := tenants("noc", devdata.NOCNorthwind, "SELECT DISTINCT noc_tenant_id FROM "+table)
		if len(got) != 1 || got[0] != devdata.NOCNorthwind {
			t.Errorf("%s as northwind, no WHERE: tenants %v", table, got)
		}
		got = tenants("osp", devdata.OSPAcme, "SELECT DISTINCT osp_tenant_id FROM "+table)
		if len(got) != 1 || got[0] != devdata.OSPAcme {
			t.Errorf("%s as acme, no WHERE: tenants %v", table, got)
		}
		if got := tenants("noc", "", "SELECT eco_id::text FROM "+table); len(got) != 0 {
			t.Errorf("%s with no tenant set: %d rows, want none", table, len(got))
		}
	}
	if got := tenants("osp", devdata.OSPCedar, "SELECT status FROM eco_board"); fmt.Sprint(got) != "[ringing]" {
		t.Errorf("cedar sees statuses %v, want only its ringing ECO (not northwind's rejected request)", got)
	}
	// The role cannot write, nor read identity tables.
	err := gateway.TenantTx(ctx, w.gw, "noc", devdata.NOCNorthwind, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "SELECT count(*) FROM api_tokens")
		return err
	})
	if err == nil {
		t.Error("the API role can read api_tokens")
	}
}

// Request ids are namespaced per NOC: another NOC's use of an id neither refuses nor reveals
// anything (no 409 across NOCs), each NOC's request names its own ECO, and a retry re-sends the
// stored original (same document, requested_at and requester included) rather than a new one
// the eco-processor would call a conflict.
func TestHTTPIntakeRequestIDsArePerNOC(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const id = "0b5b3d7e-2f0c-4a51-8d4e-3c2a1b0f9e8d"
	nw := validCreate(devdata.OSPAcme)
	nw["request_id"] = id
	hb := validCreate(devdata.OSPAcme)
	hb["request_id"], hb["summary"] = id, "Harbor cabinet fire"

	r := w.do(t, multi, "POST", "/v1/nocs/noc-northwind/ecos", nw)
	if r.status != 202 {
		t.Fatalf("Northwind's intake: %d %s", r.status, r.body)
	}
	first := decode[gateway.IntakeResponse](t, r)
	r = w.do(t, multi, "POST", "/v1/nocs/noc-harbor/ecos", hb)
	if r.status != 202 {
		t.Fatalf("Harbor's intake with Northwind's request id: %d %s, want 202: the id is Harbor's own", r.status, r.body)
	}
	theirs := decode[gateway.IntakeResponse](t, r)
	if theirs.ECOID == first.ECOID || theirs.Replayed {
		t.Errorf("Harbor's request: %+v; Northwind's: %+v; want another ECO, not a replay", theirs, first)
	}
	for _, c := range []struct {
		noc string
		ack gateway.IntakeResponse
	}{{devdata.NOCNorthwind, first}, {devdata.NOCHarbor, theirs}} {
		if want := ids.ECOID(c.noc, id); c.ack.ECOID != want {
			t.Errorf("%s's ECO id %s, want %s, the one the eco-processor gives it", c.noc, c.ack.ECOID, want)
		}
	}
	// Another operator of Northwind retries the same body: the stored original goes out again.
	again := decode[gateway.IntakeResponse](t, w.do(t, single, "POST", "/v1/nocs/noc-northwind/ecos", nw))
	if again.ECOID != first.ECOID || !again.Replayed {
		t.Errorf("retry: %+v, want %s replayed", again, first.ECOID)
	}
	nw["summary"] = "another outage under the same id"
	if r := w.do(t, multi, "POST", "/v1/nocs/noc-northwind/ecos", nw); r.status != 409 || r.slug() != gateway.ProbRequestIDConflict {
		t.Errorf("Northwind, same id, another body: %d %s, want 409", r.status, r.body)
	}

	recs := kafkatest.ReadAll(t, w.kafka.Brokers, "strike.eco.requests.v1", 3, 10*time.Second)
	if len(recs) != 3 {
		t.Fatalf("%d requests produced, want 3", len(recs))
	}
	byNOC := map[string][][]byte{}
	for _, rec := range recs {
		var req schemas.ECORequest
		if err := w.v.Decode(schemas.TypeECORequest, rec.Value, &req); err != nil {
			t.Fatal(err)
		}
		byNOC[req.NOCTenantID] = append(byNOC[req.NOCTenantID], rec.Value)
	}
	if nws := byNOC[devdata.NOCNorthwind]; len(nws) != 2 || !bytes.Equal(nws[0], nws[1]) {
		t.Errorf("Northwind's request and its retry:\n%s\n%s\nwant the same document twice", nws[0], nws[1])
	}
	if len(byNOC[devdata.NOCHarbor]) != 1 {
		t.Errorf("Harbor's requests: %d, want 1", len(byNOC[devdata.NOCHarbor]))
	}
}
