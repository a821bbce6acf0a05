package kfp

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"provgraph"
	"provgraph/runs"
)

// KFP's statuses, as the SDK's wait loop needs them: a terminated run reads Failed.
func TestStatusesAreKFPs(t *testing.T) {
	want := map[runs.State]string{runs.Pending: "Pending", runs.Running: "Running", runs.Canceling: "Terminating",
		runs.Succeeded: "Succeeded", runs.Failed: "Failed", runs.Errored: "Error", runs.Canceled: "Failed"}
	for _, s := range runs.States() {
		if got := Status(s); got != want[s] {
			t.Errorf("%s reads %q, want %q", s, got, want[s])
		}
		// kfp.Client.wait_for_run_completion stops on these, lower-cased.
		ended := map[string]bool{"succeeded": true, "failed": true, "skipped": true, "error": true}[strings.ToLower(Status(s))]
		if ended != s.Terminal() {
			t.Errorf("%s: the SDK's wait loop would stop=%t on %q", s, ended, Status(s))
		}
	}
	for in, want := range map[string]runs.State{"Terminated": runs.Canceled, "Skipped": runs.Succeeded, "Terminating": runs.Canceling} {
		if got, ok := StateOf(in); !ok || got != want {
			t.Errorf("%q reads as %s, want %s", in, got, want)
		}
	}
}

func mustFilter(t *testing.T, s string, f Fields) Filter {
	t.Helper()
	got, err := ParseFilter(s, f)
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return got
}

// The SDK's spelling (numeric op, camelCase value) and protobuf's read the same.
func TestFilterSpellingsReadTheSame(t *testing.T) {
	pairs := [][2]string{
		{`{"predicates":[{"op":1,"key":"name","stringValue":"x"}]}`, `{"predicates":[{"op":"EQUALS","key":"name","string_value":"x"}]}`},
		{`{"predicates":[{"op":8,"key":"name","stringValues":{"values":["a","b"]}}]}`, `{"predicates":[{"op":"IN","key":"name","string_values":{"values":["a","b"]}}]}`},
		{`{"predicates":[{"op":9,"key":"name","stringValue":"x"}]}`, `{"predicates":[{"op":"IS_SUBSTRING","key":"name","string_value":"x"}]}`},
		{`{"predicates":[{"op":"2","key":"storage_state","intValue":1}]}`, `{"predicates":[{"op":"NOT_EQUALS","key":"storage_state","string_value":"STORAGESTATE_ARCHIVED"}]}`},
		{`{"predicates":[{"op":3,"key":"created_at","longValue":"86400"}]}`, `{"predicates":[{"op":"GREATER_THAN","key":"created_at","timestamp_value":"1970-01-02T00:00:00Z"}]}`},
		{`{"predicates":[{"op":"IN","key":"created_at","long_values":{"values":[1,"2"]}}]}`, `{"predicates":[{"op":8,"key":"created_at","longValues":{"values":["1",2]}}]}`},
	}
	for _, p := range pairs {
		a, b := mustFilter(t, p[0], RunFields), mustFilter(t, p[1], RunFields)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s reads %+v\n%s reads %+v", p[0], a, p[1], b)
		}
	}
	if f := mustFilter(t, "", RunFields); len(f.Predicates) != 0 {
		t.Error("an empty filter filters")
	}
}

func TestBadFiltersAreRefusedWith400(t *testing.T) {
	for _, s := range []string{
		`{not json`, `[]`, `{"predicates":[{"op":1,"key":"name","string_value":"x"}]} {}`, `{"predicate":[]}`,
		`{"predicates":[{"key":"name","string_value":"x"}]}`,                                // no op
		`{"predicates":[{"op":4,"key":"name","string_value":"x"}]}`,                         // there is no 4
		`{"predicates":[{"op":"LIKE","key":"name","string_value":"x"}]}`,                    // no such op
		`{"predicates":[{"op":1,"key":"colour","string_value":"x"}]}`,                       // no such field
		`{"predicates":[{"op":1,"key":"name"}]}`,                                            // no value
		`{"predicates":[{"op":1,"key":"name","string_value":"x","int_value":1}]}`,           // two values
		`{"predicates":[{"op":"IN","key":"name","string_value":"x"}]}`,                      // IN takes a list
		`{"predicates":[{"op":"EQUALS","key":"name","string_values":{"values":["x"]}}]}`,    // only IN does
		`{"predicates":[{"op":"IS_SUBSTRING","key":"created_at","long_value":1}]}`,          // substring of a string
		`{"predicates":[{"op":"EQUALS","key":"name","int_value":1}]}`,                       // text against a number
		`{"predicates":[{"op":"EQUALS","key":"created_at","string_value":"x"}]}`,            // a time against text
		`{"predicates":[{"op":"EQUALS","key":"created_at","timestamp_value":"yesterday"}]}`, // not RFC 3339
		`{"predicates":[{"op":"EQUALS","key":"storage_state","string_value":"GONE"}]}`,      // no such state
		`{"predicates":[{"op":"EQUALS","key":"storage_state","int_value":7}]}`,              // no such number
		`{"predicates":[{"op":"EQUALS","key":"created_at","long_value":"1.5"}]}`,            // not whole
		`{"predicates":[{"op":1,"key":"name","string_value":"x","colour":"red"}]}`,          // unknown field
		`{"predicates":[` + strings.Repeat(`{"op":1,"key":"name","string_value":"x"},`, 40) + `{"op":1,"key":"name","string_value":"x"}]}`,
	} {
		_, err := ParseFilter(s, RunFields)
		var e *provgraph.Error
		if err == nil || !asErr(err, &e) || e.Status != 400 {
			t.Errorf("%s: %v", s, err)
		}
	}
}

func asErr(err error, e **provgraph.Error) bool {
	x, ok := err.(*provgraph.Error)
	*e = x
	return ok
}

func row(id, name, storage string, created time.Time) Row {
	return Row{ID: id, Text: map[string]string{"id": id, "name": name, "storage_state": storage, "status": "Pending"},
		Times: map[string]time.Time{"created_at": created, "finished_at": time.Unix(0, 0)}}
}

func TestFiltersMatch(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	r := row("a/1", "Train-Big", RunArchived, t0)
	for s, want := range map[string]bool{
		`{"predicates":[{"op":1,"key":"name","stringValue":"Train-Big"}]}`:                                                true,
		`{"predicates":[{"op":1,"key":"name","stringValue":"train-big"}]}`:                                                false,
		`{"predicates":[{"op":2,"key":"name","stringValue":"x"}]}`:                                                        true,
		`{"predicates":[{"op":9,"key":"name","stringValue":"in-b"}]}`:                                                     true,
		`{"predicates":[{"op":9,"key":"name","stringValue":"zz"}]}`:                                                       false,
		`{"predicates":[{"op":8,"key":"name","stringValues":{"values":["x","Train-Big"]}}]}`:                              true,
		`{"predicates":[{"op":"NOT_EQUALS","key":"storage_state","string_value":"STORAGESTATE_ARCHIVED"}]}`:               false,
		`{"predicates":[{"op":"EQUALS","key":"storage_state","int_value":1}]}`:                                            true,
		`{"predicates":[{"op":"EQUALS","key":"created_at","timestamp_value":"2026-01-02T03:04:05Z"}]}`:                    true, // whole seconds
		`{"predicates":[{"op":"GREATER_THAN","key":"created_at","timestamp_value":"2026-01-02T03:04:05Z"}]}`:              false,
		`{"predicates":[{"op":"LESS_THAN_EQUALS","key":"finished_at","long_value":0}]}`:                                   true,
		`{"predicates":[{"op":1,"key":"name","stringValue":"Train-Big"},{"op":1,"key":"status","stringValue":"Failed"}]}`: false,
	} {
		if got := mustFilter(t, s, RunFields).Match(r); got != want {
			t.Errorf("%s: %t, want %t", s, got, want)
		}
	}
}

func TestFilterNarrowsTheNativeQuery(t *testing.T) {
	f := mustFilter(t, `{"predicates":[{"op":"NOT_EQUALS","key":"storage_state","string_value":"STORAGESTATE_ARCHIVED"},{"op":1,"key":"name","stringValue":"x"}]}`, RunFields)
	if f.Archived() != "false" || f.NameHint() != "x" {
		t.Errorf("archived %q, name %q", f.Archived(), f.NameHint())
	}
	if f := mustFilter(t, `{"predicates":[{"op":"EQUALS","key":"storage_state","int_value":1}]}`, RunFields); f.Archived() != "true" {
		t.Errorf("archived only: %q", f.Archived())
	}
	if f := mustFilter(t, `{"predicates":[{"op":"NOT_EQUALS","key":"name","string_value":"x"}]}`, RunFields); f.Archived() != "any" || f.NameHint() != "" {
		t.Errorf("no narrowing: %q %q", f.Archived(), f.NameHint())
	}
}

func TestSortAndPageSize(t *testing.T) {
	for in, want := range map[string]Sort{"": {Field: "created_at"}, "name": {Field: "name"}, "name asc": {Field: "name"},
		"finished_at desc": {Field: "finished_at", Desc: true}, " id  DESC ": {Field: "id", Desc: true}} {
		if got, err := ParseSort(in, RunFields); err != nil || got != want {
			t.Errorf("%q: %+v %v", in, got, err)
		}
	}
	for _, bad := range []string{"colour", "name up", "name asc extra", "status,name"} {
		if _, err := ParseSort(bad, RunFields); err == nil {
			t.Errorf("%q sorts", bad)
		}
	}
	if _, err := ParseSort("status", ExperimentFields); err == nil {
		t.Error("experiments sort by status")
	}
	for in, want := range map[string]int{"": 20, "0": 20, "1": 1, "200": 200, "201": 200, "100000": 200} {
		if got, err := ParsePageSize(in); err != nil || got != want {
			t.Errorf("page_size %q: %d %v", in, got, err)
		}
	}
	for _, bad := range []string{"-1", "x", "1.5"} {
		if _, err := ParsePageSize(bad); err == nil {
			t.Errorf("page_size %q accepted", bad)
		}
	}
}

func keyed(k string) Tokens { return Tokens{Key: func() []byte { return []byte(k) }} }

// Five rows by two: three pages, a token on the first two, total 5 on each; ties on the
// sort field are broken by id, so nothing repeats or is skipped, even when a row arrives
// between pages.
func TestPagesAndTokens(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var rows []Row
	for i, name := range []string{"c", "a", "b", "a", "e"} {
		rows = append(rows, row(fmt.Sprintf("p/%d", i), name, RunAvailable, t0.Add(time.Duration(i%2)*time.Second)))
	}
	tk := keyed("k1")
	for _, sort := range []Sort{{Field: "created_at"}, {Field: "name", Desc: true}, {Field: "id"}} {
		q := Query{List: "runs", Scope: "s/1", Sort: sort}
		var got []string
		token := ""
		var tokens []string
		for page := 0; ; page++ {
			p, err := tk.Page(q, rows, 2, token)
			if err != nil {
				t.Fatal(err)
			}
			if p.Total != len(rows) {
				t.Errorf("%v: total %d of %d", sort, p.Total, len(rows))
			}
			for _, r := range p.Rows {
				got = append(got, r.ID)
			}
			if p.Next == "" {
				break
			}
			tokens = append(tokens, p.Next)
			token = p.Next
			if page == 0 {
				rows = append(rows, row("p/9", "zz", RunAvailable, t0.Add(-time.Hour))) // sorts before the cursor everywhere but name desc
			}
		}
		rows = rows[:5]
		if len(tokens) != 2 || len(got) != 5 && len(got) != 6 {
			t.Errorf("%v: %d tokens, %v", sort, len(tokens), got)
		}
		seen := map[string]bool{}
		for _, id := range got {
			if seen[id] {
				t.Errorf("%v: %s repeats in %v", sort, id, got)
			}
			seen[id] = true
		}
		for i := range 5 {
			if !seen[fmt.Sprintf("p/%d", i)] {
				t.Errorf("%v: p/%d skipped in %v", sort, i, got)
			}
		}
		// The token is refused with another sort, scope or filter, altered, or signed by another key.
		first := tokens[0]
		for name, fn := range map[string]func() error{
			"other sort": func() error {
				_, err := tk.Page(Query{List: "runs", Scope: "s/1", Sort: Sort{Field: "description"}}, rows, 2, first)
				return err
			},
			"other scope": func() error {
				_, err := tk.Page(Query{List: "runs", Scope: "s/2", Sort: sort}, rows, 2, first)
				return err
			},
			"other filter": func() error {
				_, err := tk.Page(Query{List: "runs", Scope: "s/1", Sort: sort, Filter: mustFilter(t, `{"predicates":[{"op":2,"key":"name","stringValue":"q"}]}`, RunFields)}, rows, 2, first)
				return err
			},
			"other list": func() error {
				_, err := tk.Page(Query{List: "experiments", Scope: "s/1", Sort: sort}, rows, 2, first)
				return err
			},
			"altered":   func() error { _, err := tk.Page(q, rows, 2, "x"+first[1:]); return err },
			"other key": func() error { _, err := keyed("k2").Page(q, rows, 2, first); return err },
			"garbage":   func() error { _, err := tk.Page(q, rows, 2, "not-a-token"); return err },
		} {
			if err := fn(); provgraph.ErrorCode(err) != provgraph.Invalid {
				t.Errorf("%v: a token used with %s: %v", sort, name, err)
			}
		}
		// A page size may change between pages.
		if p, err := tk.Page(q, rows, 10, first); err != nil || len(p.Rows) != 3 {
			t.Errorf("%v: a larger page after the first: %v %v", sort, p.Rows, err)
		}
	}
}

// What the client validates ApiReadArtifactResponse.data against.
var clientBase64 = regexp.MustCompile(`^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$`)

func TestArtifactsAreStandardPaddedBase64(t *testing.T) {
	for n := range 8 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(0xfb + i) // bytes URL-safe base64 would write differently
		}
		if s := Base64.EncodeToString(b); !clientBase64.MatchString(s) {
			t.Errorf("%d bytes: %q is not what the client reads", n, s)
		}
	}
}

func TestReadRun(t *testing.T) {
	good := `{"name":"r","pipeline_spec":{"workflow_manifest":"{\"metadata\":{\"generateName\":\"train-\"}}","parameters":[{"name":"b","value":"1"},{"name":"a","value":"2"}]},
		"resource_references":[{"key":{"type":"EXPERIMENT","id":"p/01J"},"relationship":"OWNER"},{"key":{"type":4,"id":"v1"},"relationship":2}],"service_account":"sa"}`
	c, err := ReadRun([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Experiment != "p/01J" || len(c.Stored.References) != 1 || c.Stored.References[0].Key.Type != "PIPELINE_VERSION" || c.Stored.References[0].Relationship != "CREATOR" {
		t.Errorf("%+v", c)
	}
	raw, err := c.Native("p/01J", "exp")
	if err != nil {
		t.Fatal(err)
	}
	var spec runs.RunSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	if spec.Name != "r" || spec.StudyID != "p/01J" || spec.Kind != "pipeline" || spec.Parameters["a"] != "2" || spec.Ref.Pipeline.Name != "train" {
		t.Errorf("native spec: %s", raw)
	}
	// What the client sent comes back as sent: parameter order and manifest included.
	got := ToRun(runs.Run{ID: "p/02", Name: "r", State: runs.Canceled, StudyID: "p/01J", Spec: raw, Message: "stop", Archived: true,
		CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 500, time.UTC)}, ExperimentName(runs.Run{Spec: raw}), []runs.Metric{{Name: "acc", NodeID: "n", Value: 0.5, Format: "PERCENTAGE"}, {Name: "l", NodeID: "n"}})
	var ps PipelineSpec
	_ = json.Unmarshal(got.PipelineSpec, &ps)
	if ps.Parameters[0].Name != "b" || ps.WorkflowManifest != `{"metadata":{"generateName":"train-"}}` {
		t.Errorf("pipeline_spec: %s", got.PipelineSpec)
	}
	if got.Status != "Failed" || got.Error != "stop" || got.StorageState != RunArchived || got.CreatedAt != "2026-01-01T00:00:00Z" || got.FinishedAt != Unset {
		t.Errorf("run: %+v", got)
	}
	wantRefs := []ResourceReference{{Key: ResourceKey{"EXPERIMENT", "p/01J"}, Name: "exp", Relationship: "OWNER"}, {Key: ResourceKey{"PIPELINE_VERSION", "v1"}, Relationship: "CREATOR"}}
	if !reflect.DeepEqual(got.ResourceReferences, wantRefs) || got.ServiceAccount != "sa" {
		t.Errorf("references: %+v", got.ResourceReferences)
	}
	if got.Metrics[0].Format != "PERCENTAGE" || got.Metrics[1].Format != "UNSPECIFIED" || *got.Metrics[1].NumberValue != 0 {
		t.Errorf("metrics: %+v", got.Metrics)
	}
	for _, bad := range []string{``, `[]`, `{"name":""}`, `{"name":"r"}`, `{"name":"r","pipeline_spec":{}}`, `{"name":"r","pipeline_spec":"x"}`,
		`{"name":"r","pipeline_spec":{"pipeline_id":"p","parameters":[{"name":"a"},{"name":"a"}]}}`,
		`{"name":"r","pipeline_spec":{"pipeline_id":"p","parameters":[{"value":"a"}]}}`,
		`{"name":"r","pipeline_spec":{"pipeline_id":"p"},"resource_references":[{"key":{"type":"EXPERIMENT","id":"a"}},{"key":{"type":1,"id":"b"}}]}`,
		`{"name":"r","pipeline_spec":{"pipeline_id":"p"},"resource_references":[{"key":{"type":"EXPERIMENT"}}]}`,
		`{"name":"r","pipeline_spec":{"pipeline_id":"p"},"resource_references":[{"key":{"type":"GALAXY","id":"a"}}]}`,
	} {
		if _, err := ReadRun([]byte(bad)); provgraph.ErrorCode(err) != provgraph.Invalid {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestCheckMetric(t *testing.T) {
	v := 1.0
	for _, m := range []MetricIn{
		{Name: "9lives", NodeID: "n", NumberValue: &v}, {Name: "a-", NodeID: "n", NumberValue: &v}, {Name: strings.Repeat("a", 65), NodeID: "n", NumberValue: &v},
		{Name: "acc", NodeID: "", NumberValue: &v}, {Name: "acc", NodeID: strings.Repeat("n", 129), NumberValue: &v},
		{Name: "acc", NodeID: "n"}, {Name: "acc", NodeID: "n", NumberValue: &v, Format: json.RawMessage(`"PERMILLE"`)},
	} {
		if _, msg := CheckMetric(m); msg == "" {
			t.Errorf("%+v passes", m)
		}
	}
	for f, want := range map[string]string{``: "", `"RAW"`: "RAW", `2`: "PERCENTAGE", `"UNSPECIFIED"`: ""} {
		m, msg := CheckMetric(MetricIn{Name: "Acc_1-b", NodeID: strings.Repeat("n", 128), NumberValue: &v, Format: json.RawMessage(f)})
		if msg != "" || m.Format != want || runs.CheckMetric(m) != "" {
			t.Errorf("format %s: %+v %q", f, m, msg)
		}
	}
}

// Errors in grpc-gateway's shape: invalid input is 400, never 422.
func TestErrorsInGRPCShape(t *testing.T) {
	for _, c := range []struct {
		err          error
		status, code int
	}{
		{provgraph.InvalidFields("bad", []provgraph.FieldError{{Path: "/name", Message: "empty"}}), 400, 3},
		{provgraph.Errorf(provgraph.NotFound, "gone"), 404, 5},
		{provgraph.Errorf(provgraph.Conflict, "ended"), 409, 10},
		{provgraph.Errorf(provgraph.Unauthorized, "who"), 401, 16},
		{provgraph.Errorf(provgraph.Forbidden, "no"), 403, 7},
		{provgraph.Errorf(provgraph.Unavailable, "later"), 503, 14},
		{&wireError{409, 6, "taken"}, 409, 6},
		{fmt.Errorf("boom"), 500, 13},
	} {
		w := httptest.NewRecorder()
		Fail(w, httptest.NewRequest("GET", "/apis/v1beta1/runs", nil), c.err)
		var body ErrorBody
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != c.status || body.Code != c.code || body.Message == "" || body.Details == nil {
			t.Errorf("%v: %d %s", c.err, w.Code, w.Body)
		}
		if c.status == 500 && strings.Contains(w.Body.String(), "boom") {
			t.Error("an internal error's detail reached the client")
		}
	}
}

// The adapter translates: no Neo4j, no graph, no server.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "provgraph/compat/kfp").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"neo4j-go-driver", "provgraph/graph", "provgraph/server"} {
			if strings.Contains(dep, bad) {
				t.Errorf("compat/kfp depends on %s", dep)
			}
		}
	}
}

// Which lists the database sorts, pages and counts itself, and with which parameters.
func TestNativeList(t *testing.T) {
	hide := `{"op":"NOT_EQUALS","key":"storage_state","string_value":"STORAGESTATE_ARCHIVED"}`
	only := `{"op":1,"key":"storage_state","intValue":1}`
	for _, c := range []struct {
		filter, sort     string
		native, archived string
		ok               bool
	}{
		{"", "", "created_at", "any", true},
		{"", "name desc", "name desc", "any", true},
		{hide, "created_at desc", "created_at desc", "false", true},
		{only, "", "created_at", "true", true},
		{hide + "," + hide, "", "created_at", "false", true},
		{hide + "," + only, "", "", "", false}, // nothing passes
		{"", "id", "", "", false},
		{"", "status", "", "", false},
		{`{"op":1,"key":"name","stringValue":"x"}`, "", "", "", false},
		{`{"op":"IN","key":"storage_state","string_values":{"values":["STORAGESTATE_ARCHIVED"]}}`, "", "", "", false},
	} {
		f := mustFilter(t, `{"predicates":[`+c.filter+`]}`, RunFields)
		s, err := ParseSort(c.sort, RunFields)
		if err != nil {
			t.Fatal(err)
		}
		native, archived, ok := NativeList(f, s)
		if native != c.native || archived != c.archived || ok != c.ok {
			t.Errorf("%s sorted %q: %q %q %t", c.filter, c.sort, native, archived, ok)
		}
	}
}
