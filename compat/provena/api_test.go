package provena

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"provgraph"
	"provgraph/auth"
	"provgraph/lineage"
	"provgraph/registry"
	"provgraph/runs"
)

// memJobs keeps jobs in memory: the handlers' rules are tested here, the Neo4j store in
// graph (TestProvenaJobs).
type memJobs struct{ jobs []runs.ProvenaJob }

func (m *memJobs) AddProvenaJobs(_ context.Context, js []runs.ProvenaJob) error {
	m.jobs = append(m.jobs, js...)
	return nil
}

func (m *memJobs) ProvenaJob(_ context.Context, id string) (runs.ProvenaJob, error) {
	for _, j := range m.jobs {
		if j.SessionID == id {
			return j, nil
		}
	}
	return runs.ProvenaJob{}, provgraph.Errorf(provgraph.NotFound, "no job %q", id)
}

func (m *memJobs) ListProvenaJobs(_ context.Context, user, batch string, after *runs.ProvenaJobCursor, limit int) ([]runs.ProvenaJob, error) {
	var out []runs.ProvenaJob
	for i := len(m.jobs) - 1; i >= 0 && len(out) < limit; i-- { // added oldest first: newest first is backwards
		j := m.jobs[i]
		if j.Username != user || (batch != "" && j.BatchID != batch) {
			continue
		}
		if after != nil && !j.CreatedAt.Before(after.CreatedAt) {
			continue
		}
		out = append(out, j)
	}
	return out, nil
}

type oneNode struct{}

func (oneNode) Walk(_ context.Context, q lineage.Query) (lineage.Result, error) {
	if strings.HasSuffix(q.ID, "ZZZZZZZZZZZZZZZZZZZZZZZZZZ") {
		return lineage.Result{}, provgraph.Errorf(provgraph.NotFound, "no record with id %q", q.ID)
	}
	return lineage.Result{Nodes: []lineage.Node{{ID: q.ID, Kind: "Dataset"}, {ID: "agents/u", Kind: "User"}}}, nil
}

func call(t *testing.T, h http.Handler, who, method, target, body string) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r = r.WithContext(auth.NewContext(r.Context(), auth.Principal{Subject: who, Role: auth.Writer}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var out map[string]any
	json.Unmarshal(w.Body.Bytes(), &out)
	return w.Code, out
}

func route(api *api, path string) http.Handler {
	for _, rt := range API(api.Config).Routes {
		if rt.Path == path {
			return rt.Handler
		}
	}
	panic("no route " + path)
}

func TestJobsAreTheirOwners(t *testing.T) {
	jobs := &memJobs{}
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, who := range []string{"ada", "ada", "bo", "ada"} {
		jobs.jobs = append(jobs.jobs, runs.ProvenaJob{SessionID: "s" + string(rune('0'+i)), Username: who, CreatedAt: at.Add(time.Duration(i) * time.Second),
			Payload: json.RawMessage(`{}`), JobType: jobType, JobSubType: subLodge, Status: statusSucceeded, Result: json.RawMessage(`{"record":{}}`)})
	}
	a := &api{Config{Jobs: jobs, Lineage: oneNode{}, Now: time.Now}}
	fetch := route(a, "/jobs/user/fetch")
	if code, body := call(t, fetch, "ada", "GET", "/jobs/user/fetch?session_id=s0", ""); code != 200 || body["job"].(map[string]any)["gsi_status"] != "ok" ||
		body["job"].(map[string]any)["created_timestamp"] != float64(at.Unix()) {
		t.Fatalf("own job: %d %v", code, body)
	}
	if code, body := call(t, fetch, "bo", "GET", "/jobs/user/fetch?session_id=s0", ""); code != 401 {
		t.Fatalf("another's job: %d %v", code, body)
	}
	if code, body := call(t, fetch, "ada", "GET", "/jobs/user/fetch?session_id=nope", ""); code != 400 || body["detail"] != "Item was not found." {
		t.Fatalf("unknown job: %d %v", code, body)
	}
	if code, _ := call(t, fetch, "ada", "GET", "/jobs/user/fetch", ""); code != 422 {
		t.Fatalf("no session id: %d", code)
	}
	list := route(a, "/jobs/user/list")
	var seen []string
	key := "null"
	for range 4 {
		code, body := call(t, list, "ada", "POST", "/jobs/user/list", `{"limit":2,"pagination_key":`+key+`}`)
		if code != 200 {
			t.Fatalf("list: %d %v", code, body)
		}
		for _, j := range body["jobs"].([]any) {
			seen = append(seen, j.(map[string]any)["session_id"].(string))
		}
		if body["pagination_key"] == nil {
			break
		}
		b, _ := json.Marshal(body["pagination_key"])
		key = string(b)
	}
	if strings.Join(seen, ",") != "s3,s1,s0" {
		t.Fatalf("ada's jobs %v", seen)
	}
	if code, _ := call(t, list, "ada", "POST", "/jobs/user/list", `{"limit":0}`); code != 400 {
		t.Fatalf("limit 0: %d", code)
	}
}

func TestExploreStatuses(t *testing.T) {
	a := &api{Config{Lineage: oneNode{}, Now: time.Now}}
	up := route(a, "/explore/upstream")
	id := "p/01JAAAAAAAAAAAAAAAAAAAAAAA"
	code, body := call(t, up, "ada", "GET", "/explore/upstream?starting_id="+strings.ReplaceAll(id, "/", "%2F"), "")
	if code != 200 || body["record_count"] != float64(1) || body["status"].(map[string]any)["success"] != true {
		t.Fatalf("explore: %d %v", code, body)
	}
	for q, want := range map[string]int{
		"starting_id=" + id + "&depth=11": 400, "starting_id=" + id + "&depth=x": 422, "depth=2": 422,
		"starting_id=p/01JZZZZZZZZZZZZZZZZZZZZZZZZZZ": 404, "starting_id=not-an-id": 404,
	} {
		if code, body := call(t, up, "ada", "GET", "/explore/upstream?"+q, ""); code != want || body["detail"] == nil {
			t.Errorf("%s: %d %v, want %d", q, code, body, want)
		}
	}
}

func TestRegisterShapeErrorsAre422(t *testing.T) {
	a := &api{Config{Jobs: &memJobs{}, Now: time.Now}}
	reg := route(a, "/model_run/register")
	if code, body := call(t, reg, "ada", "POST", "/model_run/register", `{"display_name": 3}`); code != 422 || len(body["detail"].([]any)) != 8 {
		t.Fatalf("not a record: %d %v", code, body)
	}
	bad := `{"workflow_template_id":"x","inputs":[{"dataset_template_id":"t","dataset_id":"d","dataset_type":"S3"}],"outputs":[],"display_name":"n","description":"d","associations":{"modeller_id":"m"},"start_time":1,"end_time":2}`
	if code, body := call(t, reg, "ada", "POST", "/model_run/register", bad); code != 400 || !strings.Contains(body["detail"].(string), "dataset_type") {
		t.Fatalf("a wrong dataset_type: %d %v", code, body)
	}
}

// fakeRuns records re-lodges; fakeRegistry holds current model runs.
type fakeRuns struct{ updated []string }

func (f *fakeRuns) Register(context.Context, []byte, registry.Actor, string) (registry.Record, error) {
	return registry.Record{}, nil
}

func (f *fakeRuns) RegisterBatch(context.Context, [][]byte, registry.Actor, string, runs.Mode) ([]runs.Result, error) {
	return nil, nil
}

func (f *fakeRuns) Update(_ context.Context, id string, raw []byte, _ registry.Actor, reason string) (registry.Record, error) {
	if reason != relodgeReason || !json.Valid(raw) || strings.Contains(string(raw), "dataset_type") {
		return registry.Record{}, provgraph.Errorf(provgraph.Invalid, "update of %s with %q: %s", id, reason, raw)
	}
	f.updated = append(f.updated, id)
	return registry.Record{ID: id}, nil
}

type fakeRegistry struct{ recs []registry.Record }

func (f *fakeRegistry) Get(_ context.Context, _ registry.Kind, id string, _ int, _ registry.Viewer) (registry.Record, error) {
	for _, r := range f.recs {
		if r.ID == id {
			return r, nil
		}
	}
	return registry.Record{}, registry.ErrNotFound("model-run", id)
}

func (f *fakeRegistry) History(context.Context, registry.Kind, string, registry.Viewer) ([]registry.Record, error) {
	return nil, nil
}

func (f *fakeRegistry) List(_ context.Context, q registry.ListQuery) (registry.Page, error) {
	// One record a page, so that paging is followed.
	i := 0
	if q.After != nil {
		for j, r := range f.recs {
			if r.ID == q.After.ID {
				i = j + 1
			}
		}
	}
	if i >= len(f.recs) {
		return registry.Page{}, nil
	}
	p := registry.Page{Records: f.recs[i : i+1]}
	if i+1 < len(f.recs) {
		p.NextPageToken = q.NextToken(f.recs[i])
	}
	return p, nil
}

func (f *fakeRegistry) Delete(context.Context, registry.Kind, string, registry.Actor, string) error {
	return nil
}

func TestStoreAllRelodgesEveryRun(t *testing.T) {
	rec := func(id string) registry.Record {
		return registry.Record{ID: id, Record: json.RawMessage(`{"workflow_template_id":"p/wf","inputs":[{"dataset_template_id":"p/t","dataset_id":"p/d"}],` +
			`"outputs":[],"display_name":"r","description":"d","associations":{"modeller_id":"p/m"},"start_time":"2025-01-01T00:00:00Z","end_time":1735693200}`)}
	}
	ids := []string{"p/01JAAAAAAAAAAAAAAAAAAAAAA1", "p/01JAAAAAAAAAAAAAAAAAAAAAA2", "p/01JAAAAAAAAAAAAAAAAAAAAAA3"}
	reg := &fakeRegistry{recs: []registry.Record{rec(ids[0]), rec(ids[1]), rec(ids[2])}}
	mr := &fakeRuns{}
	a := &api{Config{ModelRuns: mr, Registry: reg, Now: time.Now}}
	code, body := call(t, route(a, "/admin/store_all_registry_records"), "admin", "POST", "/admin/store_all_registry_records", "")
	if code != 200 || strings.Join(mr.updated, ",") != strings.Join(ids, ",") {
		t.Fatalf("store all: %d %v, re-lodged %v", code, body, mr.updated)
	}
	mr.updated = nil
	items, _ := json.Marshal([]map[string]any{{"id": ids[1], "item_subtype": "MODEL_RUN", "record": json.RawMessage(rec(ids[1]).Record)},
		{"id": "not-ours", "record": json.RawMessage(rec(ids[1]).Record)}})
	code, body = call(t, route(a, "/admin/store_records"), "admin", "POST", "/admin/store_records", string(items))
	if code != 400 || len(mr.updated) != 1 || !strings.Contains(body["detail"].(string), "record 1") {
		t.Fatalf("store records with a foreign id: %d %v, re-lodged %v", code, body, mr.updated)
	}
}
