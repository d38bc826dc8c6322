package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/osprey-strike/strike/consumers/sink/sinktest"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/schemas"
)

// need returns the path of a program the browser test needs. Without it the test is skipped,
// unless CI is set: CI installs it (.ci/run), so there its absence is a failure.
func need(t *testing.T, path, why string) string {
	t.Helper()
	p, err := exec.LookPath(path)
	if err == nil {
		return p
	}
	if ci := os.Getenv("CI"); ci != "" && ci != "false" {
		t.Fatalf("%s not found and CI=%s: %s", path, ci, why)
	}
	t.Skipf("%s not found (%s); set CI=true to make this a failure", path, why)
	return ""
}

// e2eDir is the folder of the Playwright script and its pinned package.json.
func e2eDir(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "e2e")
}

type e2eECO struct {
	Name      string `json:"name"`
	ECOID     string `json:"eco_id"`
	JobNumber string `json:"job_number"`
	Rejected  bool   `json:"rejected,omitempty"`
}

type e2eUser struct {
	What     string `json:"what"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// TestBrowserJourneys walks every demo user's journey and the cross-tenant attempts in Chromium
// (e2e/journeys.mjs, playwright-core) against a gateway on real PostgreSQL with the demo world.
// STRIKE_UI_SCREENSHOTS=dir saves a screenshot of each page there (docs/ui.md).
func TestBrowserJourneys(t *testing.T) {
	chromium := need(t, envOr("STRIKE_CHROMIUM", "/usr/bin/chromium"), "Debian: apt-get install chromium")
	node := need(t, "node", "Debian: apt-get install nodejs npm")
	dir := e2eDir(t)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core")); err != nil {
		if ci := os.Getenv("CI"); ci != "" && ci != "false" {
			t.Fatalf("playwright-core is not installed and CI=%s: run 'npm ci' in %s", ci, dir)
		}
		t.Skipf("playwright-core is not installed: run 'npm ci' in %s", dir)
	}

	w := newWorld(t, worldOpts{devMode: true, live: 100 * time.Millisecond})
	cfg := map[string]any{"base_url": w.srv.URL, "chromium": chromium,
		"create_summary": "Browser test: fibre cut on ring 12", "cancel_reason": "browser test: resolved remotely"}
	if d := os.Getenv("STRIKE_UI_SCREENSHOTS"); d != "" {
		abs, err := filepath.Abs(d)
		if err != nil {
			t.Fatal(err)
		}
		cfg["screenshots_dir"] = abs
	}
	var users []e2eUser
	for _, u := range devdata.Users {
		users = append(users, e2eUser{What: u.What, Email: u.Email, Password: password(u.Email)})
	}
	cfg["users"] = users
	ecos := map[string][]e2eECO{}
	for _, name := range []string{"nw-acme-1", "nw-acme-2", "nw-bolt-1", "nw-cedar-rejected", "hb-acme-1", "hb-cedar-1"} {
		e := w.ecos[name]
		x := e2eECO{Name: name, ECOID: e.ECOID, JobNumber: e.JobNumber, Rejected: strings.HasSuffix(name, "rejected")}
		group := "harbor"
		if e.NOC == devdata.NOCNorthwind {
			group = "northwind"
		}
		ecos[group] = append(ecos[group], x)
		if x.Rejected {
			ecos["rejected"] = append(ecos["rejected"], x)
		}
	}
	cfg["ecos"] = ecos
	steered := w.steeredECO()
	cfg["steered"] = e2eECO{Name: "steered", ECOID: steered.ECOID, JobNumber: steered.JobNumber}
	cfg["control_url"] = w.controlServer(t).URL

	raw, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfgFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "journeys.mjs", cfgFile)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatalf("browser journeys failed: %v", err)
	}
	// What the browser asked for reached Kafka: the created ECO's request and the cancel.
	if rec := produced(t, cfg["create_summary"].(string)); string(rec.Key) != devdata.OSPAcme || !strings.Contains(string(rec.Value), `"loop_count":3`) {
		t.Errorf("create from the browser produced %s: %s", rec.Key, rec.Value)
	}
	if rec := produced(t, cfg["cancel_reason"].(string)); !strings.Contains(string(rec.Value), w.ecos["nw-acme-2"].ECOID) {
		t.Errorf("cancel from the browser produced %s", rec.Value)
	}
}

// steeredECO projects a Northwind ECO on Acme that used issue 13's features: a roster snapshot
// with a substitute called for someone away, a person a dispatcher skipped, a number added, a
// refused control and a call-in that won the place.
func (w *world) steeredECO() sinktest.ECO {
	e := sinktest.NewECO(devdata.NOCNorthwind, devdata.OSPAcme, 43, time.Now().UTC().Add(-30*time.Minute).Truncate(time.Second))
	s := time.Second
	nina := schemas.Actor{Kind: "noc", TenantID: devdata.NOCNorthwind, Role: "operator", User: schemas.Requester{Name: "Nina (Northwind operator)"}}
	oscar := schemas.Actor{Kind: "osp", TenantID: devdata.OSPAcme, Role: "admin", User: schemas.Requester{Name: "Oscar (Acme admin)"}}
	recs := []*kgo.Record{e.Created(), e.StartedWithRoster(3, s), e.Skipped(1, schemas.SkipSubstituted, 2*s)}
	recs = append(recs, e.SubstituteCall(1, schemas.CallNoAnswer, 3*s)...)
	recs = append(recs, e.Placed(2, 30*s), e.Ended(2, schemas.CallNoAnswer, 55*s),
		e.ControlOutcome(oscar, schemas.ControlSkip, schemas.ControlApplied, "", 56*s), e.Skipped(3, schemas.SkipBypassed, 57*s),
		e.NumberAdded(oscar, 4, 58*s), e.Placed(4, 59*s), e.Ended(4, schemas.CallNoAnswer, 84*s),
		e.ControlOutcome(nina, schemas.ControlPeopleNeeded, schemas.ControlRefused, schemas.RefusedOutOfBounds, 90*s),
		e.CallIn(2, schemas.CallInHeld, "", 100*s), e.Accepted(2, 110*s))
	w.project(recs...)
	return e
}

// controlServer lets the browser script make the projection move while a board is open: each
// POST /project?step=… projects the next event of one new Northwind ECO, as the sink would.
func (w *world) controlServer(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	e := sinktest.NewECO(devdata.NOCNorthwind, devdata.OSPAcme, 42, time.Now().UTC())
	s := time.Second
	steps := map[string]func() []*kgo.Record{
		"created":  func() []*kgo.Record { return []*kgo.Record{e.Created()} },
		"placed":   func() []*kgo.Record { return []*kgo.Record{e.Started(s), e.Placed(1, 2*s)} },
		"accepted": func() []*kgo.Record { return []*kgo.Record{e.Accepted(1, 10*s), e.Ended(1, "accepted", 11*s)} },
		"field":    func() []*kgo.Record { return []*kgo.Record{e.FieldStatus("dispatched", 1, 20*s)} },
	}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		step, ok := steps[r.URL.Query().Get("step")]
		if r.Method != http.MethodPost || !ok {
			http.Error(rw, "POST /project?step=created|placed|accepted|field", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		w.project(step()...)
		_ = json.NewEncoder(rw).Encode(map[string]string{"eco_id": e.ECOID, "job_number": e.JobNumber})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
