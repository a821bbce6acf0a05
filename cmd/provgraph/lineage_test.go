package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestLineageOverHTTP(t *testing.T) {
	m := mustMain(t, nil)
	c := client{t: t, base: m.URL, token: testAdmin}
	f := mustFixture(c)
	out := c.mustCreate("datasets", map[string]any{"display_name": "Reef forecast", "name": "forecast", "description": "d", "location": "s3://bucket/forecast",
		"license": "https://creativecommons.org/licenses/by/4.0/", "publisher_id": f.org, "created_date": "2024-03-01", "published_date": "2024-03-02"})
	run := runDoc(f, f.dataset, "forecast run")
	run["outputs"] = []any{map[string]any{"dataset_template_id": f.outTemplate, "dataset_id": out, "resources": map[string]string{"forcing": "f.nc"}}}
	runID := c.mustCreate("model-runs", run)

	r := c.do("GET", "/api/v1/lineage/"+out+"?depth=3", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), runID) || !strings.Contains(string(r.Body), f.dataset) || !strings.Contains(string(r.Body), `"truncated":false`) {
		t.Fatalf("lineage: %d %s", r.Status, r.Body)
	}
	r = c.do("GET", "/api/v1/lineage/"+out+"/contributing-datasets?depth=3", nil)
	nodes, _ := r.JSON(t)["nodes"].([]any)
	if r.Status != 200 || len(nodes) != 2 {
		t.Fatalf("contributing datasets: %d %s", r.Status, r.Body)
	}
	// A named question takes every format the lineage route takes, as the OpenAPI says.
	if r := c.do("GET", "/api/v1/lineage/"+out+"/contributing-datasets?depth=3&format=tree", nil); r.Status != 200 ||
		!strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") || !strings.Contains(string(r.Body), f.dataset) {
		t.Fatalf("question as a tree: %d %s", r.Status, r.Body)
	}
	r = c.do("GET", "/api/v1/lineage/"+f.dataset+"/affected-agents?depth=3", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), f.person) {
		t.Fatalf("affected agents: %d %s", r.Status, r.Body)
	}
	if r := c.do("GET", "/api/v1/lineage/"+out+"?depth=3&format=dot", nil); r.Status != 200 || !strings.HasPrefix(string(r.Body), "digraph lineage") ||
		!strings.HasPrefix(r.Header.Get("Content-Type"), "text/vnd.graphviz") {
		t.Fatalf("dot: %d %s", r.Status, r.Body)
	}
	if r := c.do("GET", "/api/v1/lineage/"+out+"?depth=3&format=svg", nil); r.Status != 200 || !strings.HasPrefix(string(r.Body), "<svg") ||
		!strings.Contains(string(r.Body), `data-id="`+runID+`"`) || r.Header.Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("svg: %d %.300s", r.Status, r.Body)
	}
	if r := c.do("GET", "/api/v1/lineage/"+out+"?depth=3&format=tree", nil); r.Status != 200 || !strings.Contains(string(r.Body), "WAS_GENERATED_BY ←") {
		t.Fatalf("tree: %d %s", r.Status, r.Body)
	}
	for q, want := range map[string]int{"?depth=0": 422, "?depth=51": 422, "?depth=x": 400, "?direction=sideways": 400, "?format=png": 400} {
		if r := c.do("GET", "/api/v1/lineage/"+out+q, nil); r.Status != want {
			t.Fatalf("%s: %d, want %d", q, r.Status, want)
		}
	}
	if r := c.do("GET", "/api/v1/lineage/"+m.Config.IDPrefix+"/01J0000000000000000000000A", nil); r.Status != 404 {
		t.Fatalf("unknown: %d", r.Status)
	}
	// How two records are connected, both ways; unconnected ones have an empty path.
	r = c.do("GET", "/api/v1/lineage/path?from="+out+"&to="+f.dataset, nil)
	if r.Status != 200 || r.JSON(t)["direction"] != "upstream" || len(r.JSON(t)["nodes"].([]any)) != 3 {
		t.Fatalf("path: %d %s", r.Status, r.Body)
	}
	r = c.do("GET", "/api/v1/lineage/path?from="+f.dataset+"&to="+out+"&format=tree", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), runID) {
		t.Fatalf("path downstream as a tree: %d %s", r.Status, r.Body)
	}
	if r := c.do("GET", "/api/v1/lineage/path?from="+f.study+"&to="+f.org, nil); r.Status != 200 || len(r.JSON(t)["nodes"].([]any)) != 0 {
		t.Fatalf("no path: %d %s", r.Status, r.Body)
	}
	if r := c.do("GET", "/api/v1/lineage/path?from="+out, nil); r.Status != 400 {
		t.Fatalf("path without to: %d", r.Status)
	}
	if r := c.do("GET", "/api/v1/lineage/path?from="+out+"&to="+m.Config.IDPrefix+"/01J0000000000000000000000A", nil); r.Status != 404 {
		t.Fatalf("path to nothing: %d", r.Status)
	}
	if r := (client{t: t, base: m.URL}).do("GET", "/api/v1/lineage/"+out, nil); r.Status != 401 {
		t.Fatalf("no token: %d", r.Status)
	}
}

func TestLineageCommand(t *testing.T) {
	m := mustMain(t, nil)
	c := client{t: t, base: m.URL, token: testAdmin}
	f := mustFixture(c)
	run := runDoc(f, f.dataset, "cli run")
	runID := c.mustCreate("model-runs", run)
	env := map[string]string{"PROVGRAPH_NEO4J_URI": m.Config.Neo4jURI}
	var stdout, stderr bytes.Buffer
	cmd := rootCmd(&stdout, &stderr, func(k string) string { return env[k] })
	cmd.SetArgs([]string{"lineage", f.dataset, "--direction", "downstream", "--depth", "2"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if out := stdout.String(); !strings.HasPrefix(out, "Reef survey [Dataset] "+f.dataset) || !strings.Contains(out, "USED (of) ← cli run [ModelRun] "+runID) {
		t.Fatalf("tree:\n%s", out)
	}
	stdout.Reset()
	cmd = rootCmd(&stdout, &stderr, func(k string) string { return env[k] })
	cmd.SetArgs([]string{"lineage", f.dataset, "--depth", "0"})
	if err := cmd.Execute(); err == nil {
		t.Fatal("depth 0 accepted")
	}
}

// A model run deleted through the API leaves every lineage answer (the walk, the named
// questions, the path and the pictures), so its input no longer reaches its output,
// unless include_invalidated=true asks for it; the PROV export keeps it, invalidated.
func TestDeletedRunLeavesLineageOverHTTP(t *testing.T) {
	m := mustMain(t, nil)
	c := client{t: t, base: m.URL, token: testAdmin}
	f := mustFixture(c)
	out := c.mustCreate("datasets", map[string]any{"display_name": "Wrong forecast", "name": "wrong", "description": "d", "location": "s3://bucket/wrong",
		"license": "https://creativecommons.org/licenses/by/4.0/", "publisher_id": f.org, "created_date": "2024-03-01", "published_date": "2024-03-02"})
	run := runDoc(f, f.dataset, "mistaken run")
	run["outputs"] = []any{map[string]any{"dataset_template_id": f.outTemplate, "dataset_id": out, "resources": map[string]string{"forcing": "f.nc"}}}
	runID := c.mustCreate("model-runs", run)
	if r := c.do("GET", "/api/v1/lineage/"+out+"?depth=3", nil); r.Status != 200 || !strings.Contains(string(r.Body), runID) {
		t.Fatalf("before the delete: %d %s", r.Status, r.Body)
	}
	if r := c.do("DELETE", "/api/v1/model-runs/"+runID+"?reason=wrong+inputs", nil); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	for _, path := range []string{
		"/api/v1/lineage/" + out + "?depth=3",
		"/api/v1/lineage/" + out + "?depth=3&direction=both&include_agents=true",
		"/api/v1/lineage/" + out + "?depth=3&format=dot",
		"/api/v1/lineage/" + out + "?depth=3&format=svg",
		"/api/v1/lineage/" + out + "?depth=3&format=tree",
		"/api/v1/lineage/" + out + "/contributing-datasets?depth=3",
		"/api/v1/lineage/" + out + "/contributing-agents?depth=3",
		"/api/v1/lineage/" + f.dataset + "?depth=3&direction=downstream",
		"/api/v1/lineage/" + f.dataset + "/affected-datasets?depth=3",
	} {
		r := c.do("GET", path, nil)
		if r.Status != 200 || strings.Contains(string(r.Body), runID) {
			t.Errorf("%s: %d, the deleted run is there: %.400s", path, r.Status, r.Body)
		}
		if strings.HasPrefix(path, "/api/v1/lineage/"+out) && strings.Contains(string(r.Body), f.dataset) {
			t.Errorf("%s: the deleted run's input is still upstream: %.400s", path, r.Body)
		}
	}
	if r := c.do("GET", "/api/v1/lineage/path?from="+out+"&to="+f.dataset, nil); r.Status != 200 || len(r.JSON(t)["nodes"].([]any)) != 0 {
		t.Errorf("path through the deleted run: %d %s", r.Status, r.Body)
	}
	if r := c.do("GET", "/api/v1/lineage/"+runID, nil); r.Status != 404 {
		t.Errorf("lineage of the deleted run: %d %s", r.Status, r.Body)
	}
	// Asked for, it is there, with when it was deleted.
	for _, path := range []string{
		"/api/v1/lineage/" + out + "?depth=3&include_invalidated=true",
		"/api/v1/lineage/" + out + "/contributing-datasets?depth=3&include_invalidated=true",
		"/api/v1/lineage/path?from=" + out + "&to=" + f.dataset + "&include_invalidated=true",
		"/api/v1/lineage/" + runID + "?include_invalidated=true",
	} {
		if r := c.do("GET", path, nil); r.Status != 200 || !strings.Contains(string(r.Body), f.dataset) {
			t.Errorf("%s: %d %.400s", path, r.Status, r.Body)
		}
	}
	if r := c.do("GET", "/api/v1/lineage/"+out+"?depth=3&include_invalidated=true", nil); !strings.Contains(string(r.Body), `"invalidated_at"`) {
		t.Errorf("no invalidated_at: %s", r.Body)
	}
	for _, path := range []string{"/api/v1/lineage/" + out + "?include_invalidated=maybe", "/api/v1/lineage/path?from=" + out + "&to=" + f.dataset + "&include_invalidated=maybe"} {
		if r := c.do("GET", path, nil); r.Status != 400 {
			t.Errorf("%s: %d, want 400", path, r.Status)
		}
	}
	// The PROV export keeps the run, what it used, and when it was deleted (PROV-O
	// invalidates entities only); a deleted entity is prov:wasInvalidatedBy its deletion.
	if r := c.do("GET", "/api/v1/prov/"+runID+"?format=turtle", nil); r.Status != 200 || !strings.Contains(string(r.Body), "pg:deleted_at") ||
		!strings.Contains(string(r.Body), "prov:used") || !strings.Contains(string(r.Body), f.dataset) {
		t.Errorf("PROV of the deleted run: %d %s", r.Status, r.Body)
	}
	if r := c.do("DELETE", "/api/v1/datasets/"+out+"?reason=never+made", nil); r.Status != 204 {
		t.Fatalf("delete the dataset: %d %s", r.Status, r.Body)
	}
	if r := c.do("GET", "/api/v1/prov/"+out+"?format=turtle", nil); r.Status != 200 || !strings.Contains(string(r.Body), "prov:wasInvalidatedBy") ||
		!strings.Contains(string(r.Body), "prov:invalidatedAtTime") {
		t.Errorf("PROV of the deleted dataset: %d %s", r.Status, r.Body)
	}
	if r := c.do("GET", "/api/v1/lineage/"+out, nil); r.Status != 404 {
		t.Errorf("lineage of the deleted dataset: %d %s", r.Status, r.Body)
	}
}
