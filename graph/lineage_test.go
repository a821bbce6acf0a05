package graph

import (
	"slices"
	"strings"
	"testing"

	"provgraph"
	"provgraph/lineage"
	"provgraph/registry"
)

func TestLineageWalk(t *testing.T) {
	mr, doc, d, _ := runFixture(t)
	later := strings.NewReplacer(`"start_time":1700000000`, `"start_time":1700007200`, `"end_time":1700003600`, `"end_time":1700010800`)
	run1, err := mr.Register(t.Context(), []byte(doc(d[0], d[1])), actor, "")
	if err != nil {
		t.Fatal(err)
	}
	run2, err := mr.Register(t.Context(), []byte(later.Replace(doc(d[1], d[2]))), actor, "")
	if err != nil {
		t.Fatal(err)
	}
	l := &Lineage{DB: MustDB(t)}
	ask := func(id, params string) lineage.Result { t.Helper(); return mustWalk(t, l, id, params) }
	ids := func(res lineage.Result) string {
		var out []string
		for _, n := range res.Nodes {
			out = append(out, n.ID)
		}
		slices.Sort(out)
		return strings.Join(out, " ")
	}
	sorted := func(xs ...string) string { slices.Sort(xs); return strings.Join(xs, " ") }
	if got := ids(ask(d[2], "depth=4&kinds=Dataset")); got != sorted(d[0], d[1], d[2]) {
		t.Fatalf("contributing datasets of d2: %s", got)
	}
	up := ask(d[2], "depth=4")
	if !strings.Contains(ids(up), run1.ID) || !strings.Contains(ids(up), run2.ID) || len(up.Edges) == 0 {
		t.Fatalf("upstream: %s", ids(up))
	}
	for _, n := range up.Nodes {
		if n.Kind == "Person" || n.Kind == "Organisation" || n.Kind == "User" {
			t.Fatalf("agents without include_agents: %+v", n)
		}
	}
	if got := ids(ask(d[0], "direction=downstream&depth=4&kinds=Dataset,ModelRun")); got != sorted(d[0], d[1], d[2], run1.ID, run2.ID) {
		t.Fatalf("affected by d0: %s", got)
	}
	// Agents are leaves: the modeller is there, the runs the modeller did elsewhere are not
	// reached through them.
	withAgents := ask(run1.ID, "depth=3&include_agents=true")
	if !slices.ContainsFunc(withAgents.Nodes, func(n lineage.Node) bool { return n.Kind == "Person" }) || strings.Contains(ids(withAgents), run2.ID) {
		t.Fatalf("agents as leaves: %s", ids(withAgents))
	}
	if res := ask(d[2], "depth=4&limit=2"); !res.Truncated || len(res.Nodes) > 2 {
		t.Fatalf("limit: %d nodes, truncated %v", len(res.Nodes), res.Truncated)
	}
	q, _ := lineage.ParseQuery("nope/01J0000000000000000000000A", nil, 50)
	if _, err := l.Walk(t.Context(), q); code(err) != provgraph.NotFound {
		t.Fatalf("unknown: %v", err)
	}

}

func parseQuery(s string) map[string][]string {
	out := map[string][]string{}
	for _, kv := range strings.Split(s, "&") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = append(out[k], v)
		}
	}
	return out
}

// Lineage sees the latest version: a dataset edited after a run used it is still that
// run's input, and the run is still downstream of the dataset.
func TestLineageSeesLatestVersions(t *testing.T) {
	mr, doc, d, _ := runFixture(t)
	svc, _ := mustService(t)
	run, err := mr.Register(t.Context(), []byte(doc(d[0], d[1])), actor, "")
	if err != nil {
		t.Fatal(err)
	}
	cur, err := svc.Get(t.Context(), kind(t, "datasets"), d[0], 0, registry.Everyone)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Update(t.Context(), kind(t, "datasets"), d[0], []byte(strings.Replace(string(cur.Record), `"description":"d"`, `"description":"fixed"`, 1)), actor, "fix"); err != nil {
		t.Fatal(err)
	}
	l := &Lineage{DB: MustDB(t)}
	walk := func(id, params string) lineage.Result { t.Helper(); return mustWalk(t, l, id, params) }
	has := func(res lineage.Result, id string, version int) bool {
		return slices.ContainsFunc(res.Nodes, func(n lineage.Node) bool { return n.ID == id && (version == 0 || n.Version == version) })
	}
	if up := walk(run.ID, "depth=1"); !has(up, d[0], 2) {
		t.Fatalf("the run's input, now at version 2, is missing upstream: %+v", up.Nodes)
	}
	if down := walk(d[0], "direction=downstream&depth=1"); !has(down, run.ID, 0) {
		t.Fatalf("the run is missing downstream of the edited dataset: %+v", down.Nodes)
	}
	if old := walk(run.ID, "depth=1&versions=true"); !has(old, d[0]+"/versions/1", 0) {
		t.Fatalf("with versions, the version the run used: %+v", old.Nodes)
	}
}

// mustWalk answers a lineage question given as URL parameters.
func mustWalk(t *testing.T, l *Lineage, id, params string) lineage.Result {
	t.Helper()
	q, err := lineage.ParseQuery(id, parseQuery(params), 50)
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Walk(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
