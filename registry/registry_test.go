package registry

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"provgraph"
)

func mustKind(t testing.TB, route string) Kind {
	t.Helper()
	k, ok := KindByRoute(route)
	if !ok {
		t.Fatalf("no kind %s", route)
	}
	return k
}

func mustDecode(t testing.TB, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber() // as schemas.Set.Decode
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestReferences(t *testing.T) {
	k := mustKind(t, "workflow-templates")
	doc := mustDecode(t, `{"software_id":"m","input_templates":[{"template_id":"a"},{"template_id":"b"}],"output_templates":[{"template_id":"c"}]}`)
	var got []string
	for _, r := range k.References(doc) {
		got = append(got, r.Pointer+"="+r.ID+":"+r.Kind+":"+r.Role)
	}
	want := "/software_id=m:Model:software,/input_templates/0/template_id=a:DatasetTemplate:input_template,/input_templates/1/template_id=b:DatasetTemplate:input_template,/output_templates/0/template_id=c:DatasetTemplate:output_template"
	if strings.Join(got, ",") != want {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, ","), want)
	}
}

func TestKindRules(t *testing.T) {
	tests := []struct {
		name, route, doc string
		want             []string
	}{
		{"unique deferred keys", "dataset-templates", `{"deferred_resources":[{"key":"a"},{"key":"b"},{"key":"a"}]}`, []string{"/deferred_resources/2/key"}},
		{"unique defined paths", "dataset-templates", `{"defined_resources":[{"path":"x"},{"path":"x"}]}`, []string{"/defined_resources/1/path"}},
		{"annotation keys unique across sides", "workflow-templates", `{"annotations":{"required":["a","b"],"optional":["c","a"]}}`, []string{"/annotations/optional/1"}},
		{"a template once per side", "workflow-templates", `{"input_templates":[{"template_id":"t"},{"template_id":"t"}],"output_templates":[{"template_id":"t"}]}`, []string{"/input_templates/1/template_id"}},
		{"no rules for people", "people", `{"display_name":"x"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range mustKind(t, tt.route).Check(mustDecode(t, tt.doc)) {
				got = append(got, e.Path)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEveryKindIsComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Kinds() {
		if k.Name == "" || k.Route == "" || k.Label == "" || k.NameField == "" || k.Class == "" {
			t.Errorf("incomplete kind %+v", k)
		}
		if seen[k.Route] || seen[k.Label] {
			t.Errorf("duplicate %s", k.Route)
		}
		seen[k.Route], seen[k.Label] = true, true
		if got := k.Labels(); got[0] != "Record" || got[1] != k.Label || got[2] != string(k.Class) {
			t.Errorf("labels %v", got)
		}
	}
}

func TestIDs(t *testing.T) {
	g := NewIDs("10378.1")
	now := time.Now()
	a, b := g.New(now), g.New(now)
	if !strings.HasPrefix(a, "10378.1/") || a >= b {
		t.Fatalf("ids %s %s not prefixed and increasing", a, b)
	}
	for _, tt := range []struct {
		id   string
		want bool
	}{
		{a, true}, {NewIDs("").New(now), true}, {"10378.1/x", false}, {"a b/" + a[8:], false},
		{"../" + a[8:], true /* dots are allowed in prefixes; ids never reach a filesystem */}, {"", false},
		{"x/" + strings.Repeat("Z", 26), false},
	} {
		if got := ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestListQuery(t *testing.T) {
	k := mustKind(t, "datasets")
	tests := []struct {
		name   string
		params map[string][]string
		fields []string
	}{
		{"defaults", map[string][]string{}, nil},
		{"all good", map[string][]string{"name": {"x"}, "sort": {"name desc"}, "page_size": {"10"}, "keyword": {"reef"}}, nil},
		{"bad everything", map[string][]string{"sort": {"colour"}, "page_size": {"1001"}, "nope": {"1"}, "name": {"a", "b"}}, []string{"name", "nope", "page_size", "sort"}},
		{"bad direction", map[string][]string{"sort": {"name sideways"}}, []string{"sort"}},
		{"forged token", map[string][]string{"page_token": {"bm90IGEgdG9rZW4"}}, []string{"page_token"}},
		{"token of another kind", map[string][]string{"page_token": {mustKind(t, "people").listToken(t)}}, []string{"page_token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseListQuery(k, tt.params)
			var got []string
			if e, ok := err.(*provgraph.Error); ok {
				if e.Status != 400 {
					t.Fatalf("status %d", e.Status)
				}
				for _, f := range e.Fields {
					got = append(got, f.Path)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != strings.Join(tt.fields, ",") {
				t.Fatalf("got %v, want %v", got, tt.fields)
			}
		})
	}
	q, _ := ParseListQuery(k, map[string][]string{"keyword": {"reef"}})
	tok := q.NextToken(Record{ID: "x/1", CreatedAt: time.Unix(5, 0)})
	q2, err := ParseListQuery(k, map[string][]string{"keyword": {"reef"}, "page_token": {tok}})
	if err != nil || q2.After == nil || q2.After.ID != "x/1" {
		t.Fatalf("round trip: %v %+v", err, q2.After)
	}
	if _, err := ParseListQuery(k, map[string][]string{"keyword": {"coral"}, "page_token": {tok}}); provgraph.ErrorCode(err) != provgraph.Invalid {
		t.Fatalf("token reused with another filter: %v", err)
	}
	// A token whose time was tampered with is refused, not passed to the database.
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	bad := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(raw), "1970", "nope", 1)))
	if _, err := ParseListQuery(k, map[string][]string{"keyword": {"reef"}, "page_token": {bad}}); provgraph.ErrorCode(err) != provgraph.Invalid {
		t.Fatalf("tampered token: %v", err)
	}
}

func (k Kind) listToken(t testing.TB) string {
	q, err := ParseListQuery(k, map[string][]string{})
	if err != nil {
		t.Fatal(err)
	}
	return q.NextToken(Record{ID: "x/1", CreatedAt: time.Unix(5, 0)})
}

func FuzzParseListQuery(f *testing.F) {
	k, _ := KindByRoute("datasets")
	f.Add("name", "x", "sort", "name desc")
	f.Add("page_token", "eyJmIjoiIiwidiI6IngiLCJpIjoieSJ9", "page_size", "7")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		q, err := ParseListQuery(k, map[string][]string{k1: {v1}, k2: {v2}})
		if err != nil {
			if provgraph.ErrorCode(err) != provgraph.Invalid {
				t.Fatalf("non-invalid error %v", err)
			}
			return
		}
		if q.PageSize < 1 || q.PageSize > MaxPageSize {
			t.Fatalf("page size %d", q.PageSize)
		}
		for p := range q.Filters {
			if _, ok := k.FilterByParam(p); !ok {
				t.Fatalf("unknown filter %q accepted", p)
			}
		}
	})
}

func FuzzValidID(f *testing.F) {
	f.Add("local/01JD3Z6W4M2X3Q5V7B9N1C8K0E")
	f.Add("x'})--/01JD3Z6W4M2X3Q5V7B9N1C8K0E")
	f.Fuzz(func(t *testing.T, s string) {
		if ValidID(s) && strings.ContainsAny(s, "'\"`{} \x00\n\\") {
			t.Fatalf("accepted %q", s)
		}
	})
}
