package web_test

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/sink/sinktest"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/producers/gateway"
	"github.com/osprey-strike/strike/producers/gateway/web"
	"github.com/osprey-strike/strike/schemas"
)

func TestLandingFollowsMe(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true})
	for _, c := range []struct {
		user, landing, marker string
	}{
		{single, "/nocs/noc-northwind/ecos", w.ecos["nw-acme-1"].JobNumber},
		{multi, "/tenants", `data-testid="chooser"`},
		{agent, "/osps/osp-acme/ecos", w.ecos["hb-acme-1"].JobNumber},
		{sysadmin, "/admin", "System configuration"},
		{nobody, "/", `data-testid="no-access"`},
		{"oscar@acme.example", "/osps/osp-acme/ecos", w.ecos["hb-acme-1"].JobNumber},
	} {
		t.Run(c.user, func(t *testing.T) {
			b := w.browser(t)
			where, p := b.signIn(c.user, password(c.user))
			if where != c.landing || p.status != http.StatusOK || !strings.Contains(p.body, c.marker) {
				t.Fatalf("%s landed on %s (%d), want %s showing %q:\n%s", c.user, where, p.status, c.landing, c.marker, p.body)
			}
		})
	}
}

func TestSignedOutPagesGoToSignInAndBack(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true})
	b := w.browser(t)
	p := b.do(http.MethodGet, "/nocs/noc-northwind/ecos?status=ringing", nil)
	if p.status != http.StatusSeeOther || p.location != "/signin?next="+url.QueryEscape("/nocs/noc-northwind/ecos?status=ringing") {
		t.Fatalf("signed out: %d to %q", p.status, p.location)
	}
	p = b.do(http.MethodPost, "/signin", url.Values{"email": {single}, "password": {password(single)}, "next": {"/nocs/noc-northwind/ecos?status=ringing"}})
	if p.status != http.StatusSeeOther || p.location != "/nocs/noc-northwind/ecos?status=ringing" {
		t.Fatalf("after sign-in: %d to %q", p.status, p.location)
	}
	// next never leaves the site.
	for _, next := range []string{"//evil.example/x", "https://evil.example/", `/\evil.example`} {
		b := w.browser(t)
		p := b.do(http.MethodPost, "/signin", url.Values{"email": {single}, "password": {password(single)}, "next": {next}})
		if p.location != "/" {
			t.Errorf("next=%q redirected to %q, want /", next, p.location)
		}
	}
}

func TestWrongPasswordAndUnknownEmailLookTheSame(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true})
	_, wrong := w.browser(t).signIn(single, "not-the-password")
	_, unknown := w.browser(t).signIn("ghost@nowhere.example", "not-the-password")
	if wrong.status != http.StatusUnauthorized || unknown.status != http.StatusUnauthorized {
		t.Fatalf("statuses %d and %d, want 401", wrong.status, unknown.status)
	}
	strip := func(s string) string { return strings.ReplaceAll(s, "ghost@nowhere.example", single) }
	if strip(unknown.body) != wrong.body {
		t.Fatalf("an unknown email and a wrong password answer differently:\n%s\n---\n%s", wrong.body, unknown.body)
	}
	if wrong.header.Get("Set-Cookie") != "" {
		t.Fatalf("a failed sign-in set a cookie: %s", wrong.header.Get("Set-Cookie"))
	}
}

func TestSessionCookieIsHttpOnlyAndSameSite(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true})
	p := w.browser(t).do(http.MethodPost, "/signin", url.Values{"email": {single}, "password": {password(single)}})
	c := p.header.Get("Set-Cookie")
	for _, want := range []string{"strike_session=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(c, want) {
			t.Errorf("session cookie %q lacks %s", c, want)
		}
	}
}

func TestDevPasswordIsRefusedOutsideDevMode(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: false})
	if _, p := w.browser(t).signIn(single, password(single)); p.status != http.StatusUnauthorized {
		t.Fatalf("dev password outside dev mode: %d, want 401", p.status)
	}
	// A password set for real (not the dev mark) works.
	real := "correct horse battery staple"
	if err := (gateway.Accounts{Pool: w.db.Pool}).SetPassword(context.Background(), single, real, false); err != nil {
		t.Fatal(err)
	}
	if where, p := w.browser(t).signIn(single, real); where != "/nocs/noc-northwind/ecos" || p.status != http.StatusOK {
		t.Fatalf("real password: landed on %s (%d)", where, p.status)
	}
}

// The forbidden page must not tell a tenant that exists from one that does not, nor an ECO of
// another tenant from an ECO that does not exist.
func TestForbiddenPageIsTheSameWhetherTheTenantExists(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true})
	for _, c := range []struct {
		user           string
		exists, absent string
	}{
		{single, "/nocs/noc-harbor/ecos", "/nocs/noc-atlantis/ecos"},
		{single, "/nocs/noc-harbor/ecos/" + w.ecos["hb-acme-1"].ECOID, "/nocs/noc-atlantis/ecos/" + w.ecos["hb-acme-1"].ECOID},
		{single, "/osps/osp-acme/ecos", "/osps/osp-atlantis/ecos"},
		{single, "/nocs/noc-harbor/ecos/new", "/nocs/noc-atlantis/ecos/new"},
		{agent, "/osps/osp-bolt/ecos", "/osps/osp-atlantis/ecos"},
		{agent, "/nocs/noc-northwind/ecos", "/nocs/noc-atlantis/ecos"},
		{multi, "/osps/osp-acme/ecos/" + w.ecos["hb-acme-1"].ECOID, "/osps/osp-atlantis/ecos/" + uuid.NewString()},
		{single, "/admin", "/admin"},
	} {
		b := w.browser(t)
		b.signIn(c.user, password(c.user))
		e, a := b.do(http.MethodGet, c.exists, nil), b.do(http.MethodGet, c.absent, nil)
		if e.status != http.StatusForbidden || a.status != http.StatusForbidden {
			t.Errorf("%s: %s → %d, %s → %d, want 403 both", c.user, c.exists, e.status, c.absent, a.status)
			continue
		}
		if e.body != a.body {
			t.Errorf("%s: the forbidden pages of %s and %s differ:\n%s\n---\n%s", c.user, c.exists, c.absent, e.body, a.body)
		}
		if !strings.Contains(e.body, `data-testid="forbidden"`) {
			t.Errorf("%s: %s is not the plain forbidden page:\n%s", c.user, c.exists, e.body)
		}
	}
	// An ECO id the NOC does not have: not found, the same for another NOC's ECO.
	b := w.browser(t)
	b.signIn(single, password(single))
	other, none := b.do(http.MethodGet, "/nocs/noc-northwind/ecos/"+w.ecos["hb-acme-1"].ECOID, nil), b.do(http.MethodGet, "/nocs/noc-northwind/ecos/"+uuid.NewString(), nil)
	if other.status != http.StatusNotFound || other.body != none.body {
		t.Errorf("another NOC's ECO under my NOC: %d, and differs from a missing one: %v", other.status, other.body != none.body)
	}
	// The no-memberships user gets "no access yet", not "forbidden".
	b = w.browser(t)
	b.signIn(nobody, password(nobody))
	if p := b.do(http.MethodGet, "/nocs/noc-northwind/ecos", nil); p.status != http.StatusForbidden || !strings.Contains(p.body, `data-testid="no-access"`) {
		t.Errorf("user without memberships on a board: %d\n%s", p.status, p.body)
	}
}

func TestWritesNeedTheSessionsCSRFTokenAndOrigin(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true})
	b := w.browser(t)
	b.signIn(single, password(single))
	eco := w.ecos["nw-acme-2"].ECOID
	b.do(http.MethodGet, "/nocs/noc-northwind/ecos/"+eco, nil)
	token := b.csrf()
	other := w.browser(t)
	other.signIn(multi, password(multi))
	for name, form := range map[string]url.Values{
		"no token":            {"reason": {"x"}},
		"another's token":     {"reason": {"x"}, "csrf": {other.csrf()}},
		"a token with a typo": {"reason": {"x"}, "csrf": {token + "x"}},
	} {
		if p := b.do(http.MethodPost, "/nocs/noc-northwind/ecos/"+eco+"/cancel", form); p.status != http.StatusForbidden {
			t.Errorf("%s: cancel answered %d, want 403", name, p.status)
		}
	}
	// The right token from another site.
	req, _ := http.NewRequest(http.MethodPost, w.srv.URL+"/nocs/noc-northwind/ecos/"+eco+"/cancel",
		strings.NewReader(url.Values{"csrf": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	res, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin cancel with the right token: %d, want 403", res.StatusCode)
	}
	if p := b.do(http.MethodPost, "/signout", url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("sign-out without a token: %d, want 403", p.status)
	}
	// Nothing reached Kafka so far; with the token, the cancel is produced.
	p := b.do(http.MethodPost, "/nocs/noc-northwind/ecos/"+eco+"/cancel", url.Values{"csrf": {token}, "reason": {"resolved"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("cancel with the token: %d\n%s", p.status, p.body)
	}
	if rec := produced(t, eco); string(rec.Key) != devdata.OSPAcme || !strings.Contains(string(rec.Value), `"reason":"resolved"`) {
		t.Fatalf("produced %s: %s", rec.Key, rec.Value)
	}
}

func TestSignOutEndsTheSession(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true})
	b := w.browser(t)
	b.signIn(single, password(single))
	cookies := b.c.Jar.Cookies(mustURL(t, w.srv.URL))
	if p := b.do(http.MethodPost, "/signout", url.Values{"csrf": {b.csrf()}}); p.status != http.StatusSeeOther || p.location != "/signin" {
		t.Fatalf("sign-out: %d to %s", p.status, p.location)
	}
	// The old cookie, replayed, is worth nothing.
	thief := w.browser(t)
	thief.c.Jar.SetCookies(mustURL(t, w.srv.URL), cookies)
	if p := thief.do(http.MethodGet, "/nocs/noc-northwind/ecos", nil); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/signin") {
		t.Fatalf("replayed cookie after sign-out: %d to %s", p.status, p.location)
	}
}

func TestCreateFormShowsThePolicyAndItsBoundsAndProducesTheRequest(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true})
	b := w.browser(t)
	b.signIn(single, password(single))
	p := b.do(http.MethodGet, "/nocs/noc-northwind/ecos/new", nil)
	for _, want := range []string{`name="loop_count" type="number" min="1" max="5"`, `name="ring_duration_seconds" type="number" min="10" max="60"`,
		"2 passes through the roster", "fail over to osp-bolt", `value="osp-acme"`, `value="osp-bolt"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("create form lacks %q", want)
		}
	}
	if strings.Contains(p.body, `value="osp-cedar"`) {
		t.Errorf("create form offers an OSP without an active link")
	}
	form := url.Values{"csrf": {b.csrf()}, "osp_tenant_id": {devdata.OSPAcme}, "region": {devdata.RegionMetro}, "priority": {"P1"},
		"site_name": {"Exchange 9"}, "summary": {"Fibre cut on the ring"}, "people_needed": {"1"}, "loop_count": {"nine"}}
	p = b.do(http.MethodPost, "/nocs/noc-northwind/ecos", form)
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "want a whole number") || !strings.Contains(p.body, "Fibre cut on the ring") {
		t.Fatalf("loop count \"nine\": %d, want the form again with the error and the values kept\n%s", p.status, p.body)
	}
	form.Set("loop_count", "3")
	form.Set("osp_tenant_id", devdata.OSPCedar)
	p = b.do(http.MethodPost, "/nocs/noc-northwind/ecos", form)
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "No active link to this OSP") {
		t.Fatalf("OSP without an active link: %d\n%s", p.status, p.body)
	}
	form.Set("osp_tenant_id", devdata.OSPAcme)
	form.Set("loop_count", "3")
	p = b.do(http.MethodPost, "/nocs/noc-northwind/ecos", form)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/nocs/noc-northwind/ecos?requested=") {
		t.Fatalf("valid create: %d to %s\n%s", p.status, p.location, p.body)
	}
	rec := produced(t, "Fibre cut on the ring")
	if string(rec.Key) != devdata.OSPAcme || !strings.Contains(string(rec.Value), `"loop_count":3`) || !strings.Contains(string(rec.Value), single) {
		t.Fatalf("produced %s: %s", rec.Key, rec.Value)
	}
	// The agent cannot create: forbidden-role, an error page, not the form.
	a := w.browser(t)
	a.signIn(agent, password(agent))
	if p := a.do(http.MethodGet, "/osps/osp-acme/ecos", nil); strings.Contains(p.body, "Create ECO") {
		t.Errorf("the OSP board offers Create ECO")
	}
}

func TestLiveBoardStreamsAProjectedECO(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true, live: 50 * time.Millisecond})
	b := w.browser(t)
	b.signIn(single, password(single))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.srv.URL+"/nocs/noc-northwind/ecos/live", nil)
	res, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); res.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("live: %d %s", res.StatusCode, ct)
	}
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitFor := func(what string) {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("stream ended before %q", what)
				}
				if strings.Contains(l, what) {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no %q on the stream", what)
			}
		}
	}
	waitFor(w.ecos["nw-acme-1"].JobNumber) // the first render
	e := sinktest.NewECO(devdata.NOCNorthwind, devdata.OSPAcme, 99, time.Now().UTC())
	w.project(e.Created())
	waitFor(e.JobNumber)
	w.project(e.Started(time.Second), e.Placed(1, 2*time.Second), e.Accepted(1, 3*time.Second))
	waitFor("Contact 1") // accepted by
	// Another NOC's ECO never reaches this stream (its job number would be on a row).
	h := sinktest.NewECO(devdata.NOCHarbor, devdata.OSPAcme, 98, time.Now().UTC())
	w.project(h.Created())
	n := sinktest.NewECO(devdata.NOCNorthwind, devdata.OSPAcme, 97, time.Now().UTC().Add(time.Second))
	w.project(n.Created())
	for {
		select {
		case l := <-lines:
			if strings.Contains(l, h.JobNumber) {
				t.Fatalf("Harbor's ECO reached Northwind's board")
			}
			if strings.Contains(l, n.JobNumber) {
				return
			}
		case <-ctx.Done():
			t.Fatal("no update after Harbor's ECO")
		}
	}
}

// produced waits for the intake record on the shared broker whose value contains marker.
func produced(t *testing.T, marker string) *kgo.Record {
	t.Helper()
	return producedOn(t, topics.ECORequests, marker)
}

// producedOn waits for the record on topic whose value contains marker.
func producedOn(t *testing.T, topic, marker string) *kgo.Record {
	t.Helper()
	cl := kafkatest.Client(t, brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("no record with %q on %s", marker, topic)
		}
		for _, r := range fs.Records() {
			if strings.Contains(string(r.Value), marker) {
				return r
			}
		}
	}
}

func mustURL(t testing.TB, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestOSPAdminEditsRostersAgentsReadThem(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true})
	const admin = "oscar@acme.example"
	b := w.browser(t)
	b.signIn(admin, password(admin))
	p := b.do(http.MethodGet, "/osps/osp-acme/rosters/metro-north", nil)
	if p.status != http.StatusOK || !strings.Contains(p.body, `value="Ada Lovelace"`) || !strings.Contains(p.body, "Save roster") {
		t.Fatalf("admin's roster page: %d\n%s", p.status, p.body)
	}
	form := url.Values{"csrf": {b.csrf()}, "name": {"Acme metro north on-call"}, "rotation": {"fixed"},
		"position": {"1", "2", ""}, "contact_name": {"Grace Hopper", "Ada Lovelace", ""}, "phone": {"+15550101002", "555-0101", ""}}
	p = b.do(http.MethodPost, "/osps/osp-acme/rosters/metro-north", form)
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "555-0101") || !strings.Contains(p.body, `role="alert"`) {
		t.Fatalf("a phone number that is not E.164: %d, want the form again with the error\n%s", p.status, p.body)
	}
	form.Set("csrf", b.csrf())
	form["phone"] = []string{"+15550101002", "+15550101001", ""}
	p = b.do(http.MethodPost, "/osps/osp-acme/rosters/metro-north", form)
	if p.status != http.StatusSeeOther {
		t.Fatalf("valid roster: %d\n%s", p.status, p.body)
	}
	r, err := (tenancy.Store{Pool: w.db.Pool}).GetRoster(context.Background(), devdata.OSPAcme, devdata.RegionMetro)
	if err != nil || len(r.Contacts) != 2 || r.Contacts[0].Name != "Grace Hopper" || r.Contacts[1].Phone != "+15550101001" {
		t.Fatalf("stored roster %+v, %v", r, err)
	}

	a := w.browser(t)
	a.signIn(agent, password(agent))
	p = a.do(http.MethodGet, "/osps/osp-acme/rosters/metro-north", nil)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Grace Hopper") || strings.Contains(p.body, "Save roster") {
		t.Fatalf("agent's roster page: %d, want it read-only\n%s", p.status, p.body)
	}
	form.Set("csrf", a.csrf())
	if p := a.do(http.MethodPost, "/osps/osp-acme/rosters/metro-north", form); p.status != http.StatusForbidden {
		t.Fatalf("agent saving a roster: %d, want 403", p.status)
	}
	// Another OSP's rosters are forbidden, the same as an OSP that does not exist.
	e, n := a.do(http.MethodGet, "/osps/osp-bolt/rosters/metro-north", nil), a.do(http.MethodGet, "/osps/osp-nowhere/rosters/metro-north", nil)
	if e.status != http.StatusForbidden || e.body != n.body {
		t.Fatalf("another OSP's roster: %d, same as a missing OSP: %v", e.status, e.body == n.body)
	}
}

// Every tenant page, read or write, for every demo user outside the tenant: the answer for an
// existing tenant is the one for a tenant that does not exist, byte for byte.
func TestCrossTenantMatrixOfThePages(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true})
	ecoOf := map[string]string{devdata.NOCNorthwind: w.ecos["nw-acme-1"].ECOID, devdata.NOCHarbor: w.ecos["hb-acme-1"].ECOID,
		devdata.OSPAcme: w.ecos["nw-acme-1"].ECOID, devdata.OSPBolt: w.ecos["nw-bolt-1"].ECOID, devdata.OSPCedar: w.ecos["hb-cedar-1"].ECOID}
	tenants := map[string][]string{"noc": {devdata.NOCNorthwind, devdata.NOCHarbor}, "osp": {devdata.OSPAcme, devdata.OSPBolt, devdata.OSPCedar}}
	checked := 0
	for _, u := range devdata.Users {
		if u.SystemAdmin {
			continue
		}
		b := w.browser(t)
		b.signIn(u.Email, password(u.Email))
		b.do(http.MethodGet, "/tenants", nil)
		token := ""
		if m := csrfPattern.FindStringSubmatch(b.last); m != nil {
			token = m[1]
		}
		member := map[string]bool{}
		for _, m := range u.Memberships {
			member[m.Tenant] = true
		}
		for _, route := range web.Paths {
			method, pattern, _ := strings.Cut(route, " ")
			kind := ""
			switch {
			case strings.Contains(pattern, "{noc}"):
				kind = "noc"
			case strings.Contains(pattern, "{osp}"):
				kind = "osp"
			default:
				continue
			}
			for _, tenant := range tenants[kind] {
				if member[tenant] {
					continue
				}
				path := func(tenant, eco string) string {
					return strings.NewReplacer("{"+kind+"}", tenant, "{eco}", eco, "{region}", devdata.RegionMetro).Replace(pattern)
				}
				var form url.Values
				if method == http.MethodPost {
					form = url.Values{"csrf": {token}, "reason": {"x"}, "name": {"x"}}
				}
				e := b.do(method, path(tenant, ecoOf[tenant]), form)
				n := b.do(method, path(kind+"-nowhere", ecoOf[tenant]), form)
				checked++
				if e.status != http.StatusForbidden || e.body != n.body {
					t.Errorf("%s %s: %d, and differs from a tenant that does not exist: %v", u.Email, path(tenant, ecoOf[tenant]), e.status, e.body != n.body)
				}
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d cross-tenant requests checked", checked)
	}
}

func TestSystemAdminPreviewsAndSavesAJobTemplateAndALink(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true})
	b := w.browser(t)
	b.signIn(sysadmin, password(sysadmin))
	p := b.do(http.MethodGet, "/admin/osps/osp-bolt", nil)
	if p.status != http.StatusOK || !strings.Contains(p.body, "BOLT"+time.Now().UTC().Format("2006")+"-000001") {
		t.Fatalf("OSP page: %d\n%s", p.status, p.body)
	}
	form := url.Values{"csrf": {b.csrf()}, "name": {"Bolt Field Services"}, "job_prefix": {"BOLT"}, "job_template": {"{prefix}-{bogus}"}, "action": {"save"}}
	p = b.do(http.MethodPost, "/admin/osps/osp-bolt", form)
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "bogus") {
		t.Fatalf("invalid template: %d, want the page with what is wrong\n%s", p.status, p.body)
	}
	form.Set("job_template", "{prefix}/{noc}/{num:3}")
	form.Set("action", "preview")
	p = b.do(http.MethodPost, "/admin/osps/osp-bolt", form)
	if p.status != http.StatusOK || !strings.Contains(p.body, "BOLT/NWND/001") {
		t.Fatalf("preview: %d\n%s", p.status, p.body)
	}
	var stored string
	_ = w.db.Pool.QueryRow(context.Background(), `SELECT job_template FROM osp_tenants WHERE id = 'osp-bolt'`).Scan(&stored)
	if stored != "{prefix}{year}-{num:6}" {
		t.Fatalf("a preview saved the template: %q", stored)
	}
	form.Set("action", "save")
	if p = b.do(http.MethodPost, "/admin/osps/osp-bolt", form); p.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", p.status, p.body)
	}
	_ = w.db.Pool.QueryRow(context.Background(), `SELECT job_template FROM osp_tenants WHERE id = 'osp-bolt'`).Scan(&stored)
	if stored != "{prefix}/{noc}/{num:3}" {
		t.Fatalf("stored template %q", stored)
	}
	b.do(http.MethodGet, "/admin", nil)
	if p := b.do(http.MethodPost, "/admin/links/noc-harbor/osp-cedar", url.Values{"csrf": {b.csrf()}, "status": {"active"}}); p.status != http.StatusSeeOther {
		t.Fatalf("link: %d\n%s", p.status, p.body)
	}
	var status string
	_ = w.db.Pool.QueryRow(context.Background(), `SELECT status FROM noc_osp_links WHERE noc_tenant_id = 'noc-harbor' AND osp_tenant_id = 'osp-cedar'`).Scan(&status)
	if status != "active" {
		t.Fatalf("link status %q", status)
	}
	// Nobody else may.
	o := w.browser(t)
	o.signIn("oscar@acme.example", password("oscar@acme.example"))
	o.do(http.MethodGet, "/osps/osp-acme/ecos", nil)
	if p := o.do(http.MethodPost, "/admin/osps/osp-acme", url.Values{"csrf": {o.csrf()}, "name": {"x"}, "job_prefix": {"X"}, "job_template": {"{num}"}, "action": {"save"}}); p.status != http.StatusForbidden {
		t.Fatalf("an OSP admin saving system configuration: %d", p.status)
	}
}

func TestClosingTheUIEndsLiveStreams(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true, live: 50 * time.Millisecond})
	b := w.browser(t)
	b.signIn(single, password(single))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.srv.URL+"/nocs/noc-northwind/ecos/"+w.ecos["nw-acme-1"].ECOID+"/live", nil)
	res, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	sawPeople := false
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "event: update") {
	}
	for sc.Scan() && sc.Text() != "" {
		sawPeople = sawPeople || strings.Contains(sc.Text(), `data-testid="people"`)
	}
	if !sawPeople {
		t.Errorf("the ECO's live section has no people table")
	}
	w.ui.Close()
	done := make(chan struct{})
	go func() {
		for sc.Scan() {
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream stayed open after Close")
	}
}

func TestSystemAdminEditsANOCsTwilioContextAndPolicy(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true})
	b := w.browser(t)
	b.signIn(sysadmin, password(sysadmin))
	p := b.do(http.MethodGet, "/admin/nocs/noc-harbor", nil)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Strike-owned, NOC-scoped") || !strings.Contains(p.body, "AC00000000000000000000000000000a02") {
		t.Fatalf("NOC page: %d\n%s", p.status, p.body)
	}
	tok := b.csrf()
	noc := url.Values{"csrf": {tok}, "form": {"noc"}, "name": {"Harbor Telecom NOC"}, "code": {"HRBR"},
		"twilio_subaccount_sid": {"not-a-sid"}, "caller_id": {"+15550100002"}}
	if p := b.do(http.MethodPost, "/admin/nocs/noc-harbor", noc); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `data-testid="noc-error"`) {
		t.Fatalf("a bad SID: %d\n%s", p.status, p.body)
	}
	noc.Set("twilio_subaccount_sid", "AC0000000000000000000000000000bb02")
	if p := b.do(http.MethodPost, "/admin/nocs/noc-harbor", noc); p.status != http.StatusSeeOther {
		t.Fatalf("save NOC: %d\n%s", p.status, p.body)
	}
	pol := url.Values{"csrf": {tok}, "form": {"policy"}, "loop_count": {"4"}, "retry_after_seconds": {"600"}, "max_retries": {"2"},
		"failover_osp_ids": {"osp-cedar, osp-acme"}, "ring_duration_seconds": {""}}
	if p := b.do(http.MethodPost, "/admin/nocs/noc-harbor", pol); p.status != http.StatusSeeOther {
		t.Fatalf("save policy: %d\n%s", p.status, p.body)
	}
	var sid string
	var loop int
	var failover []string
	_ = w.db.Pool.QueryRow(context.Background(), `SELECT n.twilio_subaccount_sid, p.loop_count, p.failover_osp_ids FROM noc_tenants n
		JOIN noc_callout_policies p ON p.noc_tenant_id = n.id WHERE n.id = 'noc-harbor'`).Scan(&sid, &loop, &failover)
	if sid != "AC0000000000000000000000000000bb02" || loop != 4 || strings.Join(failover, ",") != "osp-cedar,osp-acme" {
		t.Fatalf("stored %s %d %v", sid, loop, failover)
	}
	pol.Set("loop_count", "99")
	if p := b.do(http.MethodPost, "/admin/nocs/noc-harbor", pol); p.status != http.StatusUnprocessableEntity {
		t.Fatalf("loop count 99: %d", p.status)
	}
	// A NOC operator never sees this page: forbidden, like any page outside their reach.
	o := w.browser(t)
	o.signIn(multi, password(multi))
	if p := o.do(http.MethodGet, "/admin/nocs/noc-harbor", nil); p.status != http.StatusForbidden {
		t.Fatalf("a NOC operator on the NOC's system page: %d", p.status)
	}
}

// A form body that does not parse is refused like a bad token, even with the right token in it.
func TestAMalformedFormIsRefused(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true})
	b := w.browser(t)
	b.signIn(single, password(single))
	req, _ := http.NewRequest(http.MethodPost, w.srv.URL+"/signout", strings.NewReader("csrf="+url.QueryEscape(b.csrf())+"&reason=%zz"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", w.srv.URL)
	res, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-out with a malformed form: %d, want 403", res.StatusCode)
	}
}

func TestAnOversizedFormIsRefused(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true})
	b := w.browser(t)
	b.signIn(single, password(single))
	b.do(http.MethodGet, "/nocs/noc-northwind/ecos/new", nil)
	form := url.Values{"csrf": {b.csrf()}, "summary": {strings.Repeat("x", 1<<20)}}
	if p := b.do(http.MethodPost, "/nocs/noc-northwind/ecos", form); p.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("a 1 MiB form: %d, want 413", p.status)
	}
}

// A stream re-reads its session as it goes (every 5 s): signing out in another tab ends it.
func TestSigningOutEndsAnOpenLiveStream(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true, live: 50 * time.Millisecond})
	b := w.browser(t)
	b.signIn(single, password(single))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.srv.URL+"/nocs/noc-northwind/ecos/live", nil)
	// The browser's client gives up after 10 s; the stream must end on its own, within 15.
	res, err := (&http.Client{Jar: b.c.Jar}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "event: update") {
	}
	if p := b.do(http.MethodPost, "/signout", url.Values{"csrf": {b.csrf()}}); p.status != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", p.status)
	}
	for sc.Scan() {
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("the stream stayed open after signing out: %v", err)
	}
}

func TestLiveStreamsPerUserAreBounded(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true, maxStreams: 2})
	b := w.browser(t)
	b.signIn(single, password(single))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func() *http.Response {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.srv.URL+"/nocs/noc-northwind/ecos/live", nil)
		res, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	if a, c := open(), open(); a.StatusCode != http.StatusOK || c.StatusCode != http.StatusOK {
		t.Fatalf("two streams: %d %d", a.StatusCode, c.StatusCode)
	}
	third := open()
	if third.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a third stream: %d, want 429", third.StatusCode)
	}
	// Another user is not affected.
	o := w.browser(t)
	o.signIn(multi, password(multi))
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.srv.URL+"/nocs/noc-northwind/ecos/live", nil)
	res, err := o.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("another user's stream: %d", res.StatusCode)
	}
}

func TestTheECOPageSteersARunningCalloutByTenantKind(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true})
	ringing, done := w.ecos["nw-acme-2"].ECOID, w.ecos["nw-acme-1"].ECOID
	n := w.browser(t)
	n.signIn(single, password(single))
	p := n.do(http.MethodGet, "/nocs/noc-northwind/ecos/"+ringing, nil)
	if !strings.Contains(p.body, "Set people needed") || strings.Contains(p.body, "Call next") {
		t.Fatalf("the NOC's ECO page should offer the NOC's controls only:\n%s", p.body)
	}
	tok := n.csrf()
	p = n.do(http.MethodPost, "/nocs/noc-northwind/ecos/"+ringing+"/controls", url.Values{"csrf": {tok}, "action": {"set_people_needed"}, "people_needed": {"2"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("set people needed: %d\n%s", p.status, p.body)
	}
	if rec := producedOn(t, topics.CalloutControls, ringing); !strings.Contains(string(rec.Value), `"people_needed":2`) {
		t.Fatalf("control produced: %s", rec.Value)
	}
	// The OSP's decision, asked for by the NOC: refused, and nothing produced for it.
	if p := n.do(http.MethodPost, "/nocs/noc-northwind/ecos/"+ringing+"/controls", url.Values{"csrf": {tok}, "action": {"call_next"}, "contact_position": {"2"}}); p.status != http.StatusForbidden || !strings.Contains(p.body, "Not this tenant") {
		t.Fatalf("a NOC asking for call_next: %d\n%s", p.status, p.body)
	}
	// A finished callout offers nothing and refuses a control.
	if p := n.do(http.MethodGet, "/nocs/noc-northwind/ecos/"+done, nil); strings.Contains(p.body, "Steer the callout") {
		t.Fatal("an accepted ECO offers controls")
	}
	if p := n.do(http.MethodPost, "/nocs/noc-northwind/ecos/"+done+"/controls", url.Values{"csrf": {tok}, "action": {"stop"}}); p.status != http.StatusConflict {
		t.Fatalf("stop on an accepted ECO: %d", p.status)
	}

	o := w.browser(t)
	o.signIn("oscar@acme.example", password("oscar@acme.example"))
	p = o.do(http.MethodGet, "/osps/osp-acme/ecos/"+ringing, nil)
	if !strings.Contains(p.body, "Call next") || strings.Contains(p.body, "Set people needed") {
		t.Fatalf("the OSP admin's ECO page should offer the OSP's controls only:\n%s", p.body)
	}
	p = o.do(http.MethodPost, "/osps/osp-acme/ecos/"+ringing+"/controls", url.Values{"csrf": {o.csrf()}, "action": {"add_number"}, "name": {"Mary Jackson"}, "phone": {"+15550109999"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("add a number: %d\n%s", p.status, p.body)
	}
	if rec := producedOn(t, topics.CalloutControls, "+15550109999"); !strings.Contains(string(rec.Value), "Mary Jackson") {
		t.Fatalf("control produced: %s", rec.Value)
	}

	a := w.browser(t)
	a.signIn(agent, password(agent))
	p = a.do(http.MethodGet, "/osps/osp-acme/ecos/"+ringing, nil)
	if strings.Contains(p.body, "Steer the callout") {
		t.Fatal("an agent is offered controls")
	}
	if p := a.do(http.MethodPost, "/osps/osp-acme/ecos/"+ringing+"/controls", url.Values{"csrf": {a.csrf()}, "action": {"call_next"}, "contact_position": {"2"}}); p.status != http.StatusForbidden {
		t.Fatalf("an agent's control: %d", p.status)
	}
}

// "Not on the roster" is said only of someone beyond the ECO's roster snapshot, and a number a
// dispatcher added is called that; without a snapshot the page says the roster is unknown
// instead of disowning everyone.
func TestThePeopleTableSaysNotOnTheRosterOnlyAgainstASnapshot(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true})
	s := time.Second
	e := sinktest.NewECO(devdata.NOCNorthwind, devdata.OSPAcme, 7, time.Now().UTC().Add(-time.Hour).Truncate(time.Second))
	oscar := schemas.Actor{Kind: gateway.KindOSP, TenantID: devdata.OSPAcme, Role: gateway.RoleAdmin,
		User: schemas.Requester{Name: "Oscar", Email: "oscar@acme.example"}}
	w.project(e.Created(), e.StartedWithRoster(3, s), e.Placed(2, 2*s), e.NumberAdded(oscar, 4, 3*s), e.Placed(4, 4*s), e.Placed(5, 5*s))

	b := w.browser(t)
	b.signIn(single, password(single))
	people := func(eco string) string {
		t.Helper()
		p := b.do(http.MethodGet, "/nocs/noc-northwind/ecos/"+eco, nil)
		i := strings.Index(p.body, `data-testid="people"`)
		if p.status != http.StatusOK || i < 0 {
			t.Fatalf("ECO page %s: %d, no people table:\n%s", eco, p.status, p.body)
		}
		return p.body[i : i+strings.Index(p.body[i:], "</section>")]
	}
	row := func(table, name string) string {
		t.Helper()
		i := strings.Index(table, name)
		if i < 0 {
			t.Fatalf("no row for %s in:\n%s", name, table)
		}
		return table[i : i+strings.Index(table[i:], "</tr>")]
	}

	// No snapshot: nobody is disowned; one line says why the list is only who was called.
	old := people(w.ecos["nw-acme-1"].ECOID)
	if strings.Contains(old, "not on the roster") || !strings.Contains(old, "roster was not recorded") {
		t.Errorf("without a snapshot:\n%s", old)
	}
	// A snapshot: roster people plain, the added number said to be added, a stranger not on it.
	snap := people(e.ECOID)
	if strings.Contains(snap, "roster was not recorded") {
		t.Errorf("with a snapshot the roster is known:\n%s", snap)
	}
	for name, want := range map[string]string{"Contact 2": "", "Contact 4": "added for this ECO", "Contact 5": "not on the roster"} {
		r := row(snap, name)
		for _, say := range []string{"added for this ECO", "not on the roster"} {
			if strings.Contains(r, say) != (say == want) {
				t.Errorf("%s's row (want %q):\n%s", name, want, r)
			}
		}
	}
}

// The timeline says in words what controls, skips and call-ins did (the API keeps the types:
// describe is the page's only).
func TestTheTimelineSaysWhatControlsSkipsAndCallInsDid(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true})
	s := time.Second
	e := sinktest.NewECO(devdata.NOCNorthwind, devdata.OSPAcme, 8, time.Now().UTC().Add(-time.Hour).Truncate(time.Second))
	nina := schemas.Actor{Kind: gateway.KindNOC, TenantID: devdata.NOCNorthwind, Role: gateway.RoleAdmin,
		User: schemas.Requester{Name: "Nina Northwind", Email: single}}
	oscar := schemas.Actor{Kind: gateway.KindOSP, TenantID: devdata.OSPAcme, Role: gateway.RoleAdmin,
		User: schemas.Requester{Name: "Oscar Acme", Email: "oscar@acme.example"}}
	w.project(e.Created(), e.StartedWithRoster(6, s),
		e.ControlOutcome(nina, schemas.ControlPasses, schemas.ControlApplied, "", 2*s),
		e.ControlOutcome(oscar, schemas.ControlCallNext, schemas.ControlRefused, schemas.RefusedAccepted, 3*s),
		e.Skipped(1, schemas.SkipSubstituted, 4*s), e.Skipped(2, schemas.SkipBypassed, 5*s),
		e.Skipped(3, schemas.SkipInvalidNumber, 6*s), e.Skipped(4, schemas.SkipUnavailable, 7*s),
		e.Skipped(5, schemas.SkipFilled, 8*s), e.Skipped(6, schemas.SkipNotReached, 9*s),
		e.CallIn(2, schemas.CallInHeld, "", 10*s), e.CallIn(2, schemas.CallInReleased, schemas.CallInDeclined, 11*s),
		e.CallIn(3, schemas.CallInRefused, schemas.CallInNotOnRoster, 12*s))

	b := w.browser(t)
	b.signIn(single, password(single))
	p := b.do(http.MethodGet, "/nocs/noc-northwind/ecos/"+e.ECOID, nil)
	i := strings.Index(p.body, `id="tl-h"`)
	if p.status != http.StatusOK || i < 0 {
		t.Fatalf("ECO page: %d\n%s", p.status, p.body)
	}
	tl := p.body[i:]
	for _, want := range []string{
		"Control applied</strong> set passes — by Nina Northwind (noc-northwind)",
		"Control refused</strong> call next — by Oscar Acme (osp-acme): the contact already accepted",
		"Skipped</strong> Contact 1: away, substituted by Sam Substitute",
		"Skipped</strong> Contact 2: bypassed by a dispatcher",
		"Skipped</strong> Contact 3: invalid number",
		"Skipped</strong> Contact 4: away</li>",
		"Skipped</strong> Contact 5: filled before their turn",
		"Skipped</strong> Contact 6: not reached (the callout ended first)",
		"Call-in</strong> Contact 2 called back: place held",
		"Call-in</strong> Contact 2 called back: place released (declined)",
		"Call-in</strong> Contact 3 called back: refused (not on the roster)",
	} {
		if !strings.Contains(tl, want) {
			t.Errorf("the timeline lacks %q", want)
		}
	}
	for _, raw := range []string{"callout control", "contact skipped", "callout callin"} {
		if strings.Contains(tl, raw) {
			t.Errorf("the timeline shows the raw type %q", raw)
		}
	}
	if t.Failed() {
		t.Log(tl)
	}
}

// An OSP admin sets a person's away window with a substitute, and the rotation, from the roster
// page; the page shows the window back for editing, and emptying its row removes it.
func TestOSPAdminEditsAwayWindowsAndRotationOnTheRosterPage(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true})
	const admin = "oscar@acme.example"
	const path = "/osps/osp-acme/rosters/metro-north"
	store := tenancy.Store{Pool: w.db.Pool}
	b := w.browser(t)
	b.signIn(admin, password(admin))
	p := b.do(http.MethodGet, path, nil)
	if p.status != http.StatusOK || !strings.Contains(p.body, `name="away_phone"`) {
		t.Fatalf("the roster page offers no away windows to edit: %d\n%s", p.status, p.body)
	}
	from, until := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute), time.Now().UTC().Add(48*time.Hour).Truncate(time.Minute)
	const local = "2006-01-02T15:04"
	form := url.Values{"csrf": {b.csrf()}, "name": {"Acme metro north on-call"}, "rotation": {"after_last_accepted"},
		"position": {"1", "2"}, "contact_name": {"Ada Lovelace", "Grace Hopper"}, "phone": {"+15550101001", "+15550101002"},
		"away_phone": {"+15550101001", ""}, "away_from": {from.Format(local), ""}, "away_until": {until.Format(local), ""},
		"away_reason": {"leave", "leave"}, "away_note": {"annual leave", ""}, "sub_name": {"Sam Standby", ""}, "sub_phone": {"+15550109998", ""}}

	// A window ending before it starts, or for someone not on the roster: the form again, saying so.
	bad := url.Values{}
	for k, v := range form {
		bad[k] = slices.Clone(v)
	}
	bad["away_until"] = []string{from.Add(-time.Hour).Format(local), ""}
	if p := b.do(http.MethodPost, path, bad); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `role="alert"`) || !strings.Contains(p.body, "Sam Standby") {
		t.Fatalf("a window ending before it starts: %d\n%s", p.status, p.body)
	}
	bad["away_until"], bad["away_phone"] = form["away_until"], []string{"+15550107777", ""}
	bad.Set("csrf", b.csrf())
	if p := b.do(http.MethodPost, path, bad); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "not on this roster") {
		t.Fatalf("a window for someone not on the roster: %d\n%s", p.status, p.body)
	}

	form.Set("csrf", b.csrf())
	if p := b.do(http.MethodPost, path, form); p.status != http.StatusSeeOther {
		t.Fatalf("saving an away window: %d\n%s", p.status, p.body)
	}
	r, err := store.GetRoster(context.Background(), devdata.OSPAcme, devdata.RegionMetro)
	if err != nil || r.Rotation != "after_last_accepted" || len(r.Contacts) != 2 || len(r.Contacts[0].Away) != 1 || len(r.Contacts[1].Away) != 0 {
		t.Fatalf("stored roster %+v, %v", r, err)
	}
	if a := r.Contacts[0].Away[0]; !a.From.Equal(from) || !a.Until.Equal(until) || a.Reason != "leave" || a.Note != "annual leave" ||
		a.Substitute == nil || a.Substitute.Name != "Sam Standby" || a.Substitute.Phone != "+15550109998" {
		t.Fatalf("stored window %+v", a)
	}
	p = b.do(http.MethodGet, path, nil)
	for _, want := range []string{`value="` + from.Format(local) + `"`, `value="` + until.Format(local) + `"`, `value="Sam Standby"`, `value="annual leave"`,
		`<option value="after_last_accepted" selected>`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the roster page does not show %s back", want)
		}
	}
	// Emptying the window's row removes it.
	form.Set("csrf", b.csrf())
	form["away_phone"], form["away_from"], form["away_until"] = []string{"", ""}, []string{"", ""}, []string{"", ""}
	form["away_note"], form["sub_name"], form["sub_phone"] = []string{"", ""}, []string{"", ""}, []string{"", ""}
	if p := b.do(http.MethodPost, path, form); p.status != http.StatusSeeOther {
		t.Fatalf("removing the window: %d\n%s", p.status, p.body)
	}
	if r, err := store.GetRoster(context.Background(), devdata.OSPAcme, devdata.RegionMetro); err != nil || len(r.Contacts[0].Away) != 0 {
		t.Fatalf("after removing the window: %+v, %v", r, err)
	}
}

// After the dialer applies a set_people_needed, the ECO page says the new figure.
func TestTheECOPageShowsTheAppliedPeopleNeeded(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true})
	running := w.ecos["nw-acme-2"] // created asking for 1
	nina := schemas.Actor{Kind: gateway.KindNOC, TenantID: devdata.NOCNorthwind, Role: gateway.RoleAdmin,
		User: schemas.Requester{Name: "Nina Northwind", Email: single}}
	w.project(running.PeopleNeededSet(nina, 3, "", 5*time.Second))
	b := w.browser(t)
	b.signIn(single, password(single))
	p := b.do(http.MethodGet, "/nocs/noc-northwind/ecos/"+running.ECOID, nil)
	if want := "<dt>People needed</dt><dd>3 · accepted 0</dd>"; p.status != http.StatusOK || !strings.Contains(p.body, want) {
		t.Errorf("ECO page: %d, want %q in:\n%s", p.status, want, p.body)
	}
}

// The people table says why someone was not called, and how a call ended, in the timeline's
// words (one wording for both), not as codes.
func TestThePeopleTableAndTimelineSaySkipsAndResultsInWords(t *testing.T) {
	w := newWorld(t, worldOpts{devMode: true})
	s := time.Second
	e := sinktest.NewECO(devdata.NOCNorthwind, devdata.OSPAcme, 9, time.Now().UTC().Add(-time.Hour).Truncate(time.Second))
	recs := []*kgo.Record{e.Created(), e.StartedWithRoster(6, s), e.Skipped(1, schemas.SkipSubstituted, 2*s)}
	recs = append(recs, e.SubstituteCall(1, schemas.CallNoAnswer, 2*s)...)
	recs = append(recs, e.Skipped(2, schemas.SkipBypassed, 30*s), e.Skipped(3, schemas.SkipInvalidNumber, 31*s),
		e.Skipped(4, schemas.SkipUnavailable, 32*s), e.Placed(5, 33*s), e.Ended(5, schemas.CallCanceled, 40*s),
		e.Skipped(6, schemas.SkipNotReached, 41*s))
	w.project(recs...)

	b := w.browser(t)
	b.signIn(single, password(single))
	p := b.do(http.MethodGet, "/nocs/noc-northwind/ecos/"+e.ECOID, nil)
	i, j := strings.Index(p.body, `data-testid="people"`), strings.Index(p.body, `id="tl-h"`)
	if p.status != http.StatusOK || i < 0 || j < 0 {
		t.Fatalf("ECO page: %d\n%s", p.status, p.body)
	}
	people, tl := p.body[i:i+strings.Index(p.body[i:], "</section>")], p.body[j:]
	row := func(name string) string {
		k := strings.Index(people, name)
		if k < 0 {
			t.Fatalf("no row for %s in:\n%s", name, people)
		}
		return people[k : k+strings.Index(people[k:], "</tr>")]
	}
	for name, want := range map[string]string{
		"Contact 1": "skipped, away, substituted by Sam Substitute",
		"Contact 2": "skipped, bypassed by a dispatcher",
		"Contact 3": "skipped, invalid number",
		"Contact 4": "skipped, away",
		"Contact 5": "called, hung up by Strike",
		"Contact 6": "skipped, not reached (the callout ended first)",
	} {
		if r := row(name); !strings.Contains(r, want) {
			t.Errorf("%s's row lacks %q:\n%s", name, want, r)
		}
	}
	if r := row("Contact 1"); !strings.Contains(r, "(Sam Substitute instead), no answer") {
		t.Errorf("Contact 1's substitute call should read its result in words:\n%s", r)
	}
	for _, want := range []string{
		"Call ended</strong> Sam Substitute: no answer",
		"Call ended</strong> Contact 5: hung up by Strike",
	} {
		if !strings.Contains(tl, want) {
			t.Errorf("the timeline lacks %q", want)
		}
	}
	for _, code := range []string{"no_answer", "canceled", "not_reached", "invalid_number"} {
		if strings.Contains(people, code) || strings.Contains(tl, code) {
			t.Errorf("the page shows the code %q", code)
		}
	}
	if t.Failed() {
		t.Log(people, tl)
	}
}
