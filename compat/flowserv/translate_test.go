package flowserv

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"provgraph"
	"provgraph/registry"
	"provgraph/runs"
)

func TestGroupRoundTripsThroughItsStudy(t *testing.T) {
	g := Group{Workflow: "local/01WF", Owner: "u:ann", Members: []string{"u:ann", "bob"},
		Parameters: []Parameter{{"name": "scenario", "isRequired": true}}, Config: map[string]any{"public_downloads": true, "workers": 2.0}}
	doc, err := StudyDoc("Team A", g)
	if err != nil {
		t.Fatal(err)
	}
	var study map[string]string
	if err := json.Unmarshal(doc, &study); err != nil || study["title"] != "Team A" || !strings.HasPrefix(study["description"], "flowserv group of workflow local/01WF.") {
		t.Fatalf("study %s: %v", doc, err)
	}
	name, back, ok := FromStudy(registry.Record{ID: "local/01G", Record: doc})
	if !ok || name != "Team A" || !reflect.DeepEqual(back, g) || !back.PublicDownloads() {
		t.Errorf("read back %q %+v %v", name, back, ok)
	}
	for _, d := range []string{`{"title":"x","description":"an ordinary study"}`,
		`{"title":"x","description":"flowserv group\nflowserv-group: {not json"}`,
		`{"title":"x","description":"flowserv-group: {\"members\":[]}"}`} {
		if _, _, ok := FromStudy(registry.Record{Record: json.RawMessage(d)}); ok {
			t.Errorf("%s read as a group", d)
		}
	}
	if (Group{}).PublicDownloads() || (Group{Config: map[string]any{"public_downloads": "yes"}}).PublicDownloads() {
		t.Error("downloads are public without public_downloads: true")
	}
	big := g
	big.Parameters = []Parameter{{"name": strings.Repeat("p", 9000)}}
	if _, err := StudyDoc("Team A", big); provgraph.ErrorCode(err) != provgraph.Invalid {
		t.Errorf("a group over the description's bound: %v", err)
	}
}

func TestDecodeGroupCreate(t *testing.T) {
	bad := map[string]string{
		`{"name":" "}`:                "name",
		`{"name":"a","id":"mine"}`:    "id",
		`{"name":"a","members":[""]}`: "members[0]",
		`{"name":"a","parameters":[{"name":"p"},{"name":"p"}]}`: "parameters[1].name",
		`{"name":"a","parameters":[{"label":"p"}]}`:             "parameters[0].name",
		`{"name":"a","config":{"public_downloads":"yes"}}`:      "config.public_downloads",
		`{"name":"a","colour":"red"}`:                           "",
		`{"name":"a"} {}`:                                       "",
	}
	for body, field := range bad {
		_, err := DecodeGroupCreate([]byte(body))
		var e *provgraph.Error
		if !asErr(err, &e) || e.Status != 400 || e.Fields[0].Path != field {
			t.Errorf("%s: %v (want a 400 on %q)", body, err, field)
		}
	}
	c, err := DecodeGroupCreate([]byte(`{"name":"a","members":["bob","u:ann"],"parameters":[{"name":"notes","isRequired":true}],"config":{"public_downloads":true}}`))
	if err != nil {
		t.Fatal(err)
	}
	wf := []Parameter{{"name": "scenario"}, {"name": "notes"}}
	g := NewGroup("local/01WF", wf, c, "u:ann")
	if !slices.Equal(g.Members, []string{"u:ann", "bob"}) || g.Owner != "u:ann" {
		t.Errorf("members %v", g.Members)
	}
	if len(g.Parameters) != 2 || g.Parameters[0]["name"] != "scenario" || g.Parameters[1]["isRequired"] != true {
		t.Errorf("the group's own declaration replaces the workflow's: %v", g.Parameters)
	}
	if g := NewGroup("w", nil, GroupCreate{Name: "a"}, "u"); g.Parameters == nil || len(g.Parameters) != 0 {
		t.Errorf("no parameters is an empty list: %#v", g.Parameters)
	}
}

func TestWorkflowFromTemplate(t *testing.T) {
	rec := registry.Record{ID: "local/01WF", Record: json.RawMessage(`{"display_name":"Flood model","description":"runs it","software_id":"local/01M",
		"annotations":{"required":["scenario"],"optional":["notes","seed"]}}`)}
	w := Workflow(rec)
	if w["id"] != "local/01WF" || w["name"] != "Flood model" || w["description"] != "runs it" {
		t.Errorf("workflow %v", w)
	}
	ps := w["parameters"].([]Parameter)
	var got []string
	for _, p := range ps {
		got = append(got, p["name"].(string)+map[bool]string{true: "!", false: ""}[p["isRequired"].(bool)])
	}
	if !slices.Equal(got, []string{"scenario!", "notes", "seed"}) {
		t.Errorf("parameters %v", got)
	}
	if ps := WorkflowParameters(registry.Record{Record: json.RawMessage(`{"display_name":"x"}`)}); ps == nil || len(ps) != 0 {
		t.Errorf("a template without annotations: %#v", ps)
	}
}

func TestDecodeArguments(t *testing.T) {
	params := []Parameter{{"name": "scenario", "isRequired": true}, {"name": "notes", "isRequired": false}}
	bad := map[string]string{
		`{"arguments":[{"name":"notes","value":"x"}]}`:                                    "arguments",
		`{"arguments":[{"name":"scenario","value":"a"},{"name":"scenario","value":"b"}]}`: "arguments[1].name",
		`{"arguments":[{"name":"scenario","value":"a"},{"name":"other","value":1}]}`:      "arguments[1].name",
		`{"arguments":[{"name":"scenario"}]}`:                                             "arguments[0].value",
		`{"arguments":[{"name":"scenario","value":null}]}`:                                "arguments[0].value",
		`{"arguments":[{"value":"a"}]}`:                                                   "arguments[0].name",
		`{"arguments":"scenario=a"}`:                                                      "",
		`{"args":[]}`:                                                                     "",
	}
	for body, field := range bad {
		_, err := DecodeArguments([]byte(body), params)
		var e *provgraph.Error
		if !asErr(err, &e) || e.Status != 400 || e.Fields[0].Path != field {
			t.Errorf("%s: %v (want a 400 on %q)", body, err, field)
		}
	}
	args, err := DecodeArguments([]byte(`{"arguments":[{"name":"scenario","value":"ssp245"},{"name":"notes","value":{"type":"$file","value":{"fileId":"local/01F","targetPath":"in.txt"}}}]}`), params)
	if err != nil || len(args) != 2 {
		t.Fatal(args, err)
	}
	// Undeclared: any argument goes, still once each and with a value.
	if _, err := DecodeArguments([]byte(`{"arguments":[{"name":"x","value":[1,2]}]}`), nil); err != nil {
		t.Error(err)
	}
	if _, err := DecodeArguments(nil, nil); err != nil {
		t.Errorf("no body is no arguments: %v", err)
	}

	spec, err := RunSpec("local/01G", "Team A", Group{Workflow: "local/01WF"}, append(args, Argument{Name: "list", Value: json.RawMessage(`[1, 2]`)}, Argument{Name: "n", Value: json.RawMessage(`3`)}))
	if err != nil {
		t.Fatal(err)
	}
	var s runs.RunSpec
	if err := json.Unmarshal(spec, &s); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"scenario": "ssp245", "notes": "local/01F", "list": "[1, 2]", "n": 3.0}
	if s.Name != "Team A run" || s.Kind != "workflow" || s.StudyID != "local/01G" || s.Ref.WorkflowTemplateID != "local/01WF" || !reflect.DeepEqual(s.Parameters, want) {
		t.Errorf("spec %s", spec)
	}
	long, _ := RunSpec("local/01G", strings.Repeat("é", 128), Group{Workflow: "w"}, nil)
	var ls runs.RunSpec
	if err := json.Unmarshal(long, &ls); err != nil || len(ls.Name) > maxName || !utf8.ValidString(ls.Name) || ls.Parameters != nil {
		t.Errorf("the run of a group with a long name: %q %v", ls.Name, err)
	}
	groupID, kept := sent(runs.Run{Spec: spec})
	if groupID != "local/01G" || len(kept) != 4 || string(kept[1].Value) != `{"type":"$file","value":{"fileId":"local/01F","targetPath":"in.txt"}}` {
		t.Errorf("kept %s %v", groupID, kept)
	}
}

func TestStates(t *testing.T) {
	cases := map[string][]runs.State{
		"None": nil, "": nil,
		"PENDING": {runs.Pending}, "RUNNING": {runs.Running, runs.Canceling}, "SUCCESS": {runs.Succeeded},
		"ERROR": {runs.Failed, runs.Errored}, "CANCELED": {runs.Canceled},
	}
	for name, want := range cases {
		got, err := States(name)
		slices.Sort(got)
		slices.Sort(want)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%q: %v %v, want %v", name, got, err, want)
		}
	}
	for _, bad := range []string{"SUCCEEDED", "running", "none"} {
		if _, err := States(bad); provgraph.ErrorCode(err) != provgraph.Invalid {
			t.Errorf("%q: %v", bad, err)
		}
	}
	for s, want := range map[runs.State]string{runs.Canceling: "RUNNING", runs.Errored: "ERROR", runs.Failed: "ERROR", runs.Succeeded: "SUCCESS"} {
		if State(s) != want {
			t.Errorf("%s is %s", s, State(s))
		}
	}
}

func TestHandle(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	t1 := t0.Add(time.Minute)
	spec, _ := RunSpec("local/01G", "g", Group{Workflow: "local/01WF"}, []Argument{{Name: "scenario", Value: json.RawMessage(`"a"`)}})
	base := runs.Run{ID: "local/01R", WorkflowTemplateID: "local/01WF", StudyID: "local/01G", CreatedAt: t0, Spec: spec}
	g := Group{Parameters: []Parameter{{"name": "scenario"}}}

	pending := Handle(with(base, func(r *runs.Run) { r.State = runs.Pending }), g, nil)
	if pending["state"] != "PENDING" || pending["createdAt"] != "2026-01-02T03:04:05.123456789Z" || pending["groupId"] != "local/01G" {
		t.Errorf("pending %v", pending)
	}
	for _, k := range []string{"startedAt", "finishedAt", "messages", "files"} {
		if _, ok := pending[k]; ok {
			t.Errorf("a pending run has %s", k)
		}
	}
	if args := pending["arguments"].([]Argument); len(args) != 1 || args[0].Name != "scenario" {
		t.Errorf("arguments %v", args)
	}

	canceled := Handle(with(base, func(r *runs.Run) {
		r.State, r.EndedAt = runs.Canceled, &t1
		r.Events = []runs.Event{{Op: runs.OpCancel, From: runs.Pending, To: runs.Canceled, Reason: "not needed"}}
	}), g, nil)
	if canceled["startedAt"] != canceled["finishedAt"] || !slices.Equal(canceled["messages"].([]string), []string{"not needed"}) {
		t.Errorf("a pending run canceled: %v", canceled)
	}
	acked := Handle(with(base, func(r *runs.Run) {
		r.State, r.StartedAt, r.EndedAt = runs.Canceled, &t0, &t1
		r.Events = []runs.Event{{Op: runs.OpCancel, From: runs.Running, To: runs.Canceling, Reason: "stop"}, {Op: runs.OpCanceled, From: runs.Canceling, To: runs.Canceled, Reason: "the executor stopped"}}
		r.Message = "the executor stopped"
	}), g, nil)
	if !slices.Equal(acked["messages"].([]string), []string{"stop"}) {
		t.Errorf("the reason of a cancel the executor acknowledged: %v", acked["messages"])
	}
	failed := Handle(with(base, func(r *runs.Run) { r.State, r.StartedAt, r.EndedAt, r.Message = runs.Failed, &t0, &t1, "diverged" }), g, nil)
	if failed["state"] != "ERROR" || !slices.Equal(failed["messages"].([]string), []string{"diverged"}) {
		t.Errorf("failed %v", failed)
	}
	done := Handle(with(base, func(r *runs.Run) { r.State, r.StartedAt, r.EndedAt = runs.Succeeded, &t0, &t1 }), g,
		[]runs.Artifact{{ID: "local/01A", Name: "out/x.csv", MediaType: "text/csv"}})
	files := done["files"].([]map[string]any)
	if done["state"] != "SUCCESS" || done["finishedAt"] != "2026-01-02T03:05:05.123456789Z" || len(files) != 1 || files[0]["id"] != "local/01A" || files[0]["name"] != "out/x.csv" {
		t.Errorf("succeeded %v", done)
	}
	if _, ok := done["messages"]; ok {
		t.Error("a run that succeeded has messages")
	}
}

func with(r runs.Run, f func(*runs.Run)) runs.Run {
	f(&r)
	return r
}

func TestFailSpeaksFlowserv(t *testing.T) {
	cases := []struct {
		err    error
		status int
	}{
		{provgraph.Errorf(provgraph.Conflict, "run is RUNNING"), 400},
		{&provgraph.Error{Code: provgraph.Invalid, Status: 422, Message: "bad"}, 400},
		{provgraph.Errorf(provgraph.NotFound, "no run"), 404},
		{provgraph.Errorf(provgraph.Unauthorized, "who"), 401},
		{provgraph.Errorf(provgraph.Forbidden, "no"), 403},
		{provgraph.Errorf(provgraph.Unavailable, "later"), 503},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		Fail(w, httptest.NewRequest("GET", "/", nil), c.err)
		var body map[string]any
		if w.Code != c.status || json.Unmarshal(w.Body.Bytes(), &body) != nil || body["message"] == "" {
			t.Errorf("%v: %d %s", c.err, w.Code, w.Body.String())
		}
		if c.status == 401 && w.Header().Get("WWW-Authenticate") == "" || c.status == 503 && w.Header().Get("Retry-After") == "" {
			t.Errorf("%d without its header", c.status)
		}
	}
	w := httptest.NewRecorder()
	Fail(w, httptest.NewRequest("GET", "/", nil), http.ErrHandlerTimeout)
	if w.Code != 500 || strings.Contains(w.Body.String(), "timeout") {
		t.Errorf("an internal error shows its cause: %s", w.Body.String())
	}
}

func asErr(err error, e **provgraph.Error) bool {
	x, ok := err.(*provgraph.Error)
	*e = x
	return ok
}
