package provena

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"provgraph"
	"provgraph/lineage"
	"provgraph/registry"
	"provgraph/runs"
)

func TestGraphOfTranslatesKindsAndDropsInternalNodes(t *testing.T) {
	res := lineage.Result{
		Nodes: []lineage.Node{
			{ID: "p/out", Kind: "Dataset"}, {ID: "p/run", Kind: "ModelRun"}, {ID: "p/in", Kind: "Dataset"},
			{ID: "p/wf", Kind: "WorkflowTemplate"}, {ID: "p/ada", Kind: "Person"}, {ID: "agents/local:x", Kind: "User"},
			{ID: "p/tracked", Kind: "Run"}, {ID: "p/art", Kind: "Artifact"}, {ID: "p/ev", Kind: "RunEvent"},
		},
		Edges: []lineage.Edge{
			{From: "p/out", To: "p/run", Type: "WAS_GENERATED_BY", Role: "a"},
			{From: "p/out", To: "p/run", Type: "WAS_GENERATED_BY", Role: "b"}, // the same link twice, by two roles
			{From: "p/run", To: "p/in", Type: "USED"},
			{From: "p/run", To: "p/wf", Type: "WAS_INFLUENCED_BY", Role: "plan"},
			{From: "p/run", To: "p/ada", Type: "WAS_ASSOCIATED_WITH"},
			{From: "p/run", To: "agents/local:x", Type: "WAS_ATTRIBUTED_TO", Role: "creator"},
			{From: "p/art", To: "p/tracked", Type: "WAS_GENERATED_BY"},
			{From: "p/ev", To: "p/tracked", Type: "WAS_INFORMED_BY"},
		},
	}
	g := GraphOf(res)
	want := map[string]string{"p/out": "DATASET", "p/run": "MODEL_RUN", "p/in": "DATASET", "p/wf": "MODEL_RUN_WORKFLOW_TEMPLATE",
		"p/ada": "PERSON", "p/tracked": "WORKFLOW_RUN", "p/art": "DATASET"}
	got := map[string]string{}
	for _, n := range g.Nodes {
		got[n.ID] = n.Subtype
		if s, _ := SubtypeOf(map[string]string{"DATASET": "Dataset", "MODEL_RUN": "ModelRun", "PERSON": "Person",
			"MODEL_RUN_WORKFLOW_TEMPLATE": "WorkflowTemplate", "WORKFLOW_RUN": "Run"}[n.Subtype]); s.Category != n.Category {
			t.Errorf("%s: category %s, want %s", n.ID, n.Category, s.Category)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("nodes %v, want %v", got, want)
	}
	wantLinks := []Link{{"wasGeneratedBy", "p/out", "p/run"}, {"used", "p/run", "p/in"}, {"wasInfluencedBy", "p/run", "p/wf"},
		{"wasAssociatedWith", "p/run", "p/ada"}, {"wasGeneratedBy", "p/art", "p/tracked"}}
	if !reflect.DeepEqual(g.Links, wantLinks) {
		t.Fatalf("links %v, want %v", g.Links, wantLinks)
	}
	b, _ := json.Marshal(g)
	if !strings.HasPrefix(string(b), `{"directed":true,"multigraph":false,"graph":{},"nodes":[`) {
		t.Fatalf("not networkx node-link data: %s", b)
	}
	// Every subtype written is one Provena's client accepts.
	allowed := "WORKFLOW_RUN MODEL_RUN STUDY CREATE VERSION PERSON ORGANISATION SOFTWARE MODEL WORKFLOW_TEMPLATE MODEL_RUN_WORKFLOW_TEMPLATE DATASET DATASET_TEMPLATE"
	for kind, s := range subtypes {
		if !strings.Contains(" "+allowed+" ", " "+s.Subtype+" ") {
			t.Errorf("%s maps to %s, which Provena's ItemSubType does not have", kind, s.Subtype)
		}
	}
}

func TestModelRunRecordAddsDatasetTypeAndEpochTimes(t *testing.T) {
	stored := `{"workflow_template_id":"p/wf","inputs":[{"dataset_template_id":"p/t","dataset_id":"p/d","resources":{"data":"x"}}],
		"outputs":[],"display_name":"r","description":"d","associations":{"modeller_id":"p/m"},
		"start_time":"2025-01-01T00:00:00Z","end_time":1735693200}`
	out, err := ModelRunRecord(json.RawMessage(stored))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	json.Unmarshal(out, &got)
	in := got["inputs"].([]any)[0].(map[string]any)
	if in["dataset_type"] != "DATA_STORE" || in["resources"].(map[string]any)["data"] != "x" {
		t.Fatalf("input %v", in)
	}
	if got["start_time"] != float64(1735689600) || got["end_time"] != float64(1735693200) {
		t.Fatalf("times %v %v", got["start_time"], got["end_time"])
	}
	if _, err := ModelRunRecord(json.RawMessage(`[1]`)); err == nil {
		t.Fatal("an array read as a model run")
	}
}

func TestItemEnvelope(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	v1 := registry.Record{ID: "p/s", Kind: "study", Version: 1, Record: json.RawMessage(`{"title":"Reef","description":"a study"}`),
		CreatedAt: at, CreatedBy: "local:ada", UpdatedAt: at, UpdatedBy: "local:ada"}
	v2 := v1
	v2.Version, v2.Record, v2.UpdatedAt, v2.UpdatedBy, v2.Reason = 2, json.RawMessage(`{"title":"Reef 2","description":"a study"}`), at.Add(time.Hour), "local:bo", "renamed"
	item, err := Item("study", v2, []registry.Record{v2, v1})
	if err != nil {
		t.Fatal(err)
	}
	if item["display_name"] != "Reef 2" || item["item_category"] != "ACTIVITY" || item["item_subtype"] != "STUDY" ||
		item["owner_username"] != "local:ada" || item["created_timestamp"] != at.Unix() || item["updated_timestamp"] != at.Add(time.Hour).Unix() ||
		item["record_type"] != "COMPLETE_ITEM" || item["id"] != "p/s" {
		t.Fatalf("item %v", item)
	}
	h := item["history"].([]map[string]any)
	if len(h) != 2 || h[0]["id"] != 2 || h[0]["reason"] != "renamed" || h[0]["username"] != "local:bo" || h[1]["reason"] != "Initial record creation" ||
		h[1]["item"].(map[string]any)["display_name"] != "Reef" {
		t.Fatalf("history %v", h)
	}
	run := registry.Record{ID: "p/r", Kind: "model-run", Version: 1, Name: "run", CreatedAt: at, UpdatedAt: at,
		Record:   json.RawMessage(`{"workflow_template_id":"p/wf","inputs":[{"dataset_template_id":"p/t","dataset_id":"p/d"}],"outputs":[],"display_name":"run","description":"d","associations":{"modeller_id":"p/m"},"start_time":1,"end_time":2}`),
		ProvJSON: json.RawMessage(`{"prefix":{}}`)}
	ri, err := Item("model-run", run, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ri["record_status"] != "LODGED" || ri["prov_serialisation"] != `{"prefix":{}}` || ri["item_subtype"] != "MODEL_RUN" || len(ri["history"].([]map[string]any)) != 1 {
		t.Fatalf("model run item %v", ri)
	}
	tmpl := registry.Record{ID: "p/t", Record: json.RawMessage(`{"display_name":"t","deferred_resources":[{"key":"data","usage_type":"GENERAL_DATA"}]}`)}
	info, _ := DomainInfo("dataset-template", tmpl)
	if info["deferred_resources"].([]any)[0].(map[string]any)["description"] != "" || len(info["defined_resources"].([]any)) != 0 {
		t.Fatalf("dataset template %v", info)
	}
}

func TestSchemaErrorsAreOnlyShapes(t *testing.T) {
	ok := `{"workflow_template_id":"x","inputs":[],"outputs":[],"display_name":"n","description":"d","associations":{},"start_time":1,"end_time":2}`
	if errs := SchemaErrors([]byte(ok), []any{"body"}); len(errs) != 0 {
		t.Fatalf("a well-shaped record: %v", errs)
	}
	// An id our rules refuse is not a schema error: it is for the 400 path.
	if errs := SchemaErrors([]byte(strings.Replace(ok, `"x"`, `"no such id!"`, 1)), []any{"body"}); len(errs) != 0 {
		t.Fatalf("a bad id: %v", errs)
	}
	errs := SchemaErrors([]byte(`{"workflow_template_id":3,"inputs":[],"outputs":[],"description":"d","associations":{},"start_time":1,"end_time":2}`), []any{"body", "records", 1})
	if len(errs) != 2 || !reflect.DeepEqual(errs[0]["loc"], []any{"body", "records", 1, "workflow_template_id"}) || errs[1]["type"] != "value_error.missing" {
		t.Fatalf("errors %v", errs)
	}
}

func TestDepth(t *testing.T) {
	for v, want := range map[string]int{"": 4, "1": 1, "10": 10} {
		if got, err := Depth(v, 4); err != nil || got != want {
			t.Errorf("depth %q: %d %v", v, got, err)
		}
	}
	for _, v := range []string{"0", "11", "x", "-1"} {
		if _, err := Depth(v, 4); err == nil {
			t.Errorf("depth %q accepted", v)
		}
	}
}

func TestFailShapes(t *testing.T) {
	cases := []struct {
		err    error
		status int
		body   string
	}{
		{provgraph.InvalidFields("x", []provgraph.FieldError{{Path: "/inputs/0/dataset_id", Message: "no dataset"}}), 400,
			`{"detail":"Failed to validate the record, error: /inputs/0/dataset_id: no dataset"}`},
		{provgraph.Errorf(provgraph.NotFound, "no record"), 404, `{"detail":"no record"}`},
		{&schemaError{[]map[string]any{{"loc": []any{"body"}, "msg": "m", "type": "t"}}}, 422, `{"detail":[{"loc":["body"],"msg":"m","type":"t"}]}`},
		{provgraph.Errorf(provgraph.Unavailable, "down"), 503, `{"detail":"down"}`},
		{provgraph.Errorf(provgraph.Forbidden, "no"), 403, `{"detail":"no"}`},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		Fail(w, httptest.NewRequest(http.MethodGet, "/", nil), c.err)
		if w.Code != c.status || strings.TrimSpace(w.Body.String()) != c.body {
			t.Errorf("%v: %d %s", c.err, w.Code, w.Body)
		}
	}
}

func TestSessionIDIsUUID4(t *testing.T) {
	id := sessionID()
	if len(id) != 36 || id[14] != '4' || !strings.ContainsRune("89ab", rune(id[19])) || id == sessionID() {
		t.Fatalf("session id %q", id)
	}
}

func TestCSVRoundTrip(t *testing.T) {
	tmpl := CSVTemplate{ID: "p/wf", Inputs: []CSVSlot{{TemplateID: "p/tin", Name: "forcing", Resources: []string{"data"}}, {TemplateID: "p/topt", Name: "extra", Optional: true}},
		Outputs: []CSVSlot{{TemplateID: "p/tout", Name: "out"}}, Annotations: []string{"scenario", "notes"}}
	rec := json.RawMessage(`{"workflow_template_id":"p/wf","display_name":"r, one","description":"d","associations":{"modeller_id":"p/ada"},
		"start_time":1735689600,"end_time":1735693200,"inputs":[{"dataset_template_id":"p/tin","dataset_id":"p/d1","resources":{"data":"in.nc"}}],
		"outputs":[{"dataset_template_id":"p/tout","dataset_id":"p/d2"}],"annotations":{"scenario":"ssp245"}}`)
	job := runs.ProvenaJob{SessionID: "s1", Status: "SUCCEEDED", Result: json.RawMessage(`{"record":{"id":"p/run"}}`)}
	row, err := tmpl.Row(rec, &job)
	if err != nil {
		t.Fatal(err)
	}
	header := tmpl.Header()
	if header[0] != "_workflow template id p/wf" || row[6] != "2025-01-01 00:00:00+00:00" || row[len(row)-2] != "p/run" || row[len(row)-4] != "s1" {
		t.Fatalf("header %q row %q", header, row)
	}
	var b strings.Builder
	cw := csv.NewWriter(&b)
	cw.Write(append(header, "extra col"))
	cw.Write(append(row, "x"))
	job2 := slices.Clone(row)
	job2[len(job2)-4] = ""
	cw.Write(append(job2, "x"))
	cw.Flush()
	conv, err := ParseCSV([]byte(b.String()), func(id string) (CSVTemplate, error) {
		if id != "p/wf" {
			t.Fatalf("template %q", id)
		}
		return tmpl, nil
	}, func(j string) bool { return j == "s1" })
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(conv.Existing, []string{"s1"}) || len(conv.New) != 1 || !reflect.DeepEqual(conv.Warnings, []string{"Extra column with header 'extra col' provided, ignoring"}) {
		t.Fatalf("converted %+v", conv)
	}
	got, _ := json.Marshal(conv.New[0])
	want := `{"annotations":{"scenario":"ssp245"},"associations":{"modeller_id":"p/ada"},"description":"d","display_name":"r, one","end_time":1735693200,` +
		`"inputs":[{"dataset_id":"p/d1","dataset_template_id":"p/tin","dataset_type":"DATA_STORE","resources":{"data":"in.nc"}}],` +
		`"outputs":[{"dataset_id":"p/d2","dataset_template_id":"p/tout","dataset_type":"DATA_STORE"}],"start_time":1735689600,"workflow_template_id":"p/wf"}`
	if string(got) != want {
		t.Fatalf("record\n%s\nwant\n%s", got, want)
	}
	// A required dataset missing, a bad time and a foreign header are 400s naming them.
	for _, bad := range []string{
		strings.Replace(b.String(), "p/d2", "", 1), strings.Replace(b.String(), "2025-01-01 00:00:00+00:00", "yesterday", 1), "display name\nx\n",
	} {
		if _, err := ParseCSV([]byte(bad), func(string) (CSVTemplate, error) { return tmpl, nil }, func(string) bool { return false }); provgraph.ErrorCode(err) != provgraph.Invalid {
			t.Errorf("accepted: %v", err)
		}
	}
}

func TestDocIsAWordPackage(t *testing.T) {
	var d Doc
	d.Heading(0, "Study Close Out Report")
	d.Para(`a <b> & "c"`)
	d.Table([][]string{{"Dataset", "Name"}, {"p/d1", "forcing & more"}})
	b, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil || !bytes.HasPrefix(b, []byte("PK\x03\x04")) {
		t.Fatalf("not a zip: %v", err)
	}
	names := map[string]bool{}
	for _, f := range z.File {
		names[f.Name] = true
		r, _ := f.Open()
		dec := xml.NewDecoder(r)
		for {
			if _, err := dec.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s is not well-formed XML: %v", f.Name, err)
			}
		}
		if f.Name == "word/document.xml" {
			r, _ := f.Open()
			body, _ := io.ReadAll(r)
			if !strings.Contains(string(body), "a &lt;b&gt; &amp; &#34;c&#34;") || !strings.Contains(string(body), "forcing &amp; more") {
				t.Fatalf("text not escaped: %s", body)
			}
		}
	}
	for _, n := range []string{"[Content_Types].xml", "_rels/.rels", "word/document.xml", "word/styles.xml", "word/_rels/document.xml.rels"} {
		if !names[n] {
			t.Errorf("no %s", n)
		}
	}
}

func TestEmptyModelVersionIsNoVersion(t *testing.T) {
	got := string(dropEmptyVersion([]byte(`{"model_version":"","display_name":"r"}`)))
	if got != `{"display_name":"r"}` {
		t.Fatalf("got %s", got)
	}
	if keep := `{"model_version":"1.0"}`; string(dropEmptyVersion([]byte(keep))) != keep {
		t.Fatal("a version was dropped")
	}
}
