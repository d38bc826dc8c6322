package deploy_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
	"go.yaml.in/yaml/v3"
)

// kafkaClients are the kprom subsystems of Strike's Kafka clients (kafkaclient.Options' name
// with "-" as "_"): a dashboard may name strike_kafka_<client>_<kprom metric>.
var kafkaClients = []string{"eco_processor", "dialer", "sink", "render_poller", "render_dispatch", "gateway", "twilio_webhooks"}

var strikeLiteral = regexp.MustCompile(`"(strike_[a-z0-9_]+)"`)

// knownMetrics returns every metric name a query may use: the strike_* names in the code's
// string literals, kprom's client metrics, the Go and process collectors, Prometheus' own up,
// and the recording rules of deploy/prometheus/rules.yml.
func knownMetrics(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{"up": true}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".strike" || d.Name() == "deploy") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range strikeLiteral.FindAllSubmatch(b, -1) {
			known[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// kprom describes its opt-in fetch/produce details too (records, batches, compressed
	// bytes); Strike's clients use the defaults, so those never have series: leave them out.
	rec := &describer{names: known, skip: regexp.MustCompile(`_(fetch|produce)_(records|batches|compressed_bytes)_total$`)}
	for _, c := range kafkaClients {
		cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"),
			kgo.WithHooks(kprom.NewMetrics("strike_kafka", kprom.Registerer(rec), kprom.Subsystem(c))))
		if err != nil {
			t.Fatal(err)
		}
		cl.Close()
	}
	rec.skip = regexp.MustCompile(`^$`)
	rec.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range ruleFile(t).rules() {
		if r.Record != "" {
			known[r.Record] = true
		}
	}
	return known
}

// describer is a Registerer that only records the names its collectors describe.
type describer struct {
	prometheus.Registerer
	names map[string]bool
	skip  *regexp.Regexp
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (d *describer) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		if m := fqName.FindStringSubmatch(desc.String()); m != nil && !d.skip.MatchString(m[1]) {
			d.names[m[1]] = true
		}
	}
	return nil
}

func (d *describer) Unregister(prometheus.Collector) bool { return true }

func (d *describer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = d.Register(c)
	}
}

type rule struct {
	Record, Alert, Expr string
	Annotations         map[string]string
}

type rulesFile struct {
	Groups []struct {
		Name  string
		Rules []rule
	}
}

func (f rulesFile) rules() []rule {
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

func ruleFile(t *testing.T) rulesFile {
	t.Helper()
	b, err := os.ReadFile("prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f rulesFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// grafanaVars stands in for Grafana's variables, so a dashboard query parses as PromQL.
var grafanaVars = regexp.MustCompile(`\$\{?(__rate_interval|__interval|__range)\}?|\$\{?([A-Za-z_][A-Za-z0-9_]*)(:[a-z]+)?\}?`)

func substituteVars(expr string) string {
	return grafanaVars.ReplaceAllStringFunc(expr, func(v string) string {
		if strings.Contains(v, "__") {
			return "5m"
		}
		return "x"
	})
}

// checkExpr parses expr and returns the metric names it selects that are not known.
func checkExpr(expr string, known map[string]bool) (unknown []string, err error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(substituteVars(expr))
	if err != nil {
		return nil, err
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			unknown = append(unknown, "(selector without a metric name: "+vs.String()+")")
			return nil
		}
		if !known[name] && !known[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")] {
			unknown = append(unknown, name)
		}
		return nil
	})
	return unknown, nil
}

// Every rule expression parses and names only metrics the code exports or rules record.
func TestRulesNameOnlyExportedMetrics(t *testing.T) {
	t.Parallel()
	known := knownMetrics(t)
	rules := ruleFile(t).rules()
	if len(rules) == 0 {
		t.Fatal("no rules read")
	}
	for _, r := range rules {
		unknown, err := checkExpr(r.Expr, known)
		if err != nil {
			t.Errorf("%s%s: %v", r.Record, r.Alert, err)
		}
		if len(unknown) > 0 {
			t.Errorf("%s%s names metrics nothing exports: %v", r.Record, r.Alert, unknown)
		}
		if r.Alert != "" {
			u := r.Annotations["runbook_url"]
			const base = "https://github.com/osprey-strike/strike/blob/main/"
			if !strings.HasPrefix(u, base+"docs/runbooks/") {
				t.Errorf("alert %s: runbook_url %q is not under docs/runbooks/", r.Alert, u)
			} else if _, err := os.Stat(filepath.Join("..", strings.TrimPrefix(u, base))); err != nil {
				t.Errorf("alert %s: runbook %v", r.Alert, err)
			}
		}
	}
}

// The checker itself: a typo is caught, a histogram's series and kprom's metrics are known.
func TestCheckExprCatchesUnknownMetrics(t *testing.T) {
	t.Parallel()
	known := knownMetrics(t)
	for _, name := range []string{"strike_sink_events_total", "strike_kafka_sink_fetch_bytes_total", "go_goroutines", "process_cpu_seconds_total", "strike:sink_freshness_seconds"} {
		if !known[name] {
			t.Errorf("%s is not known", name)
		}
	}
	if u, err := checkExpr(`histogram_quantile(0.9, sum by (le) (rate(strike_dialer_time_to_first_call_seconds_bucket[$__rate_interval])))`, known); err != nil || len(u) != 0 {
		t.Errorf("histogram query: unknown %v, err %v", u, err)
	}
	if u, _ := checkExpr(`sum(rate(strike_kafka_sink_fetch_records_total[5m]))`, known); len(u) != 1 {
		t.Errorf("kprom's opt-in records counter: unknown %v, want it reported (Strike's clients never export it)", u)
	}
	if u, _ := checkExpr(`sum(rate(strike_sink_event_total{group=~"$group"}[5m]))`, known); len(u) != 1 {
		t.Errorf("typo'd metric: unknown %v, want it reported", u)
	}
	if _, err := checkExpr(`sum(rate(strike_sink_events_total[5m])`, known); err == nil {
		t.Error("unbalanced parenthesis parsed")
	}
}
