// Package layering holds the test that keeps Strike's architecture true without review:
// components do not import one another, production code does not import test helpers, and the
// shared plumbing in internal/ depends on no component or command.
package layering

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/osprey-strike/strike"

// testHelpers are packages only tests may import.
var testHelpers = []string{
	module + "/internal/pgtest",
	module + "/internal/kafkatest",
	module + "/internal/childproc",
	module + "/internal/running",
	module + "/consumers/sink/sinktest",
}

// allowed are component-to-component imports that remain, each with the issue that removes it.
var allowed = map[[2]string]string{}

type pkg struct {
	ImportPath string
	Imports    []string
}

// component is the consumers/X or producers/X a package belongs to, or "".
func component(path string) string {
	rest, ok := strings.CutPrefix(path, module+"/")
	if !ok {
		return ""
	}
	parts := strings.Split(rest, "/")
	if len(parts) >= 2 && (parts[0] == "consumers" || parts[0] == "producers") {
		return module + "/" + parts[0] + "/" + parts[1]
	}
	return ""
}

func TestLayering(t *testing.T) {
	t.Parallel()
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(root)))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages; the check would prove nothing", len(pkgs))
	}
	for _, p := range pkgs {
		me := component(p.ImportPath)
		for _, imp := range p.Imports {
			for _, h := range testHelpers {
				if imp == h && !strings.HasSuffix(p.ImportPath, "test") {
					t.Errorf("%s imports the test helper %s", p.ImportPath, imp)
				}
			}
			if other := component(imp); me != "" && other != "" && other != me {
				if _, ok := allowed[[2]string{p.ImportPath, other}]; !ok {
					t.Errorf("component %s imports component %s: shared code belongs in internal/", p.ImportPath, imp)
				}
			}
			if strings.HasPrefix(p.ImportPath, module+"/internal/") &&
				(component(imp) != "" || strings.HasPrefix(imp, module+"/cmd/")) {
				t.Errorf("%s (shared plumbing) imports %s", p.ImportPath, imp)
			}
		}
	}
}
