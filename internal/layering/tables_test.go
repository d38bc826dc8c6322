package layering

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// owners are tables whose SQL one package owns: no string literal in any other production
// package names them (comments may). Test files and test helpers may read them to check results.
var owners = map[string]string{
	"eco_board":     "internal/projection",
	"eco_timeline":  "internal/projection",
	"call_attempts": "internal/projection",
	"sink_offsets":  "internal/projection",
}

func TestOwnedTablesAreNamedOnlyByTheirPackage(t *testing.T) {
	t.Parallel()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	var names []string
	for n := range owners {
		names = append(names, n)
	}
	re := regexp.MustCompile(`\b(` + strings.Join(names, "|") + `)\b`)
	helpers := map[string]bool{}
	for _, h := range testHelpers {
		helpers[strings.TrimPrefix(h, module+"/")] = true
	}
	files, literals := 0, 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		dir := filepath.ToSlash(filepath.Dir(rel))
		if helpers[dir] {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			literals++
			for _, m := range re.FindAllString(lit.Value, -1) {
				if owners[m] != dir {
					t.Errorf("%s names %s in a string: its SQL belongs in %s", rel, m, owners[m])
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 || literals < 1000 {
		t.Fatalf("scanned %d files, %d string literals: the check would prove nothing", files, literals)
	}
}
