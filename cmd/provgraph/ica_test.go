package main

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"provgraph/auth"
)

// Illumina ICA task runs over HTTP, in the shapes of ICA's published TaskRunsApi (no
// current client exists): create, get, list with its filters and page tokens, abort
// while Pending or Running, and the executor's heartbeat, all on provgraph's runs.
func TestICATaskRunsOverHTTP(t *testing.T) {
	m := mustMain(t, nil)
	as := func(role auth.Role, name string) client { return tokenClient(t, m, role, name) }
	user, exec, other, reader := as(auth.Writer, "user"), as(auth.Writer, "executor"), as(auth.Writer, "other"), as(auth.Reader, "reader")
	prefix := m.Config.IDPrefix + "-ica-"
	execution := map[string]any{
		"image":   map[string]any{"name": "quay.io/bwa", "tag": "0.7.17", "credentials": map[string]any{"username": "u", "password": "s3cret"}},
		"command": "bwa", "args": []string{"mem", "/in/ref.fa"},
		"inputs":           []any{map[string]any{"path": "/in/ref.fa", "url": "s3://b/ref.fa", "type": "File", "credentials": map[string]any{"AWS_SECRET": "s3cret"}}},
		"environment":      map[string]any{"variables": map[string]string{"THREADS": "4"}, "resources": map[string]any{"type": "standard", "size": "medium", "cpuCores": 4, "memoryGb": 16}},
		"workingDirectory": "/work", "retryLimit": 3,
	}
	create := func(name string) map[string]any {
		t.Helper()
		r := user.do("POST", "/v1/tasks/runs", map[string]any{"name": name, "description": "align", "acl": []string{"wid:team"}, "execution": execution},
			"Content-Type", "application/json-patch+json")
		if r.Status != 201 || r.Header.Get("Location") != "/v1/tasks/runs/"+r.JSON(t)["id"].(string) {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		return r.JSON(t)
	}
	run := create(prefix + "one")
	id := run["id"].(string)
	if run["status"] != "Pending" || run["name"] != prefix+"one" || run["href"] != "/v1/tasks/runs/"+id || run["typeOfResource"] != "standard" {
		t.Fatalf("created: %v", run)
	}
	if _, err := time.Parse(time.RFC3339, run["timeCreated"].(string)); err != nil || !strings.HasSuffix(run["timeCreated"].(string), "Z") {
		t.Fatalf("timeCreated %v", run["timeCreated"])
	}
	x := run["execution"].(map[string]any)
	if x["command"] != "bwa" || x["workingDirectory"] != "/work" || x["image"].(map[string]any)["tag"] != "0.7.17" {
		t.Fatalf("execution: %v", x)
	}
	// Credentials are accepted and never kept: not in the answer, not in the native run.
	native := reader.do("GET", "/api/v1/runs/"+id+"?view=full", nil)
	if strings.Contains(string(native.Body), "s3cret") || strings.Contains(string(user.do("GET", "/v1/tasks/runs/"+id, nil).Body), "s3cret") {
		t.Fatalf("a credential was kept: %s", native.Body)
	}
	ex := native.JSON(t)["spec"].(map[string]any)["executor"].(map[string]any)
	if ex["image"] != "quay.io/bwa:0.7.17" || !slices.Equal(toStrings(ex["command"]), []string{"bwa"}) || ex["resources"].(map[string]any)["ram_gb"] != 16.0 {
		t.Fatalf("native executor: %v", ex)
	}
	// The id reaches the run raw or escaped.
	for _, p := range []string{id, url.PathEscape(id)} {
		if r := reader.do("GET", "/v1/tasks/runs/"+p, nil); r.Status != 200 || r.JSON(t)["id"] != id {
			t.Fatalf("get %s: %d %s", p, r.Status, r.Body)
		}
	}

	// Heartbeat: only the executor holding the run, only while it runs; it extends the lease.
	hb := func(c client, want int) {
		t.Helper()
		r := c.do("POST", "/v1/tasks/runs/"+id+":heartbeat", map[string]any{"podName": "p-1", "jobRetryCount": 0, "containerStatus": []any{}})
		if r.Status != want {
			t.Fatalf("heartbeat: %d %s, want %d", r.Status, r.Body, want)
		}
		if want == 200 && string(r.Body) != "{}\n" {
			t.Fatalf("TaskRunHeartbeat: %s", r.Body)
		}
	}
	hb(exec, 400) // still Pending
	if r := exec.do("POST", "/api/v1/runs/"+id+":claim", nil); r.Status != 200 {
		t.Fatalf("claim: %d %s", r.Status, r.Body)
	}
	lease := func() time.Time {
		t.Helper()
		l, err := time.Parse(time.RFC3339Nano, reader.do("GET", "/api/v1/runs/"+id, nil).JSON(t)["lease_until"].(string))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	before := lease()
	time.Sleep(20 * time.Millisecond)
	hb(exec, 200)
	if !lease().After(before) {
		t.Fatal("the heartbeat did not extend the lease")
	}
	hb(other, 403)
	if r := exec.do("POST", "/v1/tasks/runs/"+id+":heartbeat", `{"podName": "p", "colour": "red"}`); r.Status != 400 {
		t.Fatalf("a body that is no HeartbeatTaskRunRequest: %d", r.Status)
	}
	got := reader.do("GET", "/v1/tasks/runs/"+id, nil).JSON(t)
	if got["status"] != "Running" || got["logs"].([]any)[0].(map[string]any)["startTime"] == nil {
		t.Fatalf("running: %v", got)
	}

	// Abort: a Running run is Aborting until the executor acknowledges; then it refuses.
	abort := func(id string, want int) map[string]any {
		t.Helper()
		r := user.do("PUT", "/v1/tasks/runs/"+id+":abort", nil)
		if r.Status != want {
			t.Fatalf("abort: %d %s, want %d", r.Status, r.Body, want)
		}
		return r.JSON(t)
	}
	if s := abort(id, 200); s["status"] != "Aborting" || s["execution"] != nil || s["logs"] != nil {
		t.Fatalf("abort answers a TaskRunSummary: %v", s)
	}
	if e := abort(id, 400); e["code"] != "BadRequest" || !strings.Contains(e["message"].(string), "Pending or Running") {
		t.Fatalf("abort while aborting: %v", e)
	}
	exec.do("POST", "/api/v1/runs/"+id+":canceled", nil)
	if got := reader.do("GET", "/v1/tasks/runs/"+id, nil).JSON(t); got["status"] != "Aborted" || got["logs"].([]any)[0].(map[string]any)["endTime"] == nil {
		t.Fatalf("aborted: %v", got)
	}
	abort(id, 400)
	two := create(prefix + "two")["id"].(string)
	if s := abort(two, 200); s["status"] != "Aborted" {
		t.Fatalf("abort a pending run: %v", s)
	}
	three := create(prefix + "three")["id"].(string)
	exec.do("POST", "/api/v1/runs/"+three+":claim", nil)
	exec.do("POST", "/api/v1/runs/"+three+":complete", nil)
	create(prefix + "one-more")
	create(prefix + "o")

	// Lists: summaries, exact names, statuses, sort, pages.
	list := func(q string, want int) map[string]any {
		t.Helper()
		r := reader.do("GET", "/v1/tasks/runs?"+q, nil)
		if r.Status != want {
			t.Fatalf("list %s: %d %s, want %d", q, r.Status, r.Body, want)
		}
		return r.JSON(t)
	}
	names := func(page map[string]any) []string {
		var out []string
		for _, it := range page["items"].([]any) {
			item := it.(map[string]any)
			if item["execution"] != nil {
				t.Fatalf("a list item is a TaskRunSummary: %v", item)
			}
			out = append(out, strings.TrimPrefix(item["name"].(string), prefix))
		}
		return out
	}
	if got := names(list("names="+url.QueryEscape(prefix+"one"), 200)); !slices.Equal(got, []string{"one"}) {
		t.Fatalf("names is exact: %v", got)
	}
	if got := names(list("names="+url.QueryEscape(prefix+"one,"+prefix+"three")+"&sort=name+desc", 200)); !slices.Equal(got, []string{"three", "one"}) {
		t.Fatalf("names, sorted: %v", got)
	}
	all := url.QueryEscape(strings.Join([]string{prefix + "one", prefix + "two", prefix + "three", prefix + "one-more", prefix + "o"}, ","))
	if got := names(list("names="+all+"&status=Pending,Completed&sort=name", 200)); !slices.Equal(got, []string{"o", "one-more", "three"}) {
		t.Fatalf("statuses: %v", got)
	}
	var seen []string
	page := list("names="+all+"&pageSize=2&sort=timeCreated+asc", 200)
	first := page["firstPageToken"].(string)
	for n := 0; ; n++ {
		got := names(page)
		if len(got) == 0 || len(got) > 2 || page["itemCount"] != float64(len(got)) {
			t.Fatalf("page %d: %v", n, page)
		}
		seen = append(seen, got...)
		next, _ := page["nextPageToken"].(string)
		if next == "" {
			break
		}
		page = list("names="+all+"&pageSize=2&sort=timeCreated+asc&pageToken="+url.QueryEscape(next), 200)
	}
	if !slices.Equal(seen, []string{"one", "two", "three", "one-more", "o"}) {
		t.Fatalf("pages: %v", seen)
	}
	if got := names(list("names="+all+"&pageSize=2&sort=timeCreated+asc&pageToken="+url.QueryEscape(first), 200)); !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("firstPageToken: %v", got)
	}
	for _, q := range []string{"status=Bogus", "versions=v1", "sort=timeModified", "sort=colour", "pageSize=0", "pageSize=1001", "pageToken=forged", "colour=red",
		"names=" + all + "&pageSize=3&pageToken=" + url.QueryEscape(first)} {
		if e := list(q, 400); e["code"] != "BadRequest" || e["message"] == "" {
			t.Fatalf("%s: %v", q, e)
		}
	}

	// Errors, in ICA's ErrorResponse.
	bad := user.do("POST", "/v1/tasks/runs", map[string]any{"name": " ", "execution": map[string]any{"image": map[string]any{}}})
	e := bad.JSON(t)
	if bad.Status != 400 || e["code"] != "BadRequest" || len(e["details"].([]any)) != 2 || e["details"].([]any)[0].(map[string]any)["target"] != "execution.image.name" {
		t.Fatalf("invalid: %d %s", bad.Status, bad.Body)
	}
	if r := user.do("POST", "/v1/tasks/runs", `{"name": "x", "execution": {"image": {"name": "i"}}}`, "Content-Type", "text/json"); r.Status != 201 {
		t.Fatalf("text/json: %d %s", r.Status, r.Body)
	}
	if r := user.do("POST", "/v1/tasks/runs", `{"name": "x"}`, "Content-Type", "text/plain"); r.Status != 415 {
		t.Fatalf("text/plain: %d", r.Status)
	}
	if r := reader.do("POST", "/v1/tasks/runs", map[string]any{"name": "x", "execution": execution}); r.Status != 403 || r.JSON(t)["code"] != "Forbidden" {
		t.Fatalf("reader creates: %d %s", r.Status, r.Body)
	}
	if r := (client{t: t, base: m.URL}).do("GET", "/v1/tasks/runs", nil); r.Status != 401 || r.JSON(t)["code"] != "Unauthorized" {
		t.Fatalf("no token: %d %s", r.Status, r.Body)
	}
	if r := reader.do("GET", "/v1/tasks/runs/local/01JNOSUCHRUN000000000000000", nil); r.Status != 404 || r.JSON(t)["code"] != "NotFound" {
		t.Fatalf("unknown: %d %s", r.Status, r.Body)
	}
	// Only the task-runs subtree is served: py-tes falls back to /v1/tasks.
	if r := reader.do("GET", "/v1/tasks", nil); r.Status != 404 {
		t.Fatalf("/v1/tasks: %d", r.Status)
	}
}

func toStrings(v any) []string {
	var out []string
	b, _ := json.Marshal(v)
	_ = json.Unmarshal(b, &out)
	return out
}
