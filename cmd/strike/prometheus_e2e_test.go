package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.yaml.in/yaml/v3"

	"github.com/osprey-strike/strike/internal/cloudevents"
	"github.com/osprey-strike/strike/internal/devdata"
	"github.com/osprey-strike/strike/internal/pgtest"
	"github.com/osprey-strike/strike/internal/topics"
	"github.com/osprey-strike/strike/producers/gateway"
	"github.com/osprey-strike/strike/schemas"
)

// onlyAfterAFailure are metrics whose series appear only once something goes wrong (or with a
// deployment piece the dev world lacks); the end-to-end test does not wait for them, but every
// query naming them must still parse and evaluate.
var onlyAfterAFailure = map[string]string{
	"strike_twilio_credentials_alert": "Twilio refused credentials",
	"strike_twilio_errors_total":      "a Twilio API error",
	"strike:twilio_errors:rate5m":     "a Twilio API error",
}

var kpromOnError = regexp.MustCompile(`^strike_kafka_[a-z_]+_(connect_errors|read_errors|write_errors|request_throttled_seconds)`)

// A real Prometheus server scrapes a running `strike dev` and loads deploy/prometheus/rules.yml;
// every dashboard query and every rule expression is evaluated through its HTTP API: each must
// parse and evaluate there, and every metric each names must have series (apart from the few
// that exist only after a failure), so no panel or alert watches a metric that is not there.
func TestPrometheusEvaluatesEveryDashboardQueryAndRuleAgainstStrikeDev(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		if ci := os.Getenv("CI"); ci != "" && ci != "false" {
			t.Fatalf("prometheus not found and CI=%s (Debian: apt-get install prometheus; .ci/run does)", ci)
		}
		t.Skip("prometheus (Debian's prometheus package) is not installed; set CI=true to make this a failure")
	}
	if testing.Short() {
		t.Skip("starts strike dev and a Prometheus server")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := pgtest.New(t)
	kafkaAddr, httpAddr, opsAddr, promAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)

	// strike dev, in process, on its own ports, data folder and database schema.
	var devOut lockedBuffer
	devDone := make(chan error, 1)
	dataDir := t.TempDir() // before the cleanup below, so it is removed after strike dev stops
	go func() {
		root := newRoot()
		root.SetOut(&devOut)
		root.SetErr(io.Discard)
		// The test's schema lives in a database strike dev did not create: say it may use it.
		root.SetArgs([]string{"dev", "--dev-reuse-database", "--data-dir", dataDir, "--kafka-addr", kafkaAddr, "--http-addr", httpAddr,
			"--ops-addr", opsAddr, "--database-url", db.URL, "--partitions", "2", "--log-level", "error", "--log-format", "json"})
		devDone <- root.ExecuteContext(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-devDone:
			if err != nil {
				t.Errorf("strike dev: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("strike dev did not stop within 30 s")
		}
	})
	waitFor(t, 90*time.Second, "strike dev ready", func() bool {
		select {
		case err := <-devDone:
			t.Fatalf("strike dev exited: %v\n%s", err, devOut.String())
		default:
		}
		resp, err := http.Get("http://" + opsAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	// The public port says ready or not, without details, and has no /metrics: those are on
	// the operations port only.
	if code, body := httpGet(t, "http://"+httpAddr+"/readyz"); code != http.StatusOK || body != "{\"status\":\"ok\"}\n" {
		t.Errorf("public /readyz = %d %q, want 200 {\"status\":\"ok\"}", code, body)
	}
	if code, _ := httpGet(t, "http://"+httpAddr+"/metrics"); code != http.StatusNotFound {
		t.Errorf("public /metrics = %d, want 404", code)
	}
	if code, body := httpGet(t, "http://"+opsAddr+"/readyz"); code != http.StatusOK || !strings.Contains(body, `"postgres-gateway":"ok"`) || !strings.Contains(body, `"postgres-sink":"ok"`) {
		t.Errorf("ops /readyz = %d %q, want 200 with each check", code, body)
	}
	if !strings.Contains(devOut.String(), opsAddr) || !strings.Contains(devOut.String(), httpAddr) {
		t.Errorf("the banner does not name both addresses:\n%s", devOut.String())
	}

	// Prometheus scraping it every second, with Strike's rules evaluated every second.
	rules, err := filepath.Abs("../../deploy/prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\nrule_files: [%q]\n"+
		"scrape_configs:\n  - job_name: strike-dev\n    static_configs: [{targets: [%q]}]\n", rules, opsAddr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var promLog bytes.Buffer
	prom := exec.Command(promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr)
	prom.Stdout, prom.Stderr = &promLog, &promLog
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = prom.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = prom.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = prom.Process.Kill()
		}
	})
	api := &promAPI{base: "http://" + promAddr}
	waitFor(t, 60*time.Second, "prometheus ready", func() bool {
		resp, err := http.Get(api.base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	driveTraffic(t, kafkaAddr, httpAddr)

	// Wait until the pipeline's end-to-end series are in Prometheus: an ECO rung, projected and
	// followed in Render, and the bad records dead-lettered.
	for _, q := range []string{
		`strike_dialer_calls_total`, `strike_sink_dlq_total`, `strike_render_poller_changes_total`,
		`strike_sink_events_skipped_total`, `strike_api_intake_total`, `strike:dlq_records:rate5m`,
	} {
		waitFor(t, 120*time.Second, q+" in Prometheus", func() bool { n, _ := api.count(q); return n > 0 })
	}

	queries := allQueries(t)
	if len(queries) < 60 {
		t.Fatalf("only %d queries found", len(queries))
	}
	names := map[string]bool{}
	for _, q := range queries {
		expr := grafanaVar.ReplaceAllStringFunc(q.expr, func(v string) string {
			if strings.Contains(v, "__") {
				return "1m"
			}
			return ".*"
		})
		if _, err := api.query(expr); err != nil {
			t.Errorf("%s: %q: %v", q.where, expr, err)
			continue
		}
		e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
		if err != nil {
			t.Errorf("%s: parses in Prometheus but not in the parser package: %v", q.where, err)
			continue
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok && vs.Name != "" {
				names[vs.Name] = true
			}
			return nil
		})
	}
	var missing []string
	for name := range names {
		if _, ok := onlyAfterAFailure[name]; ok || kpromOnError.MatchString(name) || name == "up" {
			continue
		}
		if n, err := api.count(name); err != nil || n == 0 {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d metrics named by dashboards or rules have no series in Prometheus scraping strike dev:\n  %s",
			len(missing), strings.Join(missing, "\n  "))
	}
	// The server loaded every rule of rules.yml and evaluates each without error.
	resp, err := http.Get(api.base + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rr struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name, Health, LastError string
				}
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&rr); err != nil {
		t.Fatal(err)
	}
	loaded := 0
	for _, g := range rr.Data.Groups {
		for _, r := range g.Rules {
			loaded++
			if r.Health != "ok" {
				t.Errorf("rule %s: health %q, last error %q", r.Name, r.Health, r.LastError)
			}
		}
	}
	if want := countRules(queries); loaded != want {
		t.Errorf("Prometheus loaded %d rules, rules.yml has %d", loaded, want)
	}
	t.Logf("%d queries evaluated; %d metric names checked; %d rules healthy", len(queries), len(names), loaded)
}

func countRules(qs []query) int {
	n := 0
	for _, q := range qs {
		if strings.HasPrefix(q.where, "rules.yml/") {
			n++
		}
	}
	return n
}

// driveTraffic makes the dev world produce the series the dashboards show: an ECO through the
// HTTP intake (created, rung, accepted, dispatched to Render), undecodable records for every
// consumer (DLQ), and an event type the sink does not know (skipped).
func driveTraffic(t *testing.T, kafkaAddr, httpAddr string) {
	t.Helper()
	body := `{"osp_tenant_id": "` + devdata.OSPAcme + `", "region": "` + devdata.RegionMetro + `", "priority": "P1",
		"site": {"name": "Exchange 7", "address": "1 Main St"}, "summary": "e2e: fibre cut"}`
	req, _ := http.NewRequest(http.MethodPost, "http://"+httpAddr+"/v1/nocs/"+devdata.NOCNorthwind+"/ecos", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+gateway.DevToken(devSeed, "nina@northwind.example"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("intake: %s: %s", resp.Status, b)
	}

	// Records no NOC tool could write (internal topics), so as strike dev's broker admin.
	admin, err := devAdminSecurity()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(admin.Opts(), kgo.SeedBrokers(kafkaAddr))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	now := time.Now()
	bad := []byte(`{not json`)
	recs := []*kgo.Record{
		cloudevents.Record(topics.ECORequests, devdata.OSPAcme, cloudevents.Event{ID: "e2e-bad-request", Type: schemas.TypeECORequest, Time: now}, bad),
		cloudevents.Record(topics.ECOEvents, "e2e-bad-eco", cloudevents.Event{ID: "e2e-bad-created", Type: schemas.TypeECOCreated, Time: now}, bad),
		cloudevents.Record(topics.CalloutEvents, "e2e-bad-eco", cloudevents.Event{ID: "e2e-unknown", Type: "strike.callout.hologram.v9", Time: now}, []byte(`{"eco_id":"e2e-bad-eco"}`)),
	}
	pctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(pctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

type query struct{ where, expr string }

var (
	grafanaVar  = regexp.MustCompile(`\$\{?(__rate_interval|__interval|__range)\}?|\$\{?([A-Za-z_][A-Za-z0-9_]*)(:[a-z]+)?\}?`)
	labelValues = regexp.MustCompile(`^label_values\((.+),\s*[A-Za-z_][A-Za-z0-9_]*\)$`)
)

// allQueries reads every expression of deploy/grafana/dashboards/*.json (targets and
// label_values variables) and deploy/prometheus/rules.yml.
func allQueries(t *testing.T) []query {
	t.Helper()
	var out []query
	files, _ := filepath.Glob("../../deploy/grafana/dashboards/*.json")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, c := range x {
					if s, ok := c.(string); ok && k == "expr" {
						out = append(out, query{filepath.Base(f) + path, s})
					}
					if s, ok := c.(string); ok && k == "query" {
						if m := labelValues.FindStringSubmatch(s); m != nil {
							out = append(out, query{filepath.Base(f) + path + "/" + k, m[1]})
						}
					}
					walk(path+"/"+k, c)
				}
			case []any:
				for i, c := range x {
					walk(fmt.Sprintf("%s/%d", path, i), c)
				}
			}
		}
		walk("", doc)
	}
	b, err := os.ReadFile("../../deploy/prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rf struct {
		Groups []struct {
			Rules []struct{ Record, Alert, Expr string }
		}
	}
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatal(err)
	}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			out = append(out, query{"rules.yml/" + r.Record + r.Alert, r.Expr})
		}
	}
	return slices.Clip(out)
}

type promAPI struct{ base string }

// query evaluates expr now and returns the number of series (or samples) in the result.
func (p *promAPI) query(expr string) (int, error) {
	resp, err := http.Get(p.base + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Status    string `json:"status"`
		Error     string `json:"error"`
		ErrorType string `json:"errorType"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	var series []json.RawMessage
	if r.Data.ResultType == "vector" || r.Data.ResultType == "matrix" {
		if err := json.Unmarshal(r.Data.Result, &series); err != nil {
			return 0, err
		}
		return len(series), nil
	}
	return 1, nil
}

// count returns how many series name has now.
func (p *promAPI) count(name string) (int, error) {
	return p.query(fmt.Sprintf(`{__name__=%q}`, name))
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitFor(t *testing.T, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// lockedBuffer is a bytes.Buffer that strike dev may write while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
