package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"mime/multipart"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"provgraph/auth"
)

// The Azure ML facade over HTTP, in the shapes the SDK v1 sends (test_azureml.py drives
// the SDK itself): discovery without a token, the three submits, the run-history reads,
// PATCH, runs:query, both cancels, and a client's run id resolving to one provgraph run
// whoever resubmits it.
func TestAzureMLOverHTTP(t *testing.T) {
	m := mustMain(t, func(c *Config) { c.ArtifactDir = filepath.Join(t.TempDir(), "artifacts") })
	user, other := tokenClient(t, m, auth.Writer, "user"), tokenClient(t, m, auth.Writer, "other")
	anon := client{t: t, base: user.base}
	ws := "/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w"
	exp := strings.ReplaceAll(m.Config.IDPrefix, "/", "-") + "-exp"
	run1 := exp + "_1700000000_0a1b2c3d"

	if r := anon.do("GET", "/azureml/discovery", nil); r.Status != 200 || r.JSON(t)["history"] != user.base {
		t.Fatalf("discovery: %d %s", r.Status, r.Body)
	}
	if r := anon.do("GET", "/history/v1.0"+ws+"/experiments/"+exp, nil); r.Status != 401 || r.JSON(t)["error"].(map[string]any)["code"] != "UserError" {
		t.Fatalf("no token: %d %s", r.Status, r.Body)
	}
	e := user.do("POST", "/history/v1.0"+ws+"/experiments/"+exp, nil).JSON(t)
	if e["name"] != exp || e["experimentId"] == "" {
		t.Fatalf("experiment: %v", e)
	}

	def := `{"Configuration": {"Script": "train.py", "Arguments": ["--lr", 0.1], "Target": "gpu"}, "SnapshotId": "snap-1"}`
	submit := "/execution/v1.0" + ws + "/experiments/" + exp + "/snapshotrun?runId=" + run1
	for _, c := range []client{user, user, other} { // the SDK's retry, then another caller: one run
		if r := c.do("POST", submit, def); r.Status != 200 || r.JSON(t)["runId"] != run1 {
			t.Fatalf("snapshotrun: %d %s", r.Status, r.Body)
		}
	}
	page := user.do("GET", "/api/v1/runs?tag=azureml.run_id:"+run1+"&view=full", nil).JSON(t)["runs"].([]any)
	if len(page) != 1 {
		t.Fatalf("%d runs for one run id", len(page))
	}
	native := page[0].(map[string]any)
	if native["study_id"] != e["experimentId"] || native["kind"] != "job" || native["name"] != run1 {
		t.Fatalf("native run: %v", native)
	}

	history := "/history/v1.0" + ws + "/experiments/" + exp + "/runs/" + run1
	byID := "/history/v1.0" + ws + "/experimentids/" + url.PathEscape(e["experimentId"].(string)) + "/runs/" + run1
	for _, p := range []string{history, byID} {
		d := user.do("GET", p, nil).JSON(t)
		if d["runId"] != run1 || d["rootRunId"] != run1 || d["status"] != "Queued" || d["runUuid"] != native["id"] ||
			d["properties"].(map[string]any)["ContentSnapshotId"] != "snap-1" || d["target"] != "gpu" {
			t.Fatalf("GET %s: %v", p, d)
		}
		if _, ok := d["runNumber"].(float64); !ok {
			t.Fatalf("runNumber: %v", d["runNumber"])
		}
	}
	r := user.do("PATCH", history, `{"runId": "`+run1+`", "properties": {"ContentSnapshotId": "snap-1", "extra": "x", "gone": null}}`,
		"Content-Type", "application/json-patch+json")
	if p := r.JSON(t)["properties"].(map[string]any); r.Status != 200 || p["extra"] != "x" || p["ContentSnapshotId"] != "snap-1" || len(p) != 2 {
		t.Fatalf("PATCH: %d %s", r.Status, r.Body)
	}
	if p := user.do("GET", history+"/details", nil).JSON(t)["properties"].(map[string]any); p["extra"] != "x" {
		t.Fatalf("details after PATCH: %v", p)
	}
	// What PATCH set is stored with the run: a fresh server on the same database reads it,
	// and so does the native API (as the tag it is kept as).
	m.Close()
	m2 := mustMain(t, func(c *Config) {
		c.IDPrefix, c.TokenFile, c.ArtifactDir = m.Config.IDPrefix, m.Config.TokenFile, m.Config.ArtifactDir
	})
	user.base, other.base, anon.base = m2.URL, m2.URL, m2.URL
	if p := user.do("GET", history, nil).JSON(t)["properties"].(map[string]any); p["extra"] != "x" || p["ContentSnapshotId"] != "snap-1" {
		t.Fatalf("PATCHed properties after a restart: %v", p)
	}
	if tags := user.do("GET", "/api/v1/runs/"+native["id"].(string), nil).JSON(t)["tags"].(map[string]any); tags["azureml.property.extra"] != "x" {
		t.Fatalf("native tags after PATCH: %v", tags)
	}
	if r := user.do("PATCH", history, `{"properties": {"bad key": "x"}}`); r.Status != 400 || r.JSON(t)["error"].(map[string]any)["code"] != "ValidationError" {
		t.Fatalf("PATCH of a property no tag can keep: %d %s", r.Status, r.Body)
	}

	// startrun: the project zip is kept content-addressed and served back to the executor.
	var project bytes.Buffer
	zw := zip.NewWriter(&project)
	f, _ := zw.Create("train.py")
	_, _ = f.Write([]byte("print('hi')\n"))
	_ = zw.Close()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, _ := mw.CreateFormFile("runDefinitionFile", "definition.json")
	_, _ = part.Write([]byte(`{"Configuration": {"Script": "train.py"}}`))
	part, _ = mw.CreateFormFile("projectZipFile", "project.zip")
	_, _ = part.Write(project.Bytes())
	_ = mw.Close()
	run2 := exp + "_1700000001_0a1b2c3e"
	if r := user.do("POST", "/execution/v1.0"+ws+"/experiments/"+exp+"/startrun?runId="+run2, body.Bytes(), "Content-Type", mw.FormDataContentType()); r.Status != 200 {
		t.Fatalf("startrun: %d %s", r.Status, r.Body)
	}
	got := user.do("GET", "/execution/v1.0"+ws+"/experiments/"+exp+"/runId/"+run2+"/project.zip", nil)
	sum := sha256.Sum256(project.Bytes())
	if got.Status != 200 || !bytes.Equal(got.Body, project.Bytes()) || got.Header.Get("ETag") != `"`+hex.EncodeToString(sum[:])+`"` {
		t.Fatalf("project.zip: %d %q", got.Status, got.Header.Get("ETag"))
	}
	// The project is an entity the run used from its submit on, before any executor holds it.
	id2 := user.do("GET", "/api/v1/runs?tag=azureml.run_id:"+run2, nil).JSON(t)["runs"].([]any)[0].(map[string]any)["id"].(string)
	doc := user.do("GET", "/api/v1/prov/"+id2+"?format=provjson", nil).JSON(t)
	var usedProject bool
	for _, u := range doc["used"].(map[string]any) {
		u := u.(map[string]any)
		ent, _ := doc["entity"].(map[string]any)[u["prov:entity"].(string)].(map[string]any)
		if u["prov:activity"] == "id:"+id2 && ent != nil && ent["prov:label"] == "azureml/project.zip" {
			usedProject = true
		}
	}
	if !usedProject {
		t.Fatalf("the project is not used in the run's PROV: %v", doc)
	}

	// runs:query, newest first; a filter it cannot honour is refused.
	q := user.do("POST", "/history/v1.0"+ws+"/experiments/"+exp+"/runs:query", `{"filter": "(ParentRunId eq null)", "orderby": ["StartTimeUtc desc"], "top": 500}`).JSON(t)
	vs := q["value"].([]any)
	if len(vs) != 2 || vs[0].(map[string]any)["runId"] != run2 || vs[1].(map[string]any)["runId"] != run1 || q["continuationToken"] != nil {
		t.Fatalf("runs:query: %v", q)
	}
	if r := user.do("POST", "/history/v1.0"+ws+"/experiments/"+exp+"/runs:query", `{"filter": "Status eq 'Running'"}`); r.Status != 400 {
		t.Fatalf("unsupported filter: %d", r.Status)
	}

	// Cancel through the cancelUri, then the ingest wait the SDK makes; the event cancels too.
	cancelURI := user.do("GET", history, nil).JSON(t)["cancelUri"].(string)
	if !strings.HasPrefix(cancelURI, user.base+"/execution/v1.0"+ws+"/experiments/"+exp+"/runId/"+run1+"/cancel") {
		t.Fatalf("cancelUri %q", cancelURI)
	}
	if r := user.do("POST", strings.TrimPrefix(cancelURI, user.base), nil); r.Status != 200 || r.JSON(t)["runId"] != run1 {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	if r := user.do("GET", history+"/metricsingest/wait", nil); r.Status != 200 {
		t.Fatalf("wait: %d", r.Status)
	}
	d := user.do("GET", history, nil).JSON(t)
	if d["status"] != "Canceled" || d["cancelUri"] != nil {
		t.Fatalf("after cancel: %v", d)
	}
	if r := user.do("POST", history[:strings.LastIndex(history, "/")+1]+run2+"/events", `{"name": "Microsoft.MachineLearning.Run.Canceled"}`); r.Status != 200 ||
		user.do("GET", history[:strings.LastIndex(history, "/")+1]+run2, nil).JSON(t)["status"] != "Canceled" {
		t.Fatalf("cancel event: %d %s", r.Status, r.Body)
	}

	// A local run answers the invocation zip.
	body.Reset()
	mw = multipart.NewWriter(&body)
	part, _ = mw.CreateFormFile("files", "definition.json")
	_, _ = part.Write([]byte(`{"Configuration": {"Script": "train.py", "Target": "local"}}`))
	part, _ = mw.CreateFormFile("files", "aml_config.zip")
	_, _ = part.Write([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	_ = mw.Close()
	run3 := exp + "_1700000002_0a1b2c3f"
	r = user.do("POST", "/execution/v1.0"+ws+"/experiments/"+exp+"/localrun?runId="+run3, body.Bytes(), "Content-Type", mw.FormDataContentType())
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("localrun: %d %s", r.Status, r.Body)
	}
	zr, err := zip.NewReader(bytes.NewReader(r.Body), int64(len(r.Body)))
	if err != nil || len(zr.File) != 2 || zr.File[0].Name != "azureml-setup/Invocation.sh" {
		t.Fatalf("invocation zip: %v", err)
	}
	if k := user.do("GET", "/api/v1/runs?tag=azureml.run_id:"+run3, nil).JSON(t)["runs"].([]any)[0].(map[string]any)["kind"]; k != "local" {
		t.Fatalf("local run kind %v", k)
	}

	// Bad input, in Azure's shape; nothing is created.
	for path, b := range map[string]string{
		"/execution/v1.0" + ws + "/experiments/" + exp + "/snapshotrun?runId=bad%2Fid":               def,
		"/execution/v1.0" + ws + "/experiments/" + exp + "/snapshotrun?runId=" + exp + "_9_ffffffff": `{"SnapshotId": "x"}`,
	} {
		r := user.do("POST", path, b)
		if er := r.JSON(t)["error"].(map[string]any); r.Status != 400 || er["code"] != "ValidationError" {
			t.Fatalf("%s: %d %s", path, r.Status, r.Body)
		}
	}
	if r := user.do("GET", history[:strings.LastIndex(history, "/")+1]+exp+"_9_ffffffff", nil); r.Status != 404 {
		t.Fatalf("a refused submit made a run: %d", r.Status)
	}
}
