package iotdm_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestLayout holds the import rules of DESIGN.md: the root package imports no
// project package; adapters and stores never import each other (they meet in
// cmd/iotdm); pure packages do no I/O.
func TestLayout(t *testing.T) {
	const module = "github.com/iotdm/iotdm"
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	adapters := map[string]bool{"awsapi": true, "broker": true, "console": true, "stack": true, "sqlite": true, "postgres": true, "cluster": true}
	pure := map[string]bool{"query": true, "policy": true, "shadow": true, "pki": true, "stack/template": true, "alarm": true, "metricbucket": true, "logquery": true}
	ioImports := []string{"net", "net/http", "os", "os/exec", "database/sql", "modernc.org/sqlite"}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list: %v", err)
		}
		name := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/internal/")
		for _, imp := range p.Imports {
			internal, isProject := strings.CutPrefix(imp, module+"/internal/")
			switch {
			case p.ImportPath == module && strings.HasPrefix(imp, module+"/"):
				t.Errorf("root package imports %s; it must import no project package", imp)
			case adapters[name] && isProject && adapters[internal]:
				t.Errorf("adapter %s imports adapter %s; adapters meet only in cmd/iotdm", name, internal)
			case pure[name]:
				for _, bad := range ioImports {
					if imp == bad {
						t.Errorf("pure package %s imports %s", name, imp)
					}
				}
			}
		}
	}
}
