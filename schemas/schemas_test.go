package schemas

import (
	"encoding/json"
	"testing"

	"provgraph"
)

func MustLoad(t testing.TB) *Set {
	t.Helper()
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestValidate(t *testing.T) {
	s := MustLoad(t)
	tests := []struct {
		name   string
		schema string
		doc    string
		want   []provgraph.FieldError
	}{
		{"valid person", "person", `{"display_name":"Ada","first_name":"Ada","last_name":"Lovelace","email":"ada@example.org"}`, nil},
		{"every violation at once", "person", `{"display_name":"","first_name":7,"email":"nope","extra":true,"orcid":"0000"}`, []provgraph.FieldError{
			{Path: "/display_name"}, {Path: "/display_name"}, {Path: "/email"}, {Path: "/extra"}, {Path: "/first_name"}, {Path: "/last_name"}, {Path: "/orcid"},
		}},
		{"nested pointer", "workflow-template", `{"display_name":"w","software_id":"x/01J0000000000000000000000A","input_templates":[{"template_id":"a"},{"optional":"yes"}]}`, []provgraph.FieldError{
			{Path: "/input_templates/1/optional"}, {Path: "/input_templates/1/template_id"},
		}},
		{"not json", "study", `{"title":`, []provgraph.FieldError{{Path: ""}}},
		{"duplicate key", "study", `{"title":"a","description":"b","title":"c"}`, []provgraph.FieldError{{Path: "/title"}}},
		{"whitespace name", "study", `{"title":"   ","description":"b"}`, []provgraph.FieldError{{Path: "/title"}}},
		{"bad usage type", "dataset-template", `{"display_name":"t","deferred_resources":[{"key":"k","usage_type":"OTHER"}]}`, []provgraph.FieldError{{Path: "/deferred_resources/0/usage_type"}}},
		{"bad date and uri", "dataset", `{"display_name":"d","name":"d","description":"d","location":"not a uri","license":"https://l","publisher_id":"o","created_date":"2024-13-01","published_date":"2024-01-01"}`, []provgraph.FieldError{{Path: "/created_date"}, {Path: "/location"}}},
		{"unknown schema", "nope", `{}`, []provgraph.FieldError{{Path: ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.Validate(tt.schema, []byte(tt.doc))
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors %+v, want %d %+v", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				if got[i].Path != tt.want[i].Path {
					t.Errorf("error %d at %q, want %q (%s)", i, got[i].Path, tt.want[i].Path, got[i].Message)
				}
				if got[i].Message == "" {
					t.Errorf("error %d has no message", i)
				}
			}
		})
	}
}

func TestEverySchemaServed(t *testing.T) {
	s := MustLoad(t)
	want := []string{"dataset", "dataset-template", "model", "model-run", "organisation", "person", "run", "study", "workflow-template"}
	got := s.Names()
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
		if b, ok := s.Raw(want[i]); !ok || len(b) == 0 {
			t.Errorf("schema %s not served", want[i])
		}
	}
}

func FuzzValidate(f *testing.F) {
	s := MustLoad(f)
	f.Add("person", `{"display_name":"a"}`)
	f.Add("dataset-template", `{"display_name":"t","deferred_resources":[{"key":"k","usage_type":"OTHER"}]}`)
	f.Add("study", `{"a":{"a":1,"a":2}}`)
	f.Fuzz(func(t *testing.T, name, doc string) {
		for _, e := range s.Validate(name, []byte(doc)) {
			if e.Message == "" {
				t.Fatalf("violation without message at %q", e.Path)
			}
		}
	})
}

func TestDuplicateKeyPointsAtTheRepeat(t *testing.T) {
	for doc, want := range map[string]string{
		`{"a":1,"a":2}`:                             "/a",
		`{"inputs":[{"x":1},{"y":1,"y":2}]}`:        "/inputs/1/y",
		`{"a/b":{"c~d":{"e":1,"e":2}}}`:             "/a~1b/c~0d/e",
		`{"a":[[{"k":1}],[{"k":1},{"k":1,"k":0}]]}`: "/a/1/1/k",
		`{"a":{"b":1},"c":{"b":1}}`:                 "",
		`[{"a":1},{"a":1}]`:                         "",
	} {
		got, dup := DuplicateKey([]byte(doc))
		if got != want || dup != (want != "") {
			t.Errorf("%s: %q %v, want %q", doc, got, dup, want)
		}
	}
}

// Decode answers the document it checked, numbers exact, so callers parse it once.
func TestDecodeAnswersTheDocument(t *testing.T) {
	s := MustLoad(t)
	doc, errs := s.Decode("run", []byte(`{"name":"n","parameters":{"seed":12345678901234567}}`))
	if n, ok := doc["parameters"].(map[string]any)["seed"].(json.Number); len(errs) > 0 || doc["name"] != "n" || !ok || n.String() != "12345678901234567" {
		t.Fatalf("%v %v", doc, errs)
	}
	if doc, errs := s.Decode("study", []byte(`{"title":""}`)); doc != nil || len(errs) == 0 {
		t.Fatalf("an invalid document decoded: %v", doc)
	}
}
