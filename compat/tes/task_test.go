package tes

import (
	"encoding/json"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"provgraph"
	"provgraph/runs"
)

var tesStates = []string{"UNKNOWN", "QUEUED", "INITIALIZING", "RUNNING", "PAUSED", "COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED", "PREEMPTED", "CANCELING"}

func TestStatesTranslateBothWays(t *testing.T) {
	want := map[runs.State]string{runs.Pending: "QUEUED", runs.Running: "RUNNING", runs.Canceling: "CANCELING", runs.Succeeded: "COMPLETE",
		runs.Failed: "EXECUTOR_ERROR", runs.Errored: "SYSTEM_ERROR", runs.Canceled: "CANCELED"}
	for _, s := range runs.States() {
		if got := State(s); got != want[s] || !slices.Contains(tesStates, got) {
			t.Errorf("%s is written %q", s, got)
		}
	}
	for name, want := range map[string][]runs.State{"QUEUED": {runs.Pending}, "UNKNOWN": {runs.Pending}, "INITIALIZING": {runs.Running},
		"SYSTEM_ERROR": {runs.Errored}, "PREEMPTED": {runs.Errored}, "CANCELING": {runs.Canceling}, "COMPLETE": {runs.Succeeded}} {
		if got, ok := States(name); !ok || !slices.Equal(got, want) {
			t.Errorf("state=%s selects %v", name, got)
		}
	}
	if _, ok := States("queued"); ok {
		t.Error("TES states are exact strings")
	}
}

const sent = `{"name": "align", "description": "d",
	"inputs": [{"url": "s3://b/ref.fa", "path": "/in/ref.fa", "type": "FILE"}, {"content": "ACGT", "path": "/in/x.fa"}],
	"outputs": [{"url": "s3://b/out", "path": "/out", "type": "DIRECTORY"}],
	"resources": {"cpu_cores": "2", "ram_gb": 1.5, "zones": [], "backend_parameters": {"q": "fast"}},
	"executors": [{"image": "bwa", "command": ["bwa", "mem"], "env": {"A": "1", "not a name": "2"}}, {"image": "sam", "command": ["sort"]}],
	"volumes": [], "tags": {"team": "g", "team name": "g", "empty": ""}}`

func mustRun(t *testing.T, body string) runs.Run {
	t.Helper()
	task, err := Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := task.RunSpec()
	if err != nil {
		t.Fatal(err)
	}
	var native runs.RunSpec
	if err := json.Unmarshal(spec, &native); err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return runs.Run{ID: "local/01J", State: runs.Pending, Name: native.Name, Tags: native.Tags, CreatedAt: created, UpdatedAt: created, Spec: spec}
}

func keys(t *testing.T, v any) []string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestViewsHoldExactlyTESFields(t *testing.T) {
	r := mustRun(t, sent)
	if got := keys(t, View(r, Minimal)); !slices.Equal(got, []string{"id", "state"}) {
		t.Errorf("MINIMAL: %v", got)
	}
	basic := View(r, Basic)
	if got := keys(t, basic); !slices.Equal(got, []string{"creation_time", "description", "executors", "id", "inputs", "logs", "name", "outputs", "resources", "state", "tags", "volumes"}) {
		t.Errorf("BASIC: %v", got)
	}
	if basic.CreationTime != "2026-01-02T03:04:05Z" || basic.State != "QUEUED" || len(*basic.Logs) != 0 {
		t.Errorf("BASIC: %+v", basic)
	}
	if (*basic.Inputs)[1].Content != "" || (*View(r, Full).Inputs)[1].Content != "ACGT" {
		t.Error("BASIC leaves input contents out, FULL has them")
	}
	// What was sent comes back key by key: empty lists as empty lists, cpu_cores a number.
	b, _ := json.Marshal(View(r, Full))
	var doc map[string]any
	_ = json.Unmarshal(b, &doc)
	if v, ok := doc["volumes"].([]any); !ok || len(v) != 0 {
		t.Errorf("volumes: %v", doc["volumes"])
	}
	if doc["resources"].(map[string]any)["cpu_cores"] != 2.0 || len(doc["tags"].(map[string]any)) != 3 {
		t.Errorf("resources and tags: %v %v", doc["resources"], doc["tags"])
	}
}

func TestTaskLogsAreTheAttempts(t *testing.T) {
	r := mustRun(t, sent)
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	t1, t2, t3 := t0.Add(time.Minute), t0.Add(2*time.Minute), t0.Add(3*time.Minute)
	// Canceled while queued: ended without starting.
	r.State, r.EndedAt = runs.Canceled, &t1
	l := *View(r, Basic).Logs
	if len(l) != 1 || l[0].StartTime != l[0].EndTime || l[0].StartTime != "2026-01-02T03:01:00Z" {
		t.Fatalf("canceled while queued: %+v", l)
	}
	// Retried: one log per attempt, system logs (FULL only) from each attempt's events.
	r.State, r.Attempt, r.Executor, r.StartedAt, r.EndedAt = runs.Succeeded, 2, "local:e", &t2, &t3
	r.Attempts = []runs.Attempt{{Attempt: 1, State: runs.Failed, StartedAt: &t0, EndedAt: &t1}}
	r.Events = []runs.Event{{Op: runs.OpClaim, From: runs.Pending, To: runs.Running, At: t0, Actor: "e", Attempt: 1},
		{Op: runs.OpRetry, From: runs.Failed, To: runs.Pending, At: t1, Actor: "u", Reason: "again", Attempt: 1},
		{Op: runs.OpComplete, From: runs.Running, To: runs.Succeeded, At: t3, Actor: "e", Attempt: 2}}
	l = *View(r, Full).Logs
	if len(l) != 2 || l[0].EndTime != "2026-01-02T03:01:00Z" || l[1].StartTime != "2026-01-02T03:02:00Z" || l[1].Metadata["executor"] != "local:e" {
		t.Fatalf("attempts: %+v", l)
	}
	if len(l[0].SystemLogs) != 2 || l[0].SystemLogs[1] != "2026-01-02T03:01:00Z retry FAILED → PENDING by u: again" || len(l[1].SystemLogs) != 1 {
		t.Fatalf("system logs: %q %q", l[0].SystemLogs, l[1].SystemLogs)
	}
	if (*View(r, Basic).Logs)[0].SystemLogs != nil {
		t.Error("BASIC leaves system logs out")
	}
}

func TestRunSpecFillsNativeFieldsThatFit(t *testing.T) {
	r := mustRun(t, sent)
	var spec struct {
		Name     string
		Tags     map[string]string
		Executor struct {
			Image     string
			Command   []string
			Env       map[string]string
			Resources map[string]any
		}
	}
	_ = json.Unmarshal(r.Spec, &spec)
	if spec.Name != "align" || spec.Executor.Image != "bwa" || !slices.Equal(spec.Executor.Command, []string{"bwa", "mem"}) {
		t.Errorf("native: %+v", spec)
	}
	if spec.Executor.Env != nil {
		t.Error("an env with a name the native schema refuses stays in the TES document only")
	}
	if len(spec.Tags) != 2 || spec.Tags["team"] != "g" || spec.Executor.Resources["cpu_cores"] != 2.0 {
		t.Errorf("tags and resources: %v %v", spec.Tags, spec.Executor.Resources)
	}
	// What the native schema would refuse stays in the TES document only.
	r = mustRun(t, `{"executors": [{"image": "x", "command": ["y"]}], "resources": {"cpu_cores": 100000, "ram_gb": 1e6, "zones": ["`+strings.Repeat("z", 200)+`"]}}`)
	var out struct{ Executor map[string]any }
	if err := json.Unmarshal(r.Spec, &out); err != nil || out.Executor["resources"] != nil {
		t.Errorf("out-of-range resources reached the native executor: %s", r.Spec)
	}
	if got := View(r, Basic).Resources; got == nil || *got.CPUCores != 100000 || len((*got.Zones)[0]) != 200 {
		t.Errorf("TES keeps them: %+v", got)
	}
	// A task needs no name; its run is named after its image.
	if r := mustRun(t, `{"executors": [{"image": "bwa", "command": ["x"]}]}`); r.Name != "bwa" || View(r, Basic).Name != "" {
		t.Errorf("unnamed: %q %q", r.Name, View(r, Basic).Name)
	}
}

func TestDecodeRefusesWhatTESDoesNotDefine(t *testing.T) {
	for body, field := range map[string]string{
		`{"name": "x"}`:     "executors",
		`{"executors": []}`: "executors",
		`{"executors": [{"image": "x", "command": ["y"]}], "colour": 1}`:                                            "colour",
		`{"executors": [{"image": "x", "command": ["y"], "gpu": 1}]}`:                                               "gpu",
		`{"executors": [{"image": "", "command": ["y"]}]}`:                                                          "executors[0].image",
		`{"executors": [{"image": "x", "command": ["y"], "stdout": "out.txt"}]}`:                                    "executors[0].stdout",
		`{"executors": [{"image": "x", "command": ["y"]}], "resources": {"cpu_cores": 1.5}}`:                        "resources.cpu_cores",
		`{"executors": [{"image": "x", "command": ["y"]}], "inputs": [{"path": "/a"}]}`:                             "inputs[0]",
		`{"executors": [{"image": "x", "command": ["y"]}], "outputs": [{"path": "/a"}]}`:                            "outputs[0].url",
		`{"executors": [{"image": "x", "command": ["y"]}], "inputs": [{"url": "u", "path": "rel"}]}`:                "inputs[0].path",
		`{"executors": [{"image": "x", "command": ["y"]}], "id": "mine"}`:                                           "",
		`{"executors": [{"image": "x", "command": ["y"]}]} {}`:                                                      "",
		`{"executors": [{"image": "x", "command": ["y"]}], "inputs": [{"url": "u", "path": "/a", "type": "LINK"}]}`: "inputs[0].type",
	} {
		_, err := Decode([]byte(body))
		var e *provgraph.Error
		if !asError(err, &e) || e.Status != 400 || len(e.Fields) == 0 || e.Fields[0].Path != field {
			t.Errorf("%s: %v", body, err)
		}
	}
}

func asError(err error, e **provgraph.Error) bool {
	x, ok := err.(*provgraph.Error)
	*e = x
	return ok
}

func TestListQuery(t *testing.T) {
	l, err := ParseList(url.Values{"name_prefix": {"P"}, "tag_key": {"team", "group", "any"}, "tag_value": {"x", "odd"}, "state": {"QUEUED"}})
	if err != nil {
		t.Fatal(err)
	}
	if l.View != Minimal || l.PageSize != DefaultPageSize || !slices.Equal(l.Tags, [][2]string{{"team", "x"}, {"group", "odd"}, {"any", ""}}) {
		t.Fatalf("%+v", l)
	}
	p, keep := l.native()
	if !slices.Equal(p["tag"], []string{"team:x", "group:odd"}) || p.Get("name_prefix") != "P" || !slices.Equal(p["state"], []string{"PENDING"}) ||
		keep == nil || p.Get("view") != runs.ViewFull || p.Get("archived") != "any" {
		t.Fatalf("native %v", p)
	}
	l, _ = ParseList(url.Values{"tag_key": {"team"}, "tag_value": {"x"}, "view": {"BASIC"}})
	if _, keep := l.native(); keep != nil {
		t.Error("native filters alone need no facade")
	}
	task := func(name string, tags map[string]string) runs.Run {
		b, _ := json.Marshal(map[string]any{"foreign": map[string]any{"tes": map[string]any{"name": name, "tags": tags}}})
		return runs.Run{Name: "native name", Spec: b}
	}
	l, _ = ParseList(url.Values{"name_prefix": {"al"}, "tag_key": {"team name", "group"}, "tag_value": {"g"}})
	for _, c := range []struct {
		r    runs.Run
		keep bool
	}{
		{task("align", map[string]string{"team name": "g", "group": "anything", "extra": "1"}), true},
		{task("align", map[string]string{"team name": "g"}), false},
		{task("align", map[string]string{"team name": "h", "group": "x"}), false},
		{task("blast", map[string]string{"team name": "g", "group": "x"}), false},
		{task("", map[string]string{"team name": "g", "group": "x"}), false},
	} {
		if l.Keep(c.r) != c.keep {
			t.Errorf("%s: keep %v", c.r.Spec, !c.keep)
		}
	}
	for _, q := range []url.Values{{"tag_value": {"x"}}, {"page_size": {"2048"}}, {"page_size": {"-1"}}, {"state": {"BOGUS"}},
		{"view": {"ALL"}}, {"project": {"p"}}, {"name_prefix": {"a", "b"}}, {"tag_key": {""}}} {
		if _, err := ParseList(q); err == nil {
			t.Errorf("%v: accepted", q)
		}
	}
	if l, _ := ParseList(url.Values{"page_size": {"0"}}); l.PageSize != DefaultPageSize {
		t.Error("page_size 0 is the default")
	}
	a, _ := ParseList(url.Values{"page_size": {"2"}})
	b, _ := ParseList(url.Values{"page_size": {"3"}})
	if a.key() == b.key() {
		t.Error("a token is for one page size")
	}
}

func TestNativeRunsReadAsTasks(t *testing.T) {
	spec := `{"name": "n", "executor": {"image": "img", "command": ["a"], "args": ["b"], "resources": {"cpu_cores": 1.5, "ram_gb": 2}}}`
	r := runs.Run{ID: "local/01J", State: runs.Running, Name: "n", Tags: map[string]string{"k": "v"}, Spec: json.RawMessage(spec)}
	task := View(r, Basic)
	ex := (*task.Executors)[0]
	if task.Name != "n" || ex.Image != "img" || !slices.Equal(ex.Command, []string{"a", "b"}) || *task.Resources.CPUCores != 2 || (*task.Tags)["k"] != "v" {
		t.Errorf("%+v", task)
	}
	if task := View(runs.Run{ID: "x", State: runs.Pending, Name: "kfp run"}, Basic); task.Executors != nil || task.Name != "kfp run" {
		t.Errorf("a run without executor: %+v", task)
	}
}
