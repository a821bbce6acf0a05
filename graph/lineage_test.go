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

// A deleted model run is history, not lineage: it is neither returned nor walked through
// (so its inputs no longer reach its outputs), even through a superseded version of it,
// unless include_invalidated asks for it; a deleted record asked about is not found.
func TestLineageLeavesOutDeletedRuns(t *testing.T) {
	mr, doc, d, _ := runFixture(t)
	svc, _ := mustService(t)
	runs := kind(t, "model-runs")
	// gone: d0 → d1, deleted before anything used d1; kept: d1 → d2.
	gone, err := mr.Register(t.Context(), []byte(doc(d[0], d[1])), actor, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(t.Context(), runs, gone.ID, actor, "wrong inputs"); err != nil {
		t.Fatal(err)
	}
	kept, err := mr.Register(t.Context(), []byte(doc(d[1], d[2])), actor, "")
	if err != nil {
		t.Fatal(err)
	}
	// edited: d0 → d3, updated (so a superseded version holds its first relationships),
	// then deleted.
	edited, err := mr.Register(t.Context(), []byte(doc(d[0], d[3])), actor, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mr.Update(t.Context(), edited.ID, []byte(strings.Replace(doc(d[0], d[3]), `"description":"d"`, `"description":"fixed"`, 1)), actor, "fix"); err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(t.Context(), runs, edited.ID, actor, "wrong model"); err != nil {
		t.Fatal(err)
	}
	l := &Lineage{DB: MustDB(t)}
	ids := func(res lineage.Result) []string {
		out := []string{}
		for _, n := range res.Nodes {
			out = append(out, n.ID)
		}
		return out
	}
	for _, c := range []struct {
		name, id, params  string
		want, wantMissing []string
	}{
		{"upstream of an output", d[2], "depth=6", []string{kept.ID, d[1]}, []string{gone.ID, d[0]}},
		{"upstream of an output, versions", d[2], "depth=6&versions=true", []string{kept.ID, d[1]}, []string{gone.ID, d[0]}},
		{"downstream of an input", d[0], "direction=downstream&depth=6", nil, []string{gone.ID, d[1], kept.ID, d[2], edited.ID, d[3]}},
		{"through a superseded version", d[3], "depth=6", nil, []string{edited.ID, d[0]}},
		{"through a superseded version, versions", d[3], "depth=6&versions=true", nil, []string{edited.ID, d[0]}},
		{"both ways", d[1], "direction=both&depth=6", []string{kept.ID, d[2]}, []string{gone.ID, d[0]}},
		{"contributing datasets", d[2], "depth=6&kinds=Dataset", []string{d[1]}, []string{d[0]}},
		{"asked for", d[2], "depth=6&include_invalidated=true", []string{kept.ID, d[1], gone.ID, d[0]}, nil},
		{"asked for, downstream", d[0], "direction=downstream&depth=6&include_invalidated=true", []string{gone.ID, d[1], kept.ID, d[2], edited.ID, d[3]}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := ids(mustWalk(t, l, c.id, c.params))
			for _, id := range c.want {
				if !slices.Contains(got, id) {
					t.Errorf("%s is missing: %v", id, got)
				}
			}
			for _, id := range c.wantMissing {
				if slices.Contains(got, id) {
					t.Errorf("%s is there: %v", id, got)
				}
			}
		})
	}
	// Asked for, a deleted run says when it was deleted.
	res := mustWalk(t, l, d[2], "depth=6&include_invalidated=true")
	if i := slices.IndexFunc(res.Nodes, func(n lineage.Node) bool { return n.ID == gone.ID }); i < 0 || res.Nodes[i].InvalidatedAt == nil {
		t.Fatalf("the deleted run without its deletion time: %+v", res.Nodes)
	}
	q, _ := lineage.ParseQuery(gone.ID, nil, 50)
	if _, err := l.Walk(t.Context(), q); code(err) != provgraph.NotFound {
		t.Fatalf("the lineage of a deleted run: %v, want not found", err)
	}
	q.IncludeInvalidated = true
	if res, err := l.Walk(t.Context(), q); err != nil || !slices.Contains(ids(res), d[0]) {
		t.Fatalf("the lineage of a deleted run, asked for: %v %v", ids(res), err)
	}
	// No path from d1 to d0 but through the deleted run.
	if p, err := l.Path(t.Context(), d[1], d[0], 10, false, registry.Everyone); err != nil || len(p.Nodes) != 0 {
		t.Fatalf("path through a deleted run: %v %v", ids(p), err)
	}
	if p, err := l.Path(t.Context(), d[3], d[0], 10, false, registry.Everyone); err != nil || len(p.Nodes) != 0 {
		t.Fatalf("path through a deleted run's superseded version: %v %v", ids(p), err)
	}
	if p, err := l.Path(t.Context(), d[1], d[0], 10, true, registry.Everyone); err != nil || !slices.Contains(ids(p), gone.ID) {
		t.Fatalf("path through a deleted run, asked for: %v %v", ids(p), err)
	}
	if _, err := l.Path(t.Context(), gone.ID, d[0], 10, false, registry.Everyone); code(err) != provgraph.NotFound {
		t.Fatalf("path from a deleted run: %v, want not found", err)
	}
}
