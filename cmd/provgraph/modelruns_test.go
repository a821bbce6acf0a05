package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
)

// runDoc is a valid model run of the fixture's workflow in the flat shape.
func runDoc(f fixture, input, name string) map[string]any {
	return map[string]any{
		"workflow_template_id": f.workflow, "display_name": name, "description": "d", "study_id": f.study,
		"inputs":       []any{map[string]any{"dataset_template_id": f.inTemplate, "dataset_id": input, "resources": map[string]string{"forcing": "f.nc"}}},
		"outputs":      []any{},
		"annotations":  map[string]string{"scenario": "ssp245"},
		"associations": map[string]string{"modeller_id": f.person, "requesting_organisation_id": f.org},
		"start_time":   1709251200, "end_time": 1709254800,
	}
}

func statuses(t testing.TB, r response) string {
	t.Helper()
	var body struct {
		Results []struct{ Status int } `json:"results"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	var s []string
	for _, x := range body.Results {
		s = append(s, fmt.Sprint(x.Status))
	}
	return strings.Join(s, ",")
}

func countRuns(c client, f fixture) int {
	r := c.do("GET", "/api/v1/model-runs?page_size=1000&workflow_template_id="+f.workflow, nil)
	recs, _ := r.JSON(c.t)["records"].([]any)
	return len(recs)
}

func TestBatchRegistrationOverHTTP(t *testing.T) {
	m := mustMain(t, nil)
	c := client{t: t, base: m.URL, token: testAdmin}
	f := mustFixture(c)
	good := func(name string) map[string]any { return runDoc(f, f.dataset, name) }
	bad := runDoc(f, f.person, "bad") // a person is not a dataset
	r := c.do("POST", "/api/v1/model-runs:batch", map[string]any{"records": []any{good("a"), good("b"), good("c")}})
	if r.Status != 201 || statuses(t, r) != "201,201,201" {
		t.Fatalf("batch: %d %s", r.Status, r.Body)
	}
	// All or nothing: one bad record, every failure named under /records/<i>, nothing written.
	r = c.do("POST", "/api/v1/model-runs:batch", map[string]any{"records": []any{good("d"), bad, map[string]any{}}})
	if got := strings.Join(r.ErrorFields(t), ","); r.Status != 422 || !strings.Contains(got, "/records/1/inputs/0/dataset_id") || !strings.Contains(got, "/records/2/") || strings.Contains(got, "/records/0") {
		t.Fatalf("atomic batch: %d %s", r.Status, got)
	}
	if n := countRuns(c, f); n != 3 {
		t.Fatalf("%d runs after a refused batch, want 3", n)
	}
	r = c.do("POST", "/api/v1/model-runs:batch?dry_run=true", map[string]any{"records": []any{good("e"), bad}})
	if r.Status != 200 || statuses(t, r) != "200,422" || countRuns(c, f) != 3 {
		t.Fatalf("dry run: %d %s", r.Status, r.Body)
	}
	r = c.do("POST", "/api/v1/model-runs:batch?atomic=false", map[string]any{"records": []any{good("f"), bad, good("g")}})
	if r.Status != 200 || statuses(t, r) != "201,422,201" || countRuns(c, f) != 5 {
		t.Fatalf("each on its own: %d %s", r.Status, r.Body)
	}
	many := make([]any, 1001)
	for i := range many {
		many[i] = map[string]any{}
	}
	for _, tc := range []struct {
		query string
		body  any
		want  int
	}{
		{"", map[string]any{"records": many}, 422},
		{"", map[string]any{"records": []any{}}, 422},
		{"", map[string]any{"runs": []any{good("h")}}, 422},
		{"", `[]`, 422},
		{"?atomic=maybe", map[string]any{"records": []any{good("h")}}, 400},
	} {
		if r := c.do("POST", "/api/v1/model-runs:batch"+tc.query, tc.body); r.Status != tc.want {
			t.Fatalf("batch %s: %d, want %d: %.300s", tc.query, r.Status, tc.want, r.Body)
		}
	}
	if n := countRuns(c, f); n != 5 {
		t.Fatalf("bad batches wrote: %d runs", n)
	}
}

func TestProvenaRegisterComplete(t *testing.T) {
	m := mustMain(t, nil)
	c := client{t: t, base: m.URL, token: testAdmin}
	f := mustFixture(c)
	rrap := func(dataset string) map[string]any {
		return map[string]any{
			"workflow_definition": map[string]any{"id": f.workflow},
			"inputs": map[string]any{"datasets": map[string]any{"forcing": map[string]any{
				"template": map[string]any{"id": f.inTemplate}, "dataset_type": "DATA_STORE", "dataset": map[string]any{"id": dataset},
				"resources": map[string]string{"forcing": "f.nc"}}}},
			"outputs":      map[string]any{"datasets": map[string]any{}},
			"annotations":  map[string]string{"scenario": "ssp245"},
			"associations": map[string]any{"modeller": map[string]any{"id": f.person}, "requesting_organisation": map[string]any{"id": f.org}},
			"start_time":   1709251200, "end_time": 1709254800,
		}
	}
	flat := runDoc(f, f.dataset, "flat")
	flat["inputs"].([]any)[0].(map[string]any)["dataset_type"] = "DATA_STORE"
	for name, body := range map[string]any{"rrap": rrap(f.dataset), "flat": flat} {
		r := c.do("POST", "/model_run/register_complete", body)
		var got struct {
			Status     struct{ Success bool }
			RecordInfo struct {
				ID       string
				ProvJSON string `json:"prov_json"`
				Record   map[string]any
			} `json:"record_info"`
		}
		if r.Status != 200 || json.Unmarshal(r.Body, &got) != nil || !got.Status.Success || got.RecordInfo.ID == "" {
			t.Fatalf("%s: %d %s", name, r.Status, r.Body)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(got.RecordInfo.ProvJSON), &doc); err != nil || doc["activity"] == nil || doc["used"] == nil {
			t.Fatalf("%s: prov_json %.300s", name, got.RecordInfo.ProvJSON)
		}
		if got.RecordInfo.Record["workflow_template_id"] != f.workflow {
			t.Fatalf("%s: record %v", name, got.RecordInfo.Record)
		}
		// Provena's ModelRunRecord: every dataset has its dataset_type, times are ints.
		in, _ := got.RecordInfo.Record["inputs"].([]any)
		if len(in) != 1 || in[0].(map[string]any)["dataset_type"] != "DATA_STORE" || got.RecordInfo.Record["start_time"] != float64(1709251200) {
			t.Fatalf("%s: record %v", name, got.RecordInfo.Record)
		}
	}
	// RFC 3339 times come back as epoch seconds; outputs get their dataset_type too.
	out := c.mustCreate("datasets", map[string]any{"display_name": "Reef forecast", "name": "forecast", "description": "d", "location": "s3://bucket/forecast",
		"license": "https://creativecommons.org/licenses/by/4.0/", "publisher_id": f.org, "created_date": "2024-03-01", "published_date": "2024-03-02"})
	timed := runDoc(f, f.dataset, "timed")
	timed["start_time"], timed["end_time"] = "2024-03-01T00:00:00Z", "2024-03-01T01:00:00Z"
	timed["outputs"] = []any{map[string]any{"dataset_template_id": f.outTemplate, "dataset_id": out, "dataset_type": "DATA_STORE", "resources": map[string]string{"forcing": "o.nc"}}}
	if r := c.do("POST", "/model_run/register_complete", timed); r.Status != 200 ||
		!strings.Contains(string(r.Body), `"start_time":1709251200`) || !strings.Contains(string(r.Body), `"end_time":1709254800`) ||
		strings.Count(string(r.Body), `"dataset_type":"DATA_STORE"`) != 2 {
		t.Fatalf("RFC 3339 times: %d %s", r.Status, r.Body)
	}
	// A well-formed record naming the wrong records is Provena's 400 {"detail": "…"},
	// located in the client's own shape; so is an id no provgraph id could match, which
	// Provena's model takes and its id check refuses.
	unknown := runDoc(f, "no such dataset", "unknown")
	wrongKind := runDoc(f, f.person, "wrong kind")
	wrongKind["annotations"] = map[string]string{"colour": "red"}
	for _, tc := range []struct {
		name string
		body any
		want []string
	}{
		{"rrap, a person as a dataset", rrap(f.person), []string{"Failed to validate an entity's ID in the record, error: ", "inputs.datasets.forcing.dataset.id: " + f.person + " is a Person, not a Dataset"}},
		{"flat, a person as a dataset", wrongKind, []string{"Failed to validate an entity's ID", "inputs.0.dataset_id: " + f.person, `annotation \"colour\" is not declared`}},
		{"an id with spaces", unknown, []string{"Failed to validate an entity's ID", "inputs.0.dataset_id"}},
		{"an empty id", runDoc(f, "", "empty"), []string{"Failed to validate an entity's ID", "inputs.0.dataset_id"}},
	} {
		r := c.do("POST", "/model_run/register_complete", tc.body)
		var detail struct{ Detail string }
		if r.Status != 400 || json.Unmarshal(r.Body, &detail) != nil {
			t.Fatalf("%s: %d %s", tc.name, r.Status, r.Body)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(r.Body), w) {
				t.Fatalf("%s: %s lacks %q", tc.name, r.Body, w)
			}
		}
	}
	// An ill-formed record is FastAPI's 422, every violation located in the client's shape.
	illFormed := runDoc(f, "no such dataset", "ill-formed")
	delete(illFormed, "start_time")
	r := c.do("POST", "/model_run/register_complete", illFormed)
	var detail struct {
		Detail []struct {
			Loc  []any
			Msg  string
			Type string
		}
	}
	if r.Status != 422 || json.Unmarshal(r.Body, &detail) != nil || len(detail.Detail) == 0 {
		t.Fatalf("ill-formed: %d %s", r.Status, r.Body)
	}
	if locs := fmt.Sprint(detail.Detail); !strings.Contains(locs, "[body inputs 0 dataset_id]") {
		t.Fatalf("locs %s in %s", locs, r.Body)
	}
	bad := rrap(f.dataset)
	bad["inputs"].(map[string]any)["datasets"].(map[string]any)["forcing"].(map[string]any)["dataset_type"] = "S3"
	if r := c.do("POST", "/model_run/register_complete", bad); r.Status != 422 || !strings.Contains(string(r.Body), `"detail"`) {
		t.Fatalf("dataset_type S3: %d %s", r.Status, r.Body)
	}
	if r := (client{t: t, base: m.URL}).do("POST", "/model_run/register_complete", flat); r.Status != 401 || !strings.Contains(string(r.Body), `"detail"`) {
		t.Fatalf("no token: %d %s", r.Status, r.Body)
	}
	if n := countRuns(c, f); n != 3 {
		t.Fatalf("%d runs, want 3", n)
	}
}

// Provena's looser record: annotation keys with spaces, declared by a workflow template
// with spaces in its keys, register on the Provena route (and natively); keys no template
// can declare are Provena's 400, as ones a template does not declare are.
func TestProvenaAnnotationKeysWithSpaces(t *testing.T) {
	m := mustMain(t, nil)
	c := client{t: t, base: m.URL, token: testAdmin}
	f := mustFixture(c)
	wf := c.mustCreate("workflow-templates", map[string]any{"display_name": "Reef run, spaced", "software_id": f.model,
		"input_templates": []any{map[string]any{"template_id": f.inTemplate}},
		"annotations":     map[string]any{"required": []string{"Climate scenario"}, "optional": []string{"run notes (free text)", "grid: cell size"}}})
	run := func(annotations map[string]string) map[string]any {
		doc := runDoc(f, f.dataset, "spaced")
		doc["workflow_template_id"], doc["annotations"] = wf, annotations
		doc["inputs"].([]any)[0].(map[string]any)["dataset_type"] = "DATA_STORE"
		return doc
	}
	if r := c.do("POST", "/api/v1/workflow-templates", map[string]any{"display_name": "bad keys", "software_id": f.model,
		"annotations": map[string]any{"required": []string{" leading space", "tab\tinside"}}}); r.Status != 422 || len(r.ErrorFields(t)) != 2 {
		t.Fatalf("a key with a leading space: %d %s", r.Status, r.Body)
	}
	r := c.do("POST", "/model_run/register_complete", run(map[string]string{"Climate scenario": "ssp245"}))
	if r.Status != 200 || !strings.Contains(string(r.Body), `"Climate scenario":"ssp245"`) {
		t.Fatalf("a spaced key: %d %s", r.Status, r.Body)
	}
	native := run(map[string]string{"Climate scenario": "ssp585"})
	delete(native["inputs"].([]any)[0].(map[string]any), "dataset_type")
	if r := c.do("POST", "/api/v1/model-runs", native); r.Status != 201 {
		t.Fatalf("a spaced key, natively: %d %s", r.Status, r.Body)
	}
	r = c.do("POST", "/model_run/register_complete", run(map[string]string{"Climate scenario": "ssp245", "run notes (free text)": "first", "grid: cell size": "1 km"}))
	if r.Status != 200 || !strings.Contains(string(r.Body), `"run notes (free text)":"first"`) {
		t.Fatalf("optional spaced keys: %d %s", r.Status, r.Body)
	}
	for _, key := range []string{"Climate  scenario", "grid/cell size", "grid: cell size ", ""} {
		r := c.do("POST", "/model_run/register_complete", run(map[string]string{"Climate scenario": "ssp245", key: "x"}))
		if r.Status != 400 || !strings.Contains(string(r.Body), "is not declared by the workflow template") {
			t.Fatalf("undeclared key %q: %d %s", key, r.Status, r.Body)
		}
	}
}

func TestCSVRegistration(t *testing.T) {
	m := mustMain(t, nil)
	c := client{t: t, base: m.URL, token: testAdmin}
	f := mustFixture(c)
	r := c.do("GET", "/api/v1/workflow-templates/"+f.workflow+"/csv-template", nil)
	header := strings.TrimSpace(string(r.Body))
	for _, col := range []string{"display_name", "input[" + f.inTemplate + "].dataset_id", "input[" + f.inTemplate + "].resource.forcing", "output[" + f.outTemplate + "].dataset_id", "annotation.scenario"} {
		if r.Status != 200 || !strings.Contains(header, col) {
			t.Fatalf("csv template lacks %s: %d %s", col, r.Status, r.Body)
		}
	}
	cols := strings.Split(header, ",")
	row := func(name, dataset string) string {
		cells := make([]string, len(cols))
		for i, col := range cols {
			cells[i] = map[string]string{
				"display_name": name, "description": "from a sheet", "start_time": "2024-03-01T00:00:00Z", "end_time": "1709254800",
				"modeller_id": f.person, "requesting_organisation_id": f.org, "study_id": f.study,
				"input[" + f.inTemplate + "].dataset_id": dataset, "input[" + f.inTemplate + "].resource.forcing": "f.nc",
				"annotation.scenario": "ssp245",
			}[col]
		}
		return strings.Join(cells, ",")
	}
	sheet := header + "\r\n" + row("one", f.dataset) + "\r\n" + row("two", f.person) + "\r\n"
	url := "/api/v1/model-runs:csv?workflow_template_id=" + f.workflow
	if r := c.do("POST", url+"&dry_run=true", sheet, "Content-Type", "text/csv"); r.Status != 200 || statuses(t, r) != "200,422" || countRuns(c, f) != 0 {
		t.Fatalf("csv dry run: %d %s", r.Status, r.Body)
	}
	r = c.do("POST", url, sheet, "Content-Type", "text/csv")
	if r.Status != 200 || statuses(t, r) != "201,422" || countRuns(c, f) != 1 || !strings.Contains(string(r.Body), `"line":3`) {
		t.Fatalf("csv: %d %s", r.Status, r.Body)
	}
	if r := c.do("POST", url, "nonsense,header\r\n1,2\r\n", "Content-Type", "text/csv"); r.Status != 422 {
		t.Fatalf("bad header: %d %s", r.Status, r.Body)
	}
	if r := c.do("POST", "/api/v1/model-runs:csv", sheet); r.Status != 400 {
		t.Fatalf("no workflow: %d %s", r.Status, r.Body)
	}
}

// One registration sent 20 times at once with one Idempotency-Key: one run, twenty
// identical answers.
func TestModelRunIdempotencyOverHTTP(t *testing.T) {
	m := mustMain(t, nil)
	c := client{t: t, base: m.URL, token: testAdmin}
	f := mustFixture(c)
	body, _ := json.Marshal(runDoc(f, f.dataset, "once"))
	answers := make([]string, 20)
	codes := make([]int, 20)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			r := c.do("POST", "/api/v1/model-runs", body, "Idempotency-Key", "register-once-"+m.Config.IDPrefix)
			codes[i], answers[i] = r.Status, string(r.Body)
		})
	}
	wg.Wait()
	for i := range 20 {
		if codes[i] != 201 || answers[i] != answers[0] {
			t.Fatalf("answer %d: %d %.200s", i, codes[i], answers[i])
		}
	}
	if n := countRuns(c, f); n != 1 {
		t.Fatalf("%d runs registered", n)
	}
}

// The records registrations name are cached unless PROVGRAPH_RECORD_CACHE is 0, and
// /metrics says how often the cache held them.
func TestRecordCacheLookupsAreCounted(t *testing.T) {
	for _, size := range []int{10_000, 0} {
		m := mustMain(t, func(c *Config) { c.RecordCache = size })
		c := client{t: t, base: m.URL, token: testAdmin}
		f := mustFixture(c)
		for i := range 3 {
			if r := c.do("POST", "/api/v1/model-runs", runDoc(f, f.dataset, fmt.Sprint("run ", i))); r.Status != 201 {
				t.Fatalf("cache of %d, run %d: %d %s", size, i, r.Status, r.Body)
			}
		}
		lookups := map[string]float64{}
		for _, line := range strings.Split(string(c.do("GET", "/metrics", nil).Body), "\n") {
			var hit string
			var n float64
			if _, err := fmt.Sscanf(line, "provgraph_record_cache_lookups_total{hit=%q} %g", &hit, &n); err == nil {
				lookups[hit] = n
			}
		}
		// Every run finds the 8 records it names (the workflow template, its model and both
		// dataset templates, the dataset, the study, the modeller and the organisation):
		// they were cached as this server created them.
		if want := map[bool]map[string]float64{true: {"true": 24, "false": 0}, false: {"true": 0, "false": 0}}[size > 0]; !maps.Equal(lookups, want) {
			t.Fatalf("cache of %d: lookups %v, want %v", size, lookups, want)
		}
	}
}
