package provgraph_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyRule keeps DESIGN §1 true: the domain imports neither Neo4j nor HTTP
// routing, graph and server never import each other, and only cmd/ imports both.
func TestDependencyRule(t *testing.T) {
	forbidden := map[string][]string{
		"provgraph/registry":     {"neo4j-go-driver", "gorilla/mux", "provgraph/graph", "provgraph/server", "net/http"},
		"provgraph/runs":         {"neo4j-go-driver", "gorilla/mux", "provgraph/graph", "provgraph/server", "net/http"},
		"provgraph/prov":         {"neo4j-go-driver", "gorilla/mux", "provgraph/graph", "provgraph/server", "net/http"},
		"provgraph/schemas":      {"neo4j-go-driver", "gorilla/mux", "provgraph/graph", "provgraph/server", "net/http"},
		"provgraph/lineage":      {"neo4j-go-driver", "gorilla/mux", "provgraph/graph", "provgraph/server", "net/http"},
		"provgraph/cypher":       {"neo4j-go-driver", "gorilla/mux", "provgraph/graph", "provgraph/server", "net/http"},
		"provgraph/ui":           {"neo4j-go-driver", "gorilla/mux", "provgraph/graph", "provgraph/server", "net/http"},
		"provgraph/graph":        {"provgraph/server", "gorilla/mux"},
		"provgraph/server":       {"provgraph/graph", "neo4j-go-driver"},
		"provgraph/compat/pager": {"net/http"},
	}
	// Every foreign wire adapter, present and future, translates onto the services: no
	// storage, no server.
	out, err := exec.Command("go", "list", "provgraph/compat/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list provgraph/compat/...: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		forbidden[pkg] = append(forbidden[pkg], "neo4j-go-driver", "provgraph/graph", "provgraph/server")
	}
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "cannot find package") || strings.Contains(string(out), "no Go files") || strings.Contains(string(out), "is not in std") {
				continue // not written yet
			}
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range bad {
				if strings.Contains(dep, b) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
