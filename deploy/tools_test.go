// Package deploy_test checks what deploy/ ships against the real tools: Prometheus rules with
// promtool, dashboards' PromQL with the Prometheus parser, Kubernetes manifests with kustomize
// and the Kubernetes API types.
package deploy_test

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// tool returns the path of an external program the deploy checks need. Without it the test is
// skipped, unless CI is set: CI installs it (.ci/run), so there its absence is a failure.
func tool(t *testing.T, name, why string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if ci := os.Getenv("CI"); ci != "" && ci != "false" {
		t.Fatalf("%s not found and CI=%s: %s (Debian: apt-get install prometheus)", name, ci, why)
	}
	t.Skipf("%s not found (%s; Debian: apt-get install prometheus); set CI=true to make this a failure", name, why)
	return ""
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// run runs a program in dir and fails the test with its output if it fails.
func run(t *testing.T, dir, prog string, args ...string) string {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}
