package deploy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"go.yaml.in/yaml/v3"
)

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int     `json:"id"`
	Type       string  `json:"type"`
	Title      string  `json:"title"`
	Datasource any     `json:"datasource"`
	Panels     []panel `json:"panels"` // a collapsed row's panels
	Targets    []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// query is one PromQL expression of a dashboard, with where it is.
type query struct{ where, expr string }

var labelValues = regexp.MustCompile(`^label_values\((.+),\s*[A-Za-z_][A-Za-z0-9_]*\)$`)

func dashboardQueries(t *testing.T, d dashboard) []query {
	t.Helper()
	var out []query
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil {
				t.Errorf("%s: panel %q has no datasource", d.UID, p.Title)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", d.UID, p.Title)
			}
			for _, tg := range p.Targets {
				if tg.RefID == "" || tg.Expr == "" {
					t.Errorf("%s: panel %q has a target without refId or expr", d.UID, p.Title)
				}
				out = append(out, query{d.UID + " / " + p.Title + " / " + tg.RefID, tg.Expr})
			}
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q string
		switch x := v.Query.(type) {
		case string:
			q = x
		case map[string]any:
			q, _ = x["query"].(string)
		}
		m := labelValues.FindStringSubmatch(q)
		if m == nil {
			t.Errorf("%s: variable %s: query %q is not label_values(<selector>, <label>)", d.UID, v.Name, q)
			continue
		}
		out = append(out, query{d.UID + " / $" + v.Name, m[1]})
	}
	return out
}

func readDashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob("grafana/dashboards/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards: %v", err)
	}
	out := map[string]dashboard{}
	uids := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: no uid or title", f)
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share uid %s", f, other, d.UID)
		}
		uids[d.UID] = f
		out[f] = d
	}
	return out
}

// Every dashboard query parses as PromQL and names only metrics the code exports, kprom or the
// Go collectors export, or the rules record: a renamed metric fails here, not on a screen.
func TestDashboardQueriesParseAndNameExportedMetrics(t *testing.T) {
	t.Parallel()
	known := knownMetrics(t)
	n := 0
	for f, d := range readDashboards(t) {
		ids := map[int]bool{}
		var walkIDs func([]panel)
		walkIDs = func(ps []panel) {
			for _, p := range ps {
				if ids[p.ID] {
					t.Errorf("%s: panel id %d used twice", f, p.ID)
				}
				ids[p.ID] = true
				walkIDs(p.Panels)
			}
		}
		walkIDs(d.Panels)
		for _, q := range dashboardQueries(t, d) {
			n++
			unknown, err := checkExpr(q.expr, known)
			if err != nil {
				t.Errorf("%s: %q does not parse: %v", q.where, q.expr, err)
			}
			if len(unknown) > 0 {
				t.Errorf("%s: %q names metrics nothing exports: %v", q.where, q.expr, unknown)
			}
		}
	}
	if n < 40 {
		t.Errorf("only %d queries found", n)
	}
}

func TestGrafanaProvisioningParses(t *testing.T) {
	t.Parallel()
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, URL, Access string
			IsDefault                    bool           `yaml:"isDefault"`
			JSONData                     map[string]any `yaml:"jsonData"`
		}
	}
	var dash struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Type, Folder    string
			DisableDeletion       bool `yaml:"disableDeletion"`
			AllowUIUpdates        bool `yaml:"allowUiUpdates"`
			UpdateIntervalSeconds int  `yaml:"updateIntervalSeconds"`
			Options               struct {
				Path                      string
				FoldersFromFilesStructure bool `yaml:"foldersFromFilesStructure"`
			}
		}
	}
	for f, v := range map[string]any{"grafana/provisioning/datasources/prometheus.yaml": &ds, "grafana/provisioning/dashboards/strike.yaml": &dash} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytesReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(v); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" {
		t.Errorf("datasources: %+v", ds)
	}
	if dash.APIVersion != 1 || len(dash.Providers) != 1 || dash.Providers[0].Type != "file" || dash.Providers[0].Options.Path == "" {
		t.Errorf("dashboard providers: %+v", dash)
	}
}
