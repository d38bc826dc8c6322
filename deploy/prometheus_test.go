package deploy_test

import "testing"

// The rules parse and pass their unit tests (every alert fires on its series and not on its
// look-alikes), and the example server configuration loads them.
func TestPrometheusRulesWithPromtool(t *testing.T) {
	t.Parallel()
	promtool := tool(t, "promtool", "checks deploy/prometheus")
	run(t, "prometheus", promtool, "check", "rules", "rules.yml")
	t.Log(run(t, "prometheus", promtool, "test", "rules", "rules_test.yml"))
	run(t, "prometheus", promtool, "check", "config", "prometheus.yml")
}
