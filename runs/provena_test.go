package runs

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"provgraph"
	"provgraph/schemas"
)

const provenaFlat = `{"workflow_template_id":"10378.1/wf","model_version":"v2",
	"inputs":[{"dataset_template_id":"tin","dataset_id":"d1","dataset_type":"DATA_STORE","resources":{"forcing":"f.nc"}},
	          {"dataset_template_id":"topt","dataset_id":"d3"}],
	"outputs":[{"dataset_template_id":"tout","dataset_id":"d2","dataset_type":"DATA_STORE"}],
	"annotations":{"scenario":"a"},"display_name":"r","description":"d","study_id":"s",
	"associations":{"modeller_id":"p","requesting_organisation_id":"o"},
	"start_time":1700000000,"end_time":"2023-11-15T23:00:00+10:00"}`

// provenaRRAP has its dataset keys out of order, and one with a '/', on purpose.
const provenaRRAP = `{"workflow_definition":{"id":"10378.1/wf"},
	"inputs":{"datasets":{"zeta":{"template":{"id":"tin"},"dataset_type":"DATA_STORE","dataset":{"id":"d1"}},
	                      "a/b":{"template":{"id":"topt"},"dataset_type":"DATA_STORE","dataset":{"id":"d3"}}}},
	"outputs":{"datasets":{"out":{"template":{"id":"tout"},"dataset_type":"DATA_STORE","dataset":{"id":"d2"}}}},
	"associations":{"modeller":{"id":"p"},"requesting_organisation":{"id":"o"}},
	"start_time":1700000000,"end_time":1700003600}`

func mustSchemas(t testing.TB) *schemas.Set {
	t.Helper()
	s, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustFromProvena(t *testing.T, doc string) ([]byte, func(string) []any) {
	t.Helper()
	flat, loc, errs := FromProvena([]byte(doc))
	if len(errs) > 0 {
		t.Fatalf("FromProvena: %v", errs)
	}
	return flat, loc
}

// mustAcceptable checks that flat passes the model-run schema and CheckShape.
func mustAcceptable(t *testing.T, sch *schemas.Set, flat []byte) ModelRun {
	t.Helper()
	if errs := sch.Validate("model-run", flat); len(errs) > 0 {
		t.Fatalf("schema refuses %s: %v", flat, errs)
	}
	var m ModelRun
	if err := json.Unmarshal(flat, &m); err != nil {
		t.Fatal(err)
	}
	if errs := m.CheckShape(); len(errs) > 0 {
		t.Fatalf("CheckShape: %v", errs)
	}
	return m
}

func TestFromProvenaFlat(t *testing.T) {
	flat, _ := mustFromProvena(t, provenaFlat)
	mustAcceptable(t, mustSchemas(t), flat)
	if strings.Contains(string(flat), "dataset_type") {
		t.Errorf("dataset_type kept: %s", flat)
	}
	var got, want map[string]any
	json.Unmarshal(flat, &got)
	json.Unmarshal([]byte(provenaFlat), &want)
	for _, side := range []string{"inputs", "outputs"} {
		for _, d := range want[side].([]any) {
			delete(d.(map[string]any), "dataset_type")
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	for _, raw := range []string{`"start_time":1700000000`, `"end_time":"2023-11-15T23:00:00+10:00"`} {
		if !strings.Contains(string(flat), raw) {
			t.Errorf("time not passed through unchanged: want %s in %s", raw, flat)
		}
	}
}

func TestFromProvenaRRAP(t *testing.T) {
	flat, _ := mustFromProvena(t, provenaRRAP)
	m := mustAcceptable(t, mustSchemas(t), flat)
	want := ModelRun{
		WorkflowTemplateID: "10378.1/wf",
		Inputs:             []Dataset{{DatasetTemplateID: "topt", DatasetID: "d3"}, {DatasetTemplateID: "tin", DatasetID: "d1"}},
		Outputs:            []Dataset{{DatasetTemplateID: "tout", DatasetID: "d2"}},
		Associations:       Associations{ModellerID: "p", RequestingOrganisationID: "o"},
		DisplayName:        m.DisplayName,
		Description:        m.Description,
		StartTime:          m.StartTime,
		EndTime:            m.EndTime,
	}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("got %+v\nwant %+v", m, want)
	}
	if !strings.Contains(m.DisplayName, "10378.1/wf") || strings.TrimSpace(m.Description) == "" {
		t.Errorf("derived name %q, description %q", m.DisplayName, m.Description)
	}
	if m.StartTime.Unix() != 1700000000 || m.EndTime.Unix() != 1700003600 {
		t.Errorf("times %v %v", m.StartTime, m.EndTime)
	}
	if !strings.Contains(string(flat), `"start_time":1700000000`) {
		t.Errorf("epoch time not passed through: %s", flat)
	}
}

func TestFromProvenaKeepsOwnNames(t *testing.T) {
	doc := strings.Replace(provenaRRAP, `"start_time"`, `"display_name":"mine","description":"told","annotations":{"k":"v"},"study_id":"s","model_version":"3","start_time"`, 1)
	flat, loc := mustFromProvena(t, doc)
	m := mustAcceptable(t, mustSchemas(t), flat)
	if m.DisplayName != "mine" || m.Description != "told" || m.Annotations["k"] != "v" || m.StudyID != "s" || m.ModelVersion != "3" {
		t.Fatalf("got %+v", m)
	}
	if got := loc("/display_name"); !reflect.DeepEqual(got, []any{"body", "display_name"}) {
		t.Errorf("loc of a given display_name: %v", got)
	}
}

func TestFromProvenaLoc(t *testing.T) {
	tests := []struct {
		name, doc, pointer string
		want               []any
	}{
		{"rrap root", provenaRRAP, "", []any{"body"}},
		{"rrap first dataset by sorted key", provenaRRAP, "/inputs/0/dataset_id", []any{"body", "inputs", "datasets", "a/b", "dataset", "id"}},
		{"rrap second dataset", provenaRRAP, "/inputs/1/dataset_template_id", []any{"body", "inputs", "datasets", "zeta", "template", "id"}},
		{"rrap dataset itself", provenaRRAP, "/outputs/0", []any{"body", "outputs", "datasets", "out"}},
		{"rrap resource", provenaRRAP, "/inputs/1/resources/forcing", []any{"body", "inputs", "datasets", "zeta", "resources", "forcing"}},
		{"rrap side", provenaRRAP, "/inputs", []any{"body", "inputs"}},
		{"rrap index out of range", provenaRRAP, "/inputs/2/dataset_id", []any{"body", "inputs", "2", "dataset_id"}},
		{"rrap workflow", provenaRRAP, "/workflow_template_id", []any{"body", "workflow_definition", "id"}},
		{"rrap modeller", provenaRRAP, "/associations/modeller_id", []any{"body", "associations", "modeller", "id"}},
		{"rrap organisation", provenaRRAP, "/associations/requesting_organisation_id", []any{"body", "associations", "requesting_organisation", "id"}},
		{"rrap derived display name", provenaRRAP, "/display_name", []any{"body"}},
		{"rrap time", provenaRRAP, "/end_time", []any{"body", "end_time"}},
		{"rrap unknown", provenaRRAP, "/no/such~1thing", []any{"body", "no", "such/thing"}},
		{"flat root", provenaFlat, "", []any{"body"}},
		{"flat index is an int", provenaFlat, "/inputs/1/dataset_id", []any{"body", "inputs", 1, "dataset_id"}},
		{"flat resource key", provenaFlat, "/inputs/0/resources/a~1b", []any{"body", "inputs", 0, "resources", "a/b"}},
		{"flat modeller", provenaFlat, "/associations/modeller_id", []any{"body", "associations", "modeller_id"}},
		{"flat annotation named by digits stays a string", provenaFlat, "/annotations/1", []any{"body", "annotations", "1"}},
		{"flat not an index", provenaFlat, "/inputs/01", []any{"body", "inputs", "01"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, loc := mustFromProvena(t, tt.doc)
			if got := loc(tt.pointer); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("loc(%q) = %#v, want %#v", tt.pointer, got, tt.want)
			}
		})
	}
}

func TestFromProvenaErrors(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string // paths in the client's shape
	}{
		{"not JSON", `{"workflow_template_id":`, []string{""}},
		{"not an object", `[1,2]`, []string{""}},
		{"null", `null`, []string{""}},
		{"neither shape", `{"inputs":[]}`, []string{"/workflow_template_id"}},
		{"both shapes", `{"workflow_template_id":"w","workflow_definition":{"id":"w"}}`, []string{""}},
		{"repeated key", `{"workflow_template_id":"w","inputs":[{"dataset_id":"a","dataset_id":"b"}]}`, []string{"/inputs/0/dataset_id"}},
		{"flat bad dataset_type", strings.Replace(provenaFlat, `"dataset_id":"d2","dataset_type":"DATA_STORE"`, `"dataset_id":"d2","dataset_type":"FILE"`, 1), []string{"/outputs/0/dataset_type"}},
		{"flat dataset_type not a string", strings.Replace(provenaFlat, `"dataset_type":"DATA_STORE","resources"`, `"dataset_type":null,"resources"`, 1), []string{"/inputs/0/dataset_type"}},
		{"rrap bad dataset_type", strings.Replace(provenaRRAP, `"topt"},"dataset_type":"DATA_STORE"`, `"topt"},"dataset_type":"data_store"`, 1), []string{"/inputs/datasets/a~1b/dataset_type"}},
		{"rrap inputs not an object", strings.Replace(provenaRRAP, `"outputs":{"datasets":{"out":{"template":{"id":"tout"},"dataset_type":"DATA_STORE","dataset":{"id":"d2"}}}}`, `"outputs":[]`, 1), []string{"/outputs"}},
		{"rrap datasets missing", strings.Replace(provenaRRAP, `"outputs":{"datasets":`, `"outputs":{"sets":`, 1), []string{"/outputs/datasets", "/outputs/sets"}},
		{"rrap template not a reference", strings.Replace(provenaRRAP, `"template":{"id":"tout"}`, `"template":"tout"`, 1), []string{"/outputs/datasets/out/template"}},
		{"rrap reference without id", strings.Replace(provenaRRAP, `"dataset":{"id":"d2"}`, `"dataset":{"handle":"d2"}`, 1), []string{"/outputs/datasets/out/dataset/handle", "/outputs/datasets/out/dataset/id"}},
		{"rrap unknown field", strings.Replace(provenaRRAP, `"start_time"`, `"colour":"red","start_time"`, 1), []string{"/colour"}},
		{"rrap workflow_definition not an object", strings.Replace(provenaRRAP, `{"id":"10378.1/wf"}`, `"10378.1/wf"`, 1), []string{"/workflow_definition"}},
		{"rrap associations in the flat style", strings.Replace(provenaRRAP, `"modeller":{"id":"p"}`, `"modeller_id":"p"`, 1), []string{"/associations/modeller_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flat, loc, errs := FromProvena([]byte(tt.doc))
			if flat != nil {
				t.Errorf("flat returned with errors: %s", flat)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Path)
				if e.Message == "" {
					t.Errorf("no message at %q", e.Path)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if l := loc(got[0]); len(l) == 0 || l[0] != "body" {
				t.Errorf("loc(%q) = %v", got[0], l)
			}
		})
	}
}

// TestProvenaDetailsFromSchema runs the pipeline a handler would: FromProvena, the
// model-run schema on the flat document, and the 422 body in the client's terms.
func TestProvenaDetailsFromSchema(t *testing.T) {
	doc := strings.Replace(provenaRRAP, `"dataset":{"id":"d1"}`, `"dataset":{"id":5}`, 1)
	doc = strings.Replace(doc, `"modeller":{"id":"p"},`, ``, 1)
	flat, loc := mustFromProvena(t, doc)
	body := ProvenaDetails(mustSchemas(t).Validate("model-run", flat), loc)
	got, _ := json.Marshal(body)
	want := `{"detail":[{"loc":["body","associations","modeller","id"],"msg":"is required","type":"value_error.missing"},` +
		`{"loc":["body","inputs","datasets","zeta","dataset","id"],"msg":` // the message is the schema's
	if !strings.HasPrefix(string(got), want) || !strings.HasSuffix(string(got), `"type":"value_error"}]}`) {
		t.Fatalf("got %s", got)
	}

	// The errors FromProvena returns go with the loc it returns alongside.
	_, loc, errs := FromProvena([]byte(strings.Replace(provenaFlat, `"dataset_type":"DATA_STORE","resources"`, `"dataset_type":"X","resources"`, 1)))
	d := ProvenaDetails(errs, loc).Detail
	if len(d) != 1 || !reflect.DeepEqual(d[0].Loc, []any{"body", "inputs", 0, "dataset_type"}) || d[0].Type != "value_error" {
		t.Fatalf("got %+v", d)
	}
	if d := ProvenaDetails([]provgraph.FieldError{{Path: "/outputs/3", Message: "m"}}, nil).Detail; !reflect.DeepEqual(d[0].Loc, []any{"body", "outputs", 3}) {
		t.Fatalf("nil loc: %+v", d)
	}
	if b, _ := json.Marshal(ProvenaDetails(nil, nil)); string(b) != `{"detail":[]}` {
		t.Fatalf("no errors: %s", b)
	}
}

func TestProvenaResponseJSON(t *testing.T) {
	tests := []struct {
		name string
		resp ProvenaResponse
		want string
	}{
		{"success", ProvenaResponse{Status: ProvenaStatus{Success: true, Details: "registered"},
			RecordInfo: &ProvenaRecordInfo{ID: "r1", ProvJSON: `{"entity":{}}`, Record: json.RawMessage(`{"a":1}`)}},
			`{"status":{"success":true,"details":"registered"},"record_info":{"id":"r1","prov_json":"{\"entity\":{}}","record":{"a":1}}}`},
		{"failure", ProvenaResponse{Status: ProvenaStatus{Details: "no"}}, `{"status":{"success":false,"details":"no"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.resp)
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %s (%v), want %s", got, err, tt.want)
			}
		})
	}
}

func FuzzFromProvena(f *testing.F) {
	f.Add(provenaFlat)
	f.Add(provenaRRAP)
	f.Add(`{"workflow_definition":{"id":1},"inputs":{"datasets":{"":null}},"associations":[]}`)
	f.Add(`{"workflow_template_id":"w","inputs":[1,{"dataset_type":"x"}],"outputs":{}}`)
	f.Add(`{"workflow_definition":null}`)
	f.Fuzz(func(t *testing.T, doc string) {
		flat, loc, errs := FromProvena([]byte(doc))
		if (flat == nil) == (len(errs) == 0) {
			t.Fatalf("flat %q with errors %v", flat, errs)
		}
		for _, p := range []string{"", "/inputs/0/dataset_id", "/outputs/9/resources/x", "/associations/modeller_id", "/a~1b/~0", "x"} {
			if l := loc(p); len(l) == 0 || l[0] != "body" {
				t.Fatalf("loc(%q) = %v", p, l)
			}
		}
		for _, e := range errs {
			loc(e.Path)
		}
		if flat != nil {
			var m map[string]any
			if err := json.Unmarshal(flat, &m); err != nil {
				t.Fatalf("flat is not a JSON object: %s: %v", flat, err)
			}
			if _, ok := m["workflow_definition"]; ok {
				t.Fatalf("RRAP key left in %s", flat)
			}
		}
	})
}

func TestProvenaRecord(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"datasets get their type, epoch times stay",
			`{"inputs":[{"dataset_id":"a","dataset_template_id":"t"}],"outputs":[{"dataset_id":"b","dataset_template_id":"u"}],"start_time":1,"end_time":2}`,
			`{"end_time":2,"inputs":[{"dataset_id":"a","dataset_template_id":"t","dataset_type":"DATA_STORE"}],"outputs":[{"dataset_id":"b","dataset_template_id":"u","dataset_type":"DATA_STORE"}],"start_time":1}`},
		{"RFC 3339 times become epoch seconds",
			`{"inputs":[],"outputs":[],"start_time":"2024-03-01T00:00:00Z","end_time":"2024-03-01T01:00:00.5+10:00"}`,
			`{"end_time":1709218800,"inputs":[],"outputs":[],"start_time":1709251200}`},
		{"not an object", `[1]`, `[1]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(ProvenaRecord(json.RawMessage(tc.in))); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestProvenaRefusal(t *testing.T) {
	flat := []byte(`{"workflow_template_id":"w x","inputs":[{"dataset_template_id":"t","dataset_id":3}],"associations":{"modeller_id":"p"}}`)
	for _, tc := range []struct {
		name   string
		err    error
		status int
		want   string
	}{
		{"schema: only string ids", schemaError([]provgraph.FieldError{{Path: "/workflow_template_id", Message: "does not match"}}), 400,
			`{"detail":"Failed to validate an entity's ID in the record, error: workflow_template_id: does not match"}`},
		{"schema: an id of the wrong type", schemaError([]provgraph.FieldError{{Path: "/inputs/0/dataset_id", Message: "must be a string"}}), 422,
			`{"detail":[{"loc":["body","inputs",0,"dataset_id"],"msg":"must be a string","type":"value_error"}]}`},
		{"schema: an id and a missing field", schemaError([]provgraph.FieldError{{Path: "/workflow_template_id", Message: "does not match"}, {Path: "/start_time", Message: "is required"}}), 422,
			`{"detail":[{"loc":["body","workflow_template_id"],"msg":"does not match","type":"value_error"},{"loc":["body","start_time"],"msg":"is required","type":"value_error.missing"}]}`},
		{"rules: annotations", provgraph.InvalidFields("not valid", []provgraph.FieldError{{Path: "/annotations/a b", Message: "is not declared"}}), 400,
			`{"detail":"Failed to validate the model run record, error: annotations.a b: is not declared"}`},
		{"rules: an id and a template", provgraph.InvalidFields("not valid", []provgraph.FieldError{{Path: "/associations/modeller_id", Message: "no record"}, {Path: "/inputs", Message: "not fulfilled"}}), 400,
			`{"detail":"Failed to validate an entity's ID in the record, error: associations.modeller_id: no record; inputs: not fulfilled"}`},
		{"invalid without fields", provgraph.Errorf(provgraph.Invalid, "nothing to register"), 400, `{"detail":"nothing to register"}`},
		{"not a refusal", provgraph.Errorf(provgraph.Conflict, "busy"), 0, `null`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, ok := ProvenaRefusal(tc.err, flat, nil)
			got, _ := json.Marshal(body)
			if status != tc.status || ok != (tc.status != 0) || string(got) != tc.want {
				t.Fatalf("got %d %v %s\nwant %d %s", status, ok, got, tc.status, tc.want)
			}
		})
	}
}
