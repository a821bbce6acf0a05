package azureml

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"provgraph"
	"provgraph/runs"
)

// What the SDK sends to snapshotrun: PascalCase, the run configuration under Configuration.
const sdkDefinition = `{"TargetDetails": null, "Configuration": {"Script": "train.py", "Arguments": ["--alpha", 0.5, true],
 "Target": "cpu-cluster", "Framework": "Python", "Environment": {"Python": {"InterpreterPath": "/usr/bin/python3"}}},
 "TelemetryValues": {"amlClientType": "azureml-sdk-train"}, "SnapshotId": "5c1d", "ParentRunId": "exp_1_abcdef12"}`

func TestParseDefinitionReadsPascalAndCamelCase(t *testing.T) {
	for _, body := range []string{sdkDefinition, strings.NewReplacer(`"Configuration"`, `"configuration"`, `"Script"`, `"script"`,
		`"Arguments"`, `"arguments"`, `"SnapshotId"`, `"snapshotId"`, `"ParentRunId"`, `"parentRunId"`).Replace(sdkDefinition)} {
		d, err := ParseDefinition([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		want := Definition{Raw: json.RawMessage(body), Script: "train.py", Arguments: []string{"--alpha", "0.5", "true"}, Target: "cpu-cluster",
			Framework: "Python", SnapshotID: "5c1d", ParentRunID: "exp_1_abcdef12", Interpreter: "/usr/bin/python3"}
		if !reflect.DeepEqual(d, want) {
			t.Errorf("got %+v\nwant %+v", d, want)
		}
	}
}

func TestParseDefinitionRefusesWhatItCannotRun(t *testing.T) {
	for body, field := range map[string]string{
		``:                                       "definition",
		`[]`:                                     "definition",
		`{"SnapshotId": "x"}`:                    "Configuration",
		`{"Configuration": {"Script": 3}}`:       "Configuration.Script",
		`{"Configuration": {"Arguments": {}}}`:   "Configuration.Arguments",
		`{"Configuration": {"Arguments": [{}]}}`: "Configuration.Arguments[0]",
		`{"Configuration": {}, "ParentRunId": "a/b"}`: "ParentRunId",
	} {
		_, err := ParseDefinition([]byte(body))
		var e *provgraph.Error
		if !errorsAs(err, &e) || e.Code != provgraph.Invalid || len(e.Fields) != 1 || e.Fields[0].Path != field {
			t.Errorf("%s: got %v, want an invalid %s", body, err, field)
		}
	}
}

func errorsAs(err error, e **provgraph.Error) bool {
	x, ok := err.(*provgraph.Error)
	*e = x
	return ok
}

func TestRunSpecKeepsTheDefinitionAndFillsNativeFields(t *testing.T) {
	d, err := ParseDefinition([]byte(sdkDefinition))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := Submit{RunID: "exp_1700000000_0a1b2c3d", Experiment: "exp", StudyID: "p/S1", Workspace: "s/r/w", Kind: "job", Def: d,
		Project: &Blob{SHA256: "ab", Size: 3, Name: "project.zip"}}.RunSpec()
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Name     string
		Kind     string
		StudyID  string `json:"study_id"`
		Tags     map[string]string
		Ref      map[string]string
		Executor struct {
			Command, Args []string
		}
		Foreign struct{ AzureML Foreign }
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	if spec.Name != "exp_1700000000_0a1b2c3d" || spec.Kind != "job" || spec.StudyID != "p/S1" || spec.Ref["snapshot_id"] != "5c1d" {
		t.Errorf("native fields: %s", raw)
	}
	wantTags := map[string]string{TagRunID: "exp_1700000000_0a1b2c3d", TagExperiment: "exp", TagTarget: "cpu-cluster", TagParent: "exp_1_abcdef12"}
	if !reflect.DeepEqual(spec.Tags, wantTags) {
		t.Errorf("tags %v, want %v", spec.Tags, wantTags)
	}
	if !reflect.DeepEqual(spec.Executor.Command, []string{"/usr/bin/python3", "train.py"}) || !reflect.DeepEqual(spec.Executor.Args, []string{"--alpha", "0.5", "true"}) {
		t.Errorf("executor %+v", spec.Executor)
	}
	f := spec.Foreign.AzureML
	if f.RunID != "exp_1700000000_0a1b2c3d" || f.Properties["ContentSnapshotId"] != "5c1d" || f.Project.SHA256 != "ab" {
		t.Errorf("foreign %+v", f)
	}
	var sent, kept any
	_ = json.Unmarshal([]byte(sdkDefinition), &sent)
	_ = json.Unmarshal(f.Definition, &kept)
	if !reflect.DeepEqual(sent, kept) {
		t.Errorf("the definition was not kept as sent: %s", f.Definition)
	}
}

func TestStatusesComeFromTheSystemsTable(t *testing.T) {
	want := map[runs.State]string{runs.Pending: "Queued", runs.Running: "Running", runs.Canceling: "CancelRequested",
		runs.Succeeded: "Completed", runs.Failed: "Failed", runs.Errored: "Failed", runs.Canceled: "Canceled"}
	for s, name := range want {
		if got := Status(s); got != name {
			t.Errorf("%s: %q, want %q", s, got, name)
		}
	}
}

func TestRunDtoHasWhatTheSDKRequires(t *testing.T) {
	d, _ := ParseDefinition([]byte(sdkDefinition))
	raw, _ := Submit{RunID: "exp_1_0a1b2c3d", Experiment: "exp", Kind: "job", Def: d}.RunSpec()
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ended := created.Add(time.Minute)
	run := runs.Run{ID: "p/01ABC", State: runs.Failed, Message: "exit 3", Kind: "job", StudyID: "p/S1", CreatedAt: created, StartedAt: &created, EndedAt: &ended,
		Tags: map[string]string{TagRunID: "exp_1_0a1b2c3d", TagExperiment: "exp", TagTarget: "cpu-cluster", "team": "a"}, Spec: raw}
	dto := ToRunDto(run, "http://h/execution/v1.0/x/experiments/exp")
	b, _ := json.Marshal(dto)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for _, k := range []string{"runId", "rootRunId", "runNumber", "status", "properties"} {
		if _, ok := m[k]; !ok {
			t.Errorf("RunDto has no %s: %s", k, b)
		}
	}
	if n, ok := m["runNumber"].(float64); !ok || n != float64(created.UnixMilli()) {
		t.Errorf("runNumber %v is not the integer the SDK needs", m["runNumber"])
	}
	if dto.RunID != "exp_1_0a1b2c3d" || dto.RunUUID != "p/01ABC" || dto.Status != "Failed" || dto.Target != "cpu-cluster" ||
		dto.Error == nil || dto.Error.Error.Message != "exit 3" || dto.Tags["team"] != "a" || len(dto.Tags) != 1 {
		t.Errorf("dto %+v", dto)
	}
	if dto.CancelURI != "" {
		t.Errorf("an ended run has no cancelUri: %q", dto.CancelURI)
	}
	run.State = runs.Running
	if got := ToRunDto(run, "http://h/e").CancelURI; got != "http://h/e/runId/exp_1_0a1b2c3d/cancel" {
		t.Errorf("cancelUri %q", got)
	}
}

func TestMergePropertiesMergesAndIgnoresNulls(t *testing.T) {
	v := "s2"
	got, changed := MergeProperties(map[string]string{"a": "1", "ContentSnapshotId": "s1"}, map[string]*string{"ContentSnapshotId": &v, "b": nil})
	if !reflect.DeepEqual(got, map[string]string{"a": "1", "ContentSnapshotId": "s2"}) || !reflect.DeepEqual(changed, []string{"ContentSnapshotId"}) {
		t.Errorf("got %v changed %v", got, changed)
	}
	_, changed = MergeProperties(map[string]string{"a": "1"}, map[string]*string{"a": ptr("1"), "b": nil})
	if len(changed) != 0 {
		t.Errorf("nothing changed, got %v", changed)
	}
}

func ptr(s string) *string { return &s }

func TestParseQuery(t *testing.T) {
	q, err := ParseQuery([]byte(`{"filter": "(ParentRunId eq null)", "orderby": ["StartTimeUtc desc"], "top": 500}`))
	if err != nil || !q.TopLevel || q.Top != 500 {
		t.Errorf("the SDK's query: %+v %v", q, err)
	}
	q, err = ParseQuery(nil)
	if err != nil || q.TopLevel || q.Top != 100 {
		t.Errorf("no body: %+v %v", q, err)
	}
	for body, field := range map[string]string{
		`{"filter": "Status eq 'Running'"}`: "filter",
		`{"orderby": "Name asc"}`:           "orderBy",
		`{"top": 0}`:                        "top",
		`{"top": 501}`:                      "top",
		`{"where": 1}`:                      "where",
	} {
		_, err := ParseQuery([]byte(body))
		if e, ok := err.(*provgraph.Error); !ok || e.Fields[0].Path != field || e.Status != 400 {
			t.Errorf("%s: %v, want 400 on %s", body, err, field)
		}
	}
}

func TestToErrorIsAzuresShape(t *testing.T) {
	status, body := ToError(provgraph.InvalidFields("bad", []provgraph.FieldError{{Path: "/name", Message: "required"}}))
	if status != 400 || body.Error.Code != "ValidationError" || body.Error.Target != "/name" || len(body.Error.Details) != 1 {
		t.Errorf("%d %+v", status, body)
	}
	status, body = ToError(provgraph.Errorf(provgraph.Unavailable, "db down"))
	if status != 503 || body.Error.Code != "TransientError" {
		t.Errorf("%d %+v", status, body)
	}
}

func TestCheckNames(t *testing.T) {
	if CheckNames("exp_1700000000_0a1b2c3d", "exp") != nil {
		t.Error("the SDK's run id refused")
	}
	for _, c := range [][2]string{{"", "e"}, {"_x", "e"}, {"a/b", "e"}, {"a", "e/f"}, {"a", ""}} {
		if CheckNames(c[0], c[1]) == nil {
			t.Errorf("%q in %q accepted", c[0], c[1])
		}
	}
}

// The invocation zip holds the agent and settings that bash reads back word for word,
// whatever the arguments hold.
func TestInvocationSettingsReadBackInBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	d := Definition{Script: "train it.py", Arguments: []string{"--name", "it's $HOME `x`", ""}}
	b, err := Invocation(Agent{URL: "http://h:1", Run: "p/01A", RunID: "e_1_2", Token: "tok'en", Def: d})
	if err != nil {
		t.Fatal(err)
	}
	z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	names := map[string]bool{}
	for _, f := range z.File {
		names[f.Name] = true
		r, _ := f.Open()
		body, _ := io.ReadAll(r)
		p := filepath.Join(dir, f.Name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		_ = os.WriteFile(p, body, 0o600)
	}
	if !names["azureml-setup/Invocation.sh"] || !names["azureml-setup/provgraph.env"] {
		t.Fatalf("zip holds %v", names)
	}
	out, err := exec.Command("bash", "-c", `. "$1"; printf '%s\n' "$PROVGRAPH_URL" "$PROVGRAPH_RUN" "$PROVGRAPH_TOKEN" "$SCRIPT" "${#ARGUMENTS[@]}" "${ARGUMENTS[@]}"`,
		"_", filepath.Join(dir, "azureml-setup/provgraph.env")).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "http://h:1\np/01A\ntok'en\ntrain it.py\n3\n--name\nit's $HOME `x`\n\n"
	if string(out) != want {
		t.Errorf("bash read\n%q\nwant\n%q", out, want)
	}
	if err := exec.Command("bash", "-n", filepath.Join(dir, "azureml-setup/Invocation.sh")).Run(); err != nil {
		t.Errorf("Invocation.sh does not parse: %v", err)
	}
}

// Whatever a client sends, the decoders answer a definition or a 400, never a panic, and
// what they accept makes a run spec.
func FuzzParseDefinition(f *testing.F) {
	f.Add([]byte(sdkDefinition))
	f.Add([]byte(`{"configuration": {"arguments": [1, "x", false], "environment": {"python": {}}}}`))
	f.Add([]byte(`{"Configuration": null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDefinition(b)
		if err != nil {
			if e, ok := err.(*provgraph.Error); !ok || e.Status != 400 {
				t.Fatalf("%v is not a 400", err)
			}
			return
		}
		if _, err := (Submit{RunID: "e_1_0a1b2c3d", Experiment: "e", Kind: "job", Def: d}).RunSpec(); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzParseQuery(f *testing.F) {
	f.Add([]byte(`{"filter": "(ParentRunId eq null)", "orderby": ["StartTimeUtc desc"], "top": 500}`))
	f.Add([]byte(`{"continuationToken": "x", "skip": 0}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ParseQuery(b)
		if err != nil {
			if e, ok := err.(*provgraph.Error); !ok || e.Status != 400 {
				t.Fatalf("%v is not a 400", err)
			}
			return
		}
		if q.Top < 1 || q.Top > MaxTop {
			t.Fatalf("top %d", q.Top)
		}
	})
}

func TestPropertyTagsKeepsWhatChangesAsTags(t *testing.T) {
	got, err := PropertyTags(map[string]string{"ContentSnapshotId": "s1"}, map[string]*string{"ContentSnapshotId": ptr("s1"), "azureml.git.commit": ptr("abc"), "gone": nil})
	if err != nil || len(got) != 1 || got[TagProperty+"azureml.git.commit"] == nil || *got[TagProperty+"azureml.git.commit"] != "abc" {
		t.Fatalf("tags %v %v", got, err)
	}
	for _, bad := range []map[string]*string{{"a key": ptr("x")}, {strings.Repeat("k", 112): ptr("x")}, {"k": ptr(strings.Repeat("v", 257))}} {
		if _, err := PropertyTags(nil, bad); provgraph.ErrorCode(err) != provgraph.Invalid {
			t.Fatalf("%v: %v", bad, err)
		}
	}
}

func TestSubmitContentsAreItsProjectAndSnapshot(t *testing.T) {
	if c := (Submit{}).Contents(); len(c) != 0 {
		t.Fatalf("a bare submit uses %v", c)
	}
	s := Submit{Project: &Blob{SHA256: "p", Size: 3}, Snapshot: &Blob{SHA256: "s", Size: 2}}
	want := []runs.Content{
		{Name: ProjectName, Role: "project", SHA256: "p", Size: 3, MediaType: "application/zip"},
		{Name: SnapshotName, Role: "snapshot", SHA256: "s", Size: 2, MediaType: "application/json"},
	}
	if got := s.Contents(); !reflect.DeepEqual(got, want) {
		t.Fatalf("contents %+v", got)
	}
}

func TestFailAnswersAzureErrorsThroughResolve(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   string
		msg    string
		header string
	}{
		{provgraph.InvalidFields("bad", []provgraph.FieldError{{Path: "/name", Message: "required"}}), 400, "ValidationError", "bad", ""},
		{provgraph.Errorf(provgraph.Unavailable, "neo4j is starting"), 503, "TransientError", "neo4j is starting", "Retry-After"},
		{provgraph.Errorf(provgraph.Unauthorized, "no token"), 401, "UserError", "no token", "WWW-Authenticate"},
		{errors.New("secret detail"), 500, "ServiceError", "internal error", ""},
	} {
		w := httptest.NewRecorder()
		Fail(w, httptest.NewRequest("GET", "/", nil), c.err)
		var body ErrorResponse
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != c.status || body.Error.Code != c.code || body.Error.Message != c.msg ||
			body.Time == "" {
			t.Fatalf("%v: %d %s", c.err, w.Code, w.Body)
		}
		if c.header != "" && w.Header().Get(c.header) == "" {
			t.Fatalf("%v: no %s", c.err, c.header)
		}
	}
}

func TestAliasesResolveOnlyInTheirExperiment(t *testing.T) {
	var c aliases
	c.put("e_1_0a1b2c3d", runs.Run{ID: "local/01J", StudyID: "local/01S", Tags: map[string]string{TagExperiment: "e"}})
	for _, exp := range []string{"e", "local/01S"} {
		if id, ok := c.get("e_1_0a1b2c3d", exp); !ok || id != "local/01J" {
			t.Fatalf("in %s: %q %v", exp, id, ok)
		}
	}
	if _, ok := c.get("e_1_0a1b2c3d", "other"); ok {
		t.Fatal("resolved in another experiment")
	}
	c.drop("e_1_0a1b2c3d")
	if _, ok := c.get("e_1_0a1b2c3d", "e"); ok {
		t.Fatal("resolved after drop")
	}
}
