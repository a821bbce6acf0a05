package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"provgraph/auth"
	"provgraph/runs"
)

func TestRunsOverHTTP(t *testing.T) {
	m := mustMain(t, nil)
	admin := client{t: t, base: m.URL, token: testAdmin}
	f := mustFixture(admin)
	as := func(role auth.Role, name string) client { return tokenClient(t, m, role, name) }
	user, exec, other, reader := as(auth.Writer, "user"), as(auth.Writer, "executor"), as(auth.Writer, "other"), as(auth.Reader, "reader")
	r := user.do("POST", "/api/v1/runs", map[string]any{"name": "align", "kind": "task", "tags": map[string]string{"suite": m.Config.IDPrefix},
		"inputs": []any{map[string]any{"id": f.dataset, "role": "reads"}}, "study_id": f.study,
		"executor": map[string]any{"image": "bwa:0.7", "command": []string{"bwa", "mem"}, "resources": map[string]any{"cpu_cores": 4}}})
	if r.Status != 201 || r.JSON(t)["state"] != "PENDING" {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	id := r.JSON(t)["id"].(string)
	if r.Header.Get("Location") != "/api/v1/runs/"+id {
		t.Fatalf("Location %q", r.Header.Get("Location"))
	}
	do := func(c client, op string, body any, want int) map[string]any {
		t.Helper()
		r := c.do("POST", "/api/v1/runs/"+id+":"+op, body)
		if r.Status != want {
			t.Fatalf("%s: %d %s, want %d", op, r.Status, r.Body, want)
		}
		return r.JSON(t)
	}
	if got := do(exec, "complete", nil, 409); !strings.Contains(got["error"].(map[string]any)["message"].(string), "PENDING") {
		t.Fatalf("409 should name the state: %v", got)
	}
	do(reader, "claim", nil, 403)
	do(exec, "claim", nil, 200)
	do(other, "heartbeat", nil, 403)
	do(exec, "heartbeat", nil, 200)
	do(exec, "complete", map[string]any{"colour": "red"}, 422)
	do(exec, "complete", map[string]any{"reason": "done", "outputs": []any{map[string]any{"id": f.study}}}, 422)
	if got := do(exec, "complete", map[string]any{"reason": "done"}, 200); got["state"] != "SUCCEEDED" {
		t.Fatalf("complete: %v", got)
	}
	for _, view := range []string{"minimal", "basic", "full"} {
		r := reader.do("GET", "/api/v1/runs/"+id+"?view="+view, nil)
		_, hasSpec := r.JSON(t)["spec"]
		if r.Status != 200 || hasSpec != (view == "full") {
			t.Fatalf("view %s: %d %s", view, r.Status, r.Body)
		}
	}
	var ev struct {
		Events []struct{ Op, Actor string }
	}
	if r := reader.do("GET", "/api/v1/runs/"+id+"/events", nil); r.Status != 200 || json.Unmarshal(r.Body, &ev) != nil || len(ev.Events) != 3 || ev.Events[1].Op != "claim" {
		t.Fatalf("events: %d %s", r.Status, r.Body)
	}
	do(user, "archive", nil, 200)
	list := func(q string) int {
		r := reader.do("GET", "/api/v1/runs?tag=suite:"+m.Config.IDPrefix+q, nil)
		if r.Status != 200 {
			t.Fatalf("list %s: %d %s", q, r.Status, r.Body)
		}
		runs, _ := r.JSON(t)["runs"].([]any)
		return len(runs)
	}
	if list("") != 0 || list("&archived=true") != 1 || list("&archived=any&state=SUCCEEDED") != 1 || list("&archived=any&state=RUNNING") != 0 {
		t.Fatal("archived runs must be hidden unless asked")
	}
	if r := reader.do("GET", "/api/v1/runs?page_token=forged", nil); r.Status != 400 {
		t.Fatalf("forged token: %d", r.Status)
	}
	// A second run: failed, retried, deleted only once terminal.
	r = user.do("POST", "/api/v1/runs", map[string]any{"name": "flaky"})
	id = r.JSON(t)["id"].(string)
	if r := user.do("DELETE", "/api/v1/runs/"+id, nil); r.Status != 409 {
		t.Fatalf("delete pending: %d", r.Status)
	}
	do(exec, "claim", nil, 200)
	do(exec, "fail", map[string]any{"reason": "out of memory"}, 200)
	if got := do(user, "retry", nil, 200); got["attempt"] != float64(2) || got["state"] != "PENDING" {
		t.Fatalf("retry: %v", got)
	}
	do(user, "abort", map[string]any{"reason": "not needed"}, 200)
	if r := user.do("DELETE", "/api/v1/runs/"+id+"?purge=true", nil); r.Status != 403 {
		t.Fatalf("a writer purging: %d", r.Status)
	}
	if r := user.do("DELETE", "/api/v1/runs/"+id+"?reason=cleanup", nil); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if r := reader.do("GET", "/api/v1/runs/"+id, nil); r.Status != 404 {
		t.Fatalf("deleted run: %d", r.Status)
	}
	// An admin may purge a finished run: it is gone, history and all.
	gone := user.do("POST", "/api/v1/runs", map[string]any{"name": "to purge"}).JSON(t)["id"].(string)
	user.do("POST", "/api/v1/runs/"+gone+":cancel", nil)
	// A purge that is neither true nor false is refused, not taken for a soft delete.
	if r := admin.do("DELETE", "/api/v1/runs/"+gone+"?purge=yes", nil); r.Status != 400 {
		t.Fatalf("purge=yes: %d %s", r.Status, r.Body)
	}
	if r := admin.do("DELETE", "/api/v1/runs/"+gone+"?purge=true", nil); r.Status != 204 {
		t.Fatalf("purge: %d %s", r.Status, r.Body)
	}
	if r := admin.do("GET", "/api/v1/prov/"+gone, nil); r.Status != 404 {
		t.Fatalf("purged run still has PROV: %d", r.Status)
	}
	if r := reader.do("GET", "/api/v1/runs/"+m.Config.IDPrefix+"/01J0000000000000000000000A", nil); r.Status != 404 {
		t.Fatalf("unknown run: %d", r.Status)
	}
	if r := user.do("POST", "/api/v1/runs", map[string]any{"name": "", "kind": "spaceship"}); r.Status != 422 || len(r.ErrorFields(t)) < 2 {
		t.Fatalf("bad run: %d %s", r.Status, r.Body)
	}
}

func TestRunMetricsOverHTTP(t *testing.T) {
	m := mustMain(t, nil)
	as := func(role auth.Role, name string) client { return tokenClient(t, m, role, name) }
	user, exec, other := as(auth.Writer, "user"), as(auth.Writer, "executor"), as(auth.Writer, "other")
	id := user.do("POST", "/api/v1/runs", map[string]any{"name": "train"}).JSON(t)["id"].(string)
	report := func(c client, body any) response {
		return c.do("POST", "/api/v1/runs/"+id+"/metrics", body)
	}
	one := map[string]any{"metrics": []any{map[string]any{"name": "loss", "node_id": "train", "value": 0.5, "step": 1}}}
	if r := report(exec, one); r.Status != 409 {
		t.Fatalf("metrics before a claim: %d %s", r.Status, r.Body)
	}
	exec.do("POST", "/api/v1/runs/"+id+":claim", nil)
	if r := report(other, one); r.Status != 403 {
		t.Fatalf("metrics from another writer: %d", r.Status)
	}
	r := report(exec, map[string]any{"metrics": []any{
		map[string]any{"name": "loss", "node_id": "train", "value": 0.5, "step": 1},
		map[string]any{"name": "loss", "node_id": "train", "value": 0.4, "step": 2},
		map[string]any{"name": "9lives", "node_id": "train", "value": 1},
		map[string]any{"name": "loss", "node_id": "train", "value": 0.3, "step": 2},
	}})
	if r.Status != 200 || statusesOf(t, r) != "OK,OK,INVALID,DUPLICATE" {
		t.Fatalf("report: %d %s", r.Status, r.Body)
	}
	// The first report stands; a repeat is a duplicate, its good neighbour still lands.
	r = report(exec, map[string]any{"metrics": []any{
		map[string]any{"name": "loss", "node_id": "train", "value": 9, "step": 1},
		map[string]any{"name": "accuracy", "node_id": "eval", "value": 0.9},
	}})
	if r.Status != 200 || statusesOf(t, r) != "DUPLICATE,OK" {
		t.Fatalf("second report: %d %s", r.Status, r.Body)
	}
	exec.do("POST", "/api/v1/runs/"+id+":complete", nil)
	if r := report(exec, one); r.Status != 409 {
		t.Fatalf("metrics after completion: %d %s", r.Status, r.Body)
	}
	var got struct{ Metrics []runs.Metric }
	if r := user.do("GET", "/api/v1/runs/"+id+"/metrics", nil); r.Status != 200 || json.Unmarshal(r.Body, &got) != nil || len(got.Metrics) != 3 {
		t.Fatalf("metrics: %d %s", r.Status, r.Body)
	}
	for _, mt := range got.Metrics {
		if mt.Name == "loss" && *mt.Step == 1 && mt.Value != 0.5 {
			t.Fatalf("the first report must stand: %+v", mt)
		}
	}
	for _, bad := range []string{`{}`, `{"metrics":[]}`, `{"metrics":[{"name":"x"}],"extra":1}`, `[]`} {
		if r := report(exec, bad); r.Status != 422 {
			t.Fatalf("%s: %d", bad, r.Status)
		}
	}
}

func statusesOf(t *testing.T, r response) string {
	t.Helper()
	var body struct{ Results []struct{ Status string } }
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, x := range body.Results {
		s = append(s, x.Status)
	}
	return strings.Join(s, ",")
}

// Close waits for the lease reaper: closing the database while a reap was in flight was
// a data race in the driver's pool (seen by -race in a failing run).
func TestCloseWaitsForTheReaper(t *testing.T) {
	for range 5 {
		m := mustMain(t, func(c *Config) { c.RunLease = 10 * time.Millisecond })
		time.Sleep(30 * time.Millisecond) // a reap every millisecond meanwhile
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// What a foreign client sent with no native field is kept with the run, as sent, and the
// full view gives it back; an unknown protocol's name is refused with its field.
func TestRunKeepsForeignData(t *testing.T) {
	m := mustMain(t, nil)
	c := client{t: t, base: m.URL, token: testAdmin}
	manifest := map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "spec": map[string]any{"entrypoint": "main"}}
	r := c.do("POST", "/api/v1/runs", map[string]any{"name": "kept", "foreign": map[string]any{"kfp": map[string]any{"workflow_manifest": manifest}}})
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	id := r.JSON(t)["id"].(string)
	got := c.do("GET", "/api/v1/runs/"+id+"?view=full", nil)
	if got.Status != 200 || !strings.Contains(string(got.Body), `"foreign":{"kfp":{"workflow_manifest":{"apiVersion":"argoproj.io/v1alpha1"`) {
		t.Fatalf("full view: %d %s", got.Status, got.Body)
	}
	if r := c.do("POST", "/api/v1/runs", map[string]any{"name": "x", "foreign": map[string]any{"nope": map[string]any{}}}); r.Status != 422 || !strings.Contains(string(r.Body), "/foreign") {
		t.Fatalf("unknown protocol: %d %s", r.Status, r.Body)
	}
}
