package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/sink"
	"github.com/osprey-strike/strike/consumers/sink/sinktest"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/kafkatest"
	"github.com/osprey-strike/strike/internal/pg"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/internal/tenancy"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/producers/gateway"
	"github.com/osprey-strike/strike/producers/gateway/web"
	"github.com/osprey-strike/strike/schemas"
)

// The demo users (devdata.Users), by what they are.
const (
	single   = "nina@northwind.example"
	multi    = "max@noc-ops.example"
	agent    = "olga@acme.example"
	sysadmin = "root@strike.example"
	nobody   = "newbie@northwind.example"
)

const testSeed = "web-test-seed"

// brokers is one kfake broker (Strike's topics created) that every test of the package shares:
// starting one takes seconds, and the tests that read what intake produced pick their own
// records out by key and content.
var brokers string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			fmt.Fprintln(os.Stderr, "kfake:", err)
			return 1
		}
		defer c.Close()
		brokers = c.ListenAddrs()[0]
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
		if err != nil {
			fmt.Fprintln(os.Stderr, "kafka client:", err)
			return 1
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = topics.Ensure(ctx, kadm.NewClient(cl), topics.Catalog(kafkatest.Partitions), -1)
		cancel()
		cl.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "topics:", err)
			return 1
		}
		return m.Run()
	}())
}

// world is a gateway with the UI on real PostgreSQL (demo tenants, demo users with dev
// passwords, projected ECOs) and a kfake broker for intake.
type world struct {
	t    testing.TB
	db   *pgtest.Schema
	v    *schemas.Validator
	srv  *httptest.Server
	ui   *web.UI
	ecos map[string]sinktest.ECO
}

type worldOpts struct {
	devMode    bool
	live       time.Duration
	maxStreams int
}

func newWorld(t testing.TB, o worldOpts) *world {
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
	producer := kafkatest.Client(t, brokers, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	// The gateway and its UI run as the gateway's database role, as in production.
	gw := db.PoolAs(t, pg.RoleGateway)
	api, err := gateway.New(gateway.Deps{Pool: gw, Validator: v, Producer: producer, Log: zerolog.Nop()},
		gateway.Config{DevMode: o.devMode, AuthFailureBurst: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ui, err := web.New(web.Deps{API: api, Pool: gw, Log: zerolog.Nop()}, web.Config{LiveInterval: o.live, MaxStreamsPerUser: o.maxStreams})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Mount(mux)
	ui.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	acc := gateway.Accounts{Pool: db.Pool}
	for _, u := range devdata.Users {
		if _, _, err := acc.EnsureUser(ctx, u.Email, u.Name, u.SystemAdmin); err != nil {
			t.Fatal(err)
		}
		for _, m := range u.Memberships {
			if err := acc.AddMembership(ctx, u.Email, m.Kind, m.Tenant, m.Role); err != nil {
				t.Fatal(err)
			}
		}
		if err := acc.SetPassword(ctx, u.Email, password(u.Email), true); err != nil {
			t.Fatal(err)
		}
	}

	w := &world{t: t, db: db, v: v, ui: ui, srv: srv, ecos: map[string]sinktest.ECO{}}
	at := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	s := time.Second
	add := func(name, noc, osp string, n int, evs func(e sinktest.ECO) []*kgo.Record) {
		e := sinktest.NewECO(noc, osp, n, at.Add(time.Duration(n)*time.Minute))
		w.ecos[name] = e
		w.project(evs(e)...)
	}
	add("nw-acme-1", devdata.NOCNorthwind, devdata.OSPAcme, 1, func(e sinktest.ECO) []*kgo.Record {
		return append(e.Lifecycle(), e.Placed(3, 50*s), e.AcceptedLate(3, 70*s), e.Ended(3, schemas.CallAccepted, 71*s))
	})
	add("nw-acme-2", devdata.NOCNorthwind, devdata.OSPAcme, 2, func(e sinktest.ECO) []*kgo.Record {
		return []*kgo.Record{e.Created(), e.Started(s), e.Placed(1, 2*s)}
	})
	add("nw-bolt-1", devdata.NOCNorthwind, devdata.OSPBolt, 3, func(e sinktest.ECO) []*kgo.Record { return e.Lifecycle() })
	add("hb-acme-1", devdata.NOCHarbor, devdata.OSPAcme, 4, func(e sinktest.ECO) []*kgo.Record { return e.Lifecycle() })
	add("hb-cedar-1", devdata.NOCHarbor, devdata.OSPCedar, 5, func(e sinktest.ECO) []*kgo.Record {
		return []*kgo.Record{e.Created(), e.Started(s)}
	})
	add("nw-cedar-rejected", devdata.NOCNorthwind, devdata.OSPCedar, 6, func(e sinktest.ECO) []*kgo.Record {
		return []*kgo.Record{e.Rejected(schemas.ReasonLinkNotActive)}
	})
	return w
}

func password(email string) string { return gateway.DevPassword(testSeed, email) }

// project runs records through the sink's projection, as the running sink would.
func (w *world) project(recs ...*kgo.Record) {
	w.t.Helper()
	if _, err := sink.ApplyRecords(context.Background(), w.db.Pool, w.v, recs); err != nil {
		w.t.Fatal(err)
	}
}

// browser is an HTTP client with a cookie jar that does not follow redirects by itself.
type browser struct {
	t    testing.TB
	w    *world
	c    *http.Client
	last string // the last page's body
}

func (w *world) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, w: w, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status   int
	location string
	body     string
	header   http.Header
}

func (b *browser) do(method, path string, form url.Values) page {
	b.t.Helper()
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.w.srv.URL+path, rd)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.w.srv.URL)
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	b.last = string(raw)
	return page{status: res.StatusCode, location: res.Header.Get("Location"), body: string(raw), header: res.Header}
}

// follow GETs path and follows redirects; it returns the final path and page.
func (b *browser) follow(path string) (string, page) {
	b.t.Helper()
	for range 10 {
		p := b.do(http.MethodGet, path, nil)
		if p.status != http.StatusSeeOther && p.status != http.StatusFound {
			return path, p
		}
		path = p.location
	}
	b.t.Fatalf("too many redirects from %s", path)
	return "", page{}
}

// signIn signs in and returns where the landing leads and that page.
func (b *browser) signIn(email, pw string) (string, page) {
	b.t.Helper()
	p := b.do(http.MethodPost, "/signin", url.Values{"email": {email}, "password": {pw}, "next": {"/"}})
	if p.status != http.StatusSeeOther {
		return "", p
	}
	return b.follow(p.location)
}

var csrfPattern = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of the last page shown.
func (b *browser) csrf() string {
	m := csrfPattern.FindStringSubmatch(b.last)
	if m == nil {
		b.t.Fatalf("no CSRF token on the last page:\n%s", b.last)
	}
	return m[1]
}
