package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"provgraph/registry"
	"provgraph/runs"
)

const docURL = "mem://provgraph/openapi.json"

// documentSchemas compiles the schemas of the document as a JSON Schema validator sees
// them: extra holds inline schemas to compile beside the components, by name.
type documentSchemas struct {
	t   *testing.T
	c   *jsonschema.Compiler
	doc map[string]any
}

func mustDocumentSchemas(t *testing.T, s *Server, extra map[string]any) documentSchemas {
	t.Helper()
	doc := s.OpenAPI()
	comps := doc["components"].(map[string]any)["schemas"].(map[string]any)
	for name, schema := range extra {
		comps[name] = schema
	}
	// Through JSON, as a client reads it.
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(docURL, parsed); err != nil {
		t.Fatal(err)
	}
	return documentSchemas{t: t, c: c, doc: doc}
}

// validate checks the JSON body against the named component.
func (d documentSchemas) validate(component string, body []byte) error {
	d.t.Helper()
	sch, err := d.c.Compile(docURL + "#/components/schemas/" + component)
	if err != nil {
		d.t.Fatalf("compile %s: %v", component, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("not JSON: %v: %s", err, body)
	}
	return sch.Validate(v)
}

// fill sets every field of v, at every depth, to a value that is not zero: a Go value
// of a response type with all it can hold.
func fill(v reflect.Value, depth int) {
	if t := v.Type(); t == timeType {
		v.Set(reflect.ValueOf(time.Date(2025, 2, 3, 9, 0, 0, 123, time.UTC)))
		return
	} else if t == rawType {
		v.SetBytes([]byte(`{"a":[1,"b"]}`))
		return
	} else if vs, ok := enums[t]; ok {
		v.SetString(vs[len(vs)-1])
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(3)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(3)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), depth)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, depth+1)
		fill(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Interface:
		v.Set(reflect.ValueOf("any"))
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				fill(f, depth+1)
			}
		}
	}
}

// minimal leaves v as empty as a handler could write it: nil slices, maps and pointers,
// zero numbers and strings, but values from the closed sets and documents as objects.
func minimal(v reflect.Value) {
	if t := v.Type(); t == rawType {
		v.SetBytes([]byte(`{}`))
		return
	} else if vs, ok := enums[t]; ok {
		v.SetString(vs[0])
		return
	}
	if v.Kind() == reflect.Struct && v.Type() != timeType {
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				minimal(f)
			}
		}
	}
}

// TestResponseSchemasFitTheirTypes encodes every response type the document names, once
// as empty as it can be and once with every field set, and validates each against its
// schema.
func TestResponseSchemasFitTheirTypes(t *testing.T) {
	s, _ := mustServer(t, fakeRegistry{}, fakeHealth{})
	d := mustDocumentSchemas(t, s, nil)
	for typ, name := range componentNames {
		for _, full := range []bool{false, true} {
			v := reflect.New(typ).Elem()
			if full {
				fill(v, 0)
			} else {
				minimal(v)
			}
			b, err := json.Marshal(v.Interface())
			if err != nil {
				t.Fatal(err)
			}
			if err := d.validate(name, b); err != nil {
				t.Errorf("%s (full %v) does not fit its schema: %v\n%s", name, full, err, b)
			}
		}
	}
}

// TestSchemaCatchesDrift: a body with a field the type does not have, or without one it
// always writes, is refused, so the test above can fail.
func TestSchemaCatchesDrift(t *testing.T) {
	s, _ := mustServer(t, fakeRegistry{}, fakeHealth{})
	d := mustDocumentSchemas(t, s, nil)
	var rec registry.Record
	fill(reflect.ValueOf(&rec).Elem(), 0)
	b, _ := json.Marshal(rec)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	m["surprise"] = 1
	extra, _ := json.Marshal(m)
	delete(m, "surprise")
	delete(m, "created_at")
	missing, _ := json.Marshal(m)
	m["created_at"] = "yesterday"
	badTime, _ := json.Marshal(m)
	for name, body := range map[string][]byte{"extra field": extra, "missing field": missing, "bad time": badTime} {
		if d.validate("Record", body) == nil {
			t.Errorf("%s accepted: %s", name, body)
		}
	}
	var run runs.Run
	fill(reflect.ValueOf(&run).Elem(), 0)
	run.State = "SLEEPING"
	b, _ = json.Marshal(run)
	if d.validate("TrackedRun", b) == nil {
		t.Errorf("a state outside the lifecycle accepted: %s", b)
	}
}

// TestRealResponsesFitTheDocument sends requests through the real router and validates
// each answer against the schema the document gives for its operation and status.
func TestRealResponsesFitTheDocument(t *testing.T) {
	created := registry.Record{ID: "x/01J0000000000000000000000A", Kind: "study", Version: 1, Name: "t",
		Record: json.RawMessage(`{"title":"t","description":"d"}`), CreatedAt: time.Now(), CreatedBy: "t:writer",
		UpdatedAt: time.Now(), UpdatedBy: "t:writer", Latest: true, ProvJSON: json.RawMessage(`{"entity":{}}`)}
	s, h := mustServer(t, fakeRegistry{create: func(registry.Kind, []byte, registry.Actor, string) (registry.Record, error) {
		return created, nil
	}}, fakeHealth{})
	d := mustDocumentSchemas(t, s, nil)
	paths := d.doc["paths"].(map[string]map[string]any)
	tests := []struct {
		method, path, template, token, body string
		want                                int
	}{
		{"GET", "/healthz", "/healthz", "", "", 200},
		{"GET", "/readyz", "/readyz", "", "", 200},
		{"GET", "/api/v1/schemas", "/api/v1/schemas", readerToken, "", 200},
		{"POST", "/api/v1/studies", "/api/v1/studies", writerToken, `{"title":"t","description":"d"}`, 201},
		{"GET", "/api/v1/studies", "/api/v1/studies", readerToken, "", 200},
		{"GET", "/api/v1/studies?page_size=0", "/api/v1/studies", readerToken, "", 400},
		{"GET", "/api/v1/studies/x/01J0000000000000000000000A", "/api/v1/studies/{id}", readerToken, "", 404},
		{"GET", "/api/v1/studies/x/01J0000000000000000000000A?version=x", "/api/v1/studies/{id}", readerToken, "", 400},
		{"GET", "/api/v1/studies/x/01J0000000000000000000000A?version=", "/api/v1/studies/{id}", readerToken, "", 400},
		{"GET", "/api/v1/studies/x/01J0000000000000000000000A?version=&version=2", "/api/v1/studies/{id}", readerToken, "", 400},
		{"GET", "/api/v1/studies/x/01J0000000000000000000000A/history", "/api/v1/studies/{id}/history", readerToken, "", 404},
		{"PUT", "/api/v1/studies/x/01J0000000000000000000000A?reason=r", "/api/v1/studies/{id}", writerToken, `{"title":"t","description":"d"}`, 503},
		{"DELETE", "/api/v1/studies/x/01J0000000000000000000000A", "/api/v1/studies/{id}", writerToken, "", 409},
		{"POST", "/api/v1/studies", "/api/v1/studies", readerToken, `{}`, 403},
		{"POST", "/api/v1/studies", "/api/v1/studies", "", `{}`, 401},
		{"POST", "/api/v1/studies", "/api/v1/studies", writerToken, strings.Repeat(" ", 4096), 413},
	}
	for _, tc := range tests {
		w := do(h, tc.method, tc.path, tc.token, tc.body)
		if w.Code != tc.want {
			t.Errorf("%s %s: status %d, want %d: %s", tc.method, tc.path, w.Code, tc.want, w.Body)
			continue
		}
		op, ok := paths[tc.template][strings.ToLower(tc.method)].(map[string]any)
		if !ok {
			t.Fatalf("no operation %s %s", tc.method, tc.template)
		}
		resp, ok := op["responses"].(map[string]any)[fmt.Sprint(w.Code)].(map[string]any)
		if !ok {
			t.Errorf("%s %s: status %d is not documented", tc.method, tc.path, w.Code)
			continue
		}
		ref := resp["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)["$ref"].(string)
		if err := d.validate(strings.TrimPrefix(ref, "#/components/schemas/"), w.Body.Bytes()); err != nil {
			t.Errorf("%s %s (%d): %v\n%s", tc.method, tc.path, w.Code, err, w.Body)
		}
	}
}

// TestExamplesAreValid validates every request example in the document against the
// schema of its body, and checks that every body of the native API has one.
func TestExamplesAreValid(t *testing.T) {
	s, _ := mustServer(t, fakeRegistry{}, fakeHealth{})
	inline := map[string]any{}
	type example struct {
		op     string
		schema string
		value  any
	}
	var examples []example
	doc := s.OpenAPI()
	for p, ops := range doc["paths"].(map[string]map[string]any) {
		for method, o := range ops {
			op := o.(map[string]any)
			body, ok := op["requestBody"].(map[string]any)
			if !ok {
				continue
			}
			for mt, m := range body["content"].(map[string]any) {
				media := m.(map[string]any)
				ex, has := media["example"]
				if !has {
					if mt == "application/json" {
						t.Errorf("%s %s: no example body", method, p)
					}
					continue
				}
				if mt != "application/json" {
					continue
				}
				name := "example_" + op["operationId"].(string)
				inline[name] = media["schema"]
				examples = append(examples, example{method + " " + p, name, ex})
			}
		}
	}
	d := mustDocumentSchemas(t, s, inline)
	for _, ex := range examples {
		b, _ := json.Marshal(ex.value)
		if err := d.validate(ex.schema, b); err != nil {
			t.Errorf("%s: example does not fit: %v\n%s", ex.op, err, b)
		}
	}
	if len(examples) < 20 {
		t.Fatalf("only %d examples", len(examples))
	}
}

// TestEveryOperationDocumentsItsAnswers: a success with a body has a schema, every
// operation with an id links from its creator, and no native error lacks the Error body.
func TestEveryOperationDocumentsItsAnswers(t *testing.T) {
	s, _ := mustServer(t, fakeRegistry{}, fakeHealth{})
	doc := s.OpenAPI()
	paths := doc["paths"].(map[string]map[string]any)
	for p, ops := range paths {
		for method, o := range ops {
			op := o.(map[string]any)
			for code, r := range op["responses"].(map[string]any) {
				resp := r.(map[string]any)
				content, has := resp["content"].(map[string]any)
				if !has {
					if code != "204" && !(code == "303" && method == "post") {
						t.Errorf("%s %s %s: no body described", method, p, code)
					}
					continue
				}
				for mt, m := range content {
					if _, ok := m.(map[string]any)["schema"]; !ok {
						t.Errorf("%s %s %s %s: no schema", method, p, code, mt)
					}
				}
			}
		}
	}
	// Creating a run links to claiming, completing and cancelling it.
	links := paths["/api/v1/runs"]["post"].(map[string]any)["responses"].(map[string]any)["201"].(map[string]any)["links"].(map[string]any)
	for _, want := range []string{"post_api_v1_runs_id_claim", "post_api_v1_runs_id_complete", "post_api_v1_runs_id_cancel", "get_api_v1_runs_id", "delete_api_v1_runs_id"} {
		if _, ok := links[want]; !ok {
			t.Errorf("run create does not link to %s: %v", want, links)
		}
	}
	links = paths["/api/v1/datasets"]["post"].(map[string]any)["responses"].(map[string]any)["201"].(map[string]any)["links"].(map[string]any)
	for _, want := range []string{"get_api_v1_datasets_id", "put_api_v1_datasets_id", "delete_api_v1_datasets_id", "get_api_v1_prov_id", "get_api_v1_lineage_id"} {
		if _, ok := links[want]; !ok {
			t.Errorf("dataset create does not link to %s", want)
		}
	}
	// The lineage answers are JSON objects in JSON, text otherwise.
	ok := paths["/api/v1/lineage/{id}"]["get"].(map[string]any)["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)
	if ref := ok["application/json"].(map[string]any)["schema"].(map[string]any)["$ref"]; ref != "#/components/schemas/Lineage" {
		t.Errorf("lineage JSON schema: %v", ref)
	}
	// Provena's route answers in Provena's shapes.
	pr := paths["/model_run/register_complete"]["post"].(map[string]any)["responses"].(map[string]any)
	if ref := pr["422"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)["$ref"]; ref != "#/components/schemas/ProvenaValidationError" {
		t.Errorf("provena 422: %v", ref)
	}
	_ = http.StatusOK
}
