package deploy_test

import (
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/osprey-strike/strike/internal/kafkaacl"
	"github.com/osprey-strike/strike/internal/pg"
)

type composeService struct {
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
}

// processComponents are the database components each `strike run <process>` opens a pool for:
// the gateway process serves the Twilio webhooks too (cmd/strike/telephony.go); the egress
// component uses Kafka only.
var processComponents = map[string][]string{"gateway": {"gateway", "callbacks"}, "egress": nil}

// TestComposeRunsEachComponentAsItsOwnLoginRole: like deploy/k8s, every component connects as a
// login role granted only its component's role (docs/runbooks/database-roles.md), never as the
// PostgreSQL superuser compose starts the database with, which only `strike migrate` and the
// one-shot service that makes the login roles use.
func TestComposeRunsEachComponentAsItsOwnLoginRole(t *testing.T) {
	raw, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]composeService `yaml:"services"`
	}
	// Compose substitutes ${VAR:?message} from .env first; a placeholder stands in for the secrets.
	raw = regexp.MustCompile(`\$\{[A-Z0-9_]+(:?[?-][^}]*)?\}`).ReplaceAll(raw, []byte("secret"))
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	owner := f.Services["postgres"].Environment["POSTGRES_USER"]
	if owner == "" {
		t.Fatal("compose.yaml: no POSTGRES_USER on the postgres service")
	}
	userOf := func(service, env string) string {
		u, err := url.Parse(f.Services[service].Environment[env])
		if err != nil || u.User == nil {
			t.Errorf("%s: %s is not a postgres URL with a user: %v", service, env, err)
			return ""
		}
		return u.User.Username()
	}
	// The service that makes the login roles runs after the migration made the roles.
	var logins string
	for name, s := range f.Services {
		if s.DependsOn["migrate"].Condition == "service_completed_successfully" && len(s.Command) > 0 && s.Command[0] == "psql" {
			logins = name
		}
	}
	if logins == "" {
		t.Fatal("compose.yaml: no psql service after migrate makes the components' login roles")
	}
	ran := map[string]bool{}
	for name, s := range f.Services {
		if len(s.Command) < 2 || s.Command[0] != "run" {
			continue
		}
		if s.DependsOn[logins].Condition != "service_completed_successfully" {
			t.Errorf("%s does not wait for %s", name, logins)
		}
		if _, ok := s.Environment["DATABASE_URL"]; ok {
			t.Errorf("%s has DATABASE_URL: a component without its own URL would connect as the owner", name)
		}
		components, ok := processComponents[s.Command[1]]
		if !ok {
			components = []string{s.Command[1]}
		}
		for _, cn := range components {
			c, ok := pg.ComponentNamed(cn)
			if !ok {
				t.Fatalf("%s: no database component %s", s.Command[1], cn)
			}
			ran[c.Name] = true
			if got, want := userOf(s.Command[1], c.URLEnv()), c.Role+"_login"; got != want {
				t.Errorf("%s connects as %q for %s, want %s", s.Command[1], got, c.Name, want)
			}
		}
	}
	// Every `strike run` component (each Kafka principal but the lag exporter's) runs, and
	// Prometheus scrapes its operations port.
	prom, err := os.ReadFile("prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range kafkaacl.Components {
		if c == "lag-exporter" {
			continue
		}
		var found bool
		for _, s := range f.Services {
			found = found || (len(s.Command) == 2 && s.Command[0] == "run" && s.Command[1] == c)
		}
		if !found {
			t.Errorf("no compose service runs `strike run %s`", c)
		}
		if !strings.Contains(string(prom), "job_name: strike-"+c+"\n    static_configs: [{ targets: [\""+c+":9090\"] }]") {
			t.Errorf("prometheus/prometheus.yml has no job strike-%s scraping %s:9090", c, c)
		}
	}
	for _, c := range pg.Components {
		if !ran[c.Name] {
			t.Errorf("component %s runs in no compose service", c.Name)
		}
	}
	for name, s := range f.Services {
		if _, ok := s.Environment["DATABASE_URL"]; ok && name != "migrate" && name != logins && userOf(name, "DATABASE_URL") == owner {
			t.Errorf("%s connects as the owner %s", name, owner)
		}
	}
	// The login SQL makes and grants every component's login role.
	sql, err := os.ReadFile("postgres/logins.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range pg.Components {
		if !strings.Contains(string(sql), "'"+c.Role+"_login', '"+c.Role+"'") {
			t.Errorf("postgres/logins.sql makes no login for %s", c.Role)
		}
	}
}
