package ica

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"provgraph/runs"
)

func TestStatusesTranslateBothWays(t *testing.T) {
	want := map[runs.State]string{runs.Pending: "Pending", runs.Running: "Running", runs.Canceling: "Aborting", runs.Succeeded: "Completed",
		runs.Failed: "Failed", runs.Errored: "Failed", runs.Canceled: "Aborted"}
	for s, name := range want {
		if Status(s) != name {
			t.Errorf("%s is written %q", s, Status(s))
		}
	}
	// A filter selects what reads as that status: Failed is FAILED and ERROR runs alike.
	for name, want := range map[string][]runs.State{"Failed": {runs.Failed, runs.Errored}, "FailedRestartable": {runs.Failed},
		"TimedOut": {runs.Errored}, "Runnable": {runs.Pending}, "Finalizing": {runs.Running}, "Aborting": {runs.Canceling}} {
		if got, ok := States(name); !ok || !slices.Equal(got, want) {
			t.Errorf("status=%s selects %v", name, got)
		}
	}
	if _, ok := States("Timeout"); ok {
		t.Error("Timeout is no ICA status")
	}
}

const request = `{"name": "align", "acl": ["wid:a"], "execution": {
	"image": {"name": "bwa", "tag": "1", "digest": "sha256:ab", "credentials": {"username": "u", "password": "p"}},
	"command": "bwa", "args": ["mem"], "inputs": [{"path": "/in", "url": "s3://x", "credentials": {"k": "v"}}],
	"systemFiles": {"url": "s3://sys", "credentials": {"k": "v"}},
	"environment": {"variables": {"A": "1"}, "resources": {"tier": "economy", "cpuCores": 2, "memoryGb": 4}}}}`

func TestCreateKeepsNoCredentials(t *testing.T) {
	c, err := DecodeCreate([]byte(request))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := c.RunSpec()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(spec), "credentials") || strings.Contains(string(spec), `"p"`) {
		t.Fatalf("credentials kept: %s", spec)
	}
	var native struct {
		Name     string
		Executor struct {
			Image     string
			Command   []string
			Args      []string
			Env       map[string]string
			Resources map[string]float64
		}
	}
	_ = json.Unmarshal(spec, &native)
	if native.Executor.Image != "bwa@sha256:ab" || !slices.Equal(native.Executor.Command, []string{"bwa"}) || !slices.Equal(native.Executor.Args, []string{"mem"}) ||
		native.Executor.Env["A"] != "1" || native.Executor.Resources["cpu_cores"] != 2 || native.Executor.Resources["ram_gb"] != 4 {
		t.Fatalf("native: %+v", native)
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := runs.Run{ID: "local/01J", State: runs.Failed, Name: "align", Message: "exit 1", CreatedAt: created, UpdatedAt: created.Add(time.Second), StartedAt: &created, EndedAt: &created, Spec: spec}
	full := View(r, false)
	if full.Href != "/v1/tasks/runs/local/01J" || full.Status != "Failed" || full.TierOfResource != "economy" || full.Execution.Image.Credentials != nil ||
		full.TimeModified != "2026-01-02T03:04:06Z" || len(full.Logs) != 1 || full.Logs[0].Error != "exit 1" || !slices.Equal(full.ACL, []string{"wid:a"}) {
		t.Fatalf("TaskRun: %+v", full)
	}
	if s := View(r, true); s.Execution != nil || s.Logs != nil {
		t.Fatalf("summary: %+v", s)
	}
	for body, field := range map[string]string{
		`{"execution": {"image": {"name": "x"}}}`: "name",
		`{"name": "x"}`: "execution",
		`{"name": "x", "execution": {"image": {"tag": "1"}}}`:                     "execution.image.name",
		`{"name": "x", "execution": {"image": {"name": "x"}, "retryLimit": "3"}}`: "execution.retryLimit",
		`{"name": "x", "execution": {"image": {"name": "x"}}, "colour": 1}`:       "",
	} {
		_, err := DecodeCreate([]byte(body))
		if err == nil || !strings.HasPrefix(err.Error(), "invalid: ") || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v", body, err)
		}
	}
}

func TestListQuery(t *testing.T) {
	l, err := ParseList(url.Values{"sort": {"timeCreated desc"}, "names": {"a, b"}, "status": {"Pending,Aborting"}, "pageSize": {"5"}})
	if err != nil {
		t.Fatal(err)
	}
	p, keep := l.native()
	if p.Get("sort") != "created_at desc" || !slices.Equal(p["state"], []string{"PENDING", "CANCELING"}) || p.Get("name_prefix") != "" || keep == nil {
		t.Fatalf("native %v", p)
	}
	if !l.Keep(runs.Run{Name: "b"}) || l.Keep(runs.Run{Name: "ab"}) {
		t.Error("names are exact")
	}
	l, _ = ParseList(url.Values{"names": {"only"}})
	if p, _ := l.native(); p.Get("name_prefix") != "only" || p.Get("sort") != "created_at asc" {
		t.Errorf("one name narrows the native list: %v", p)
	}
	acl, _ := ParseList(url.Values{"acls": {"wid:a,wid:b"}})
	spec, _ := json.Marshal(map[string]any{"foreign": map[string]any{"ica": map[string]any{"acl": []string{"wid:b"}}}})
	if !acl.Keep(runs.Run{Spec: spec}) || acl.Keep(runs.Run{}) {
		t.Error("acls select runs with any of them")
	}
	for _, q := range []url.Values{{"sort": {"timeModified"}}, {"sort": {"name sideways"}}, {"status": {"Done"}}, {"versions": {"1"}},
		{"pageSize": {"0"}}, {"page_size": {"5"}}} {
		if _, err := ParseList(q); err == nil {
			t.Errorf("%v: accepted", q)
		}
	}
}
