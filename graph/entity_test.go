package graph

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"provgraph"
	"provgraph/registry"
)

var actor = registry.Actor{Subject: "test:graph", Name: "graph tests"}

func kind(t testing.TB, route string) registry.Kind {
	t.Helper()
	k, ok := registry.KindByRoute(route)
	if !ok {
		t.Fatalf("no kind %s", route)
	}
	return k
}

func mustCreate(t testing.TB, svc *registry.Service, route, doc string) registry.Record {
	t.Helper()
	r, err := svc.Create(t.Context(), kind(t, route), []byte(doc), actor, "")
	if err != nil {
		t.Fatalf("create %s: %v", route, err)
	}
	return r
}

func code(err error) provgraph.Code { return provgraph.ErrorCode(err) }

func fields(err error) []string {
	var e *provgraph.Error
	if !errors.As(err, &e) {
		return nil
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Path)
	}
	return out
}

func orgDoc(name string) string {
	return fmt.Sprintf(`{"display_name":%q,"name":%q}`, name, name)
}

func datasetDoc(name, publisher string) string {
	return fmt.Sprintf(`{"display_name":%q,"name":%q,"description":"d","location":"s3://bucket/%s","license":"https://creativecommons.org/licenses/by/4.0/","publisher_id":%q,"created_date":"2024-01-01","published_date":"2024-02-01","keywords":["reef","%s"]}`, name, name, name, publisher, name)
}

func TestCreateGetUpdateHistory(t *testing.T) {
	svc, _ := mustService(t)
	org := mustCreate(t, svc, "organisations", orgDoc("CSIRO"))
	if org.Version != 1 || !org.Latest || org.CreatedBy != actor.Subject || org.Name != "CSIRO" {
		t.Fatalf("created %+v", org)
	}
	got, err := svc.Get(t.Context(), kind(t, "organisations"), org.ID, 0, registry.Everyone)
	if err != nil || string(got.Record) != string(org.Record) {
		t.Fatalf("get: %v %s", err, got.Record)
	}
	if _, err := svc.Update(t.Context(), kind(t, "organisations"), org.ID, []byte(orgDoc("CSIRO 2")), actor, ""); code(err) != provgraph.Invalid {
		t.Fatalf("update without reason: %v", err)
	}
	v2, err := svc.Update(t.Context(), kind(t, "organisations"), org.ID, []byte(orgDoc("CSIRO 2")), actor, "renamed")
	if err != nil {
		t.Fatal(err)
	}
	if v2.Version != 2 || v2.Name != "CSIRO 2" || v2.Reason != "renamed" || !v2.CreatedAt.Equal(org.CreatedAt) {
		t.Fatalf("v2 %+v", v2)
	}
	v1, err := svc.Get(t.Context(), kind(t, "organisations"), org.ID, 1, registry.Everyone)
	if err != nil || v1.Name != "CSIRO" || v1.Latest {
		t.Fatalf("version 1: %v %+v", err, v1)
	}
	hist, err := svc.History(t.Context(), kind(t, "organisations"), org.ID, registry.Everyone)
	if err != nil || len(hist) != 2 || hist[0].Version != 2 || hist[1].Version != 1 {
		t.Fatalf("history: %v %+v", err, hist)
	}
	if _, err := svc.Get(t.Context(), kind(t, "datasets"), org.ID, 0, registry.Everyone); code(err) != provgraph.NotFound {
		t.Fatalf("get as wrong kind: %v", err)
	}
	if _, err := svc.Get(t.Context(), kind(t, "organisations"), org.ID, 3, registry.Everyone); code(err) != provgraph.NotFound {
		t.Fatalf("missing version: %v", err)
	}
	// The revision is in the graph as PROV.
	rec, err := MustDB(t).read(t.Context(), queryOne(`MATCH (n:Record {id:$id})-[:WAS_REVISION_OF]->(o:Revision {id:$id, version:1}) RETURN count(*) AS n`, map[string]any{"id": org.ID}))
	if err != nil || rec != int64(1) {
		t.Fatalf("revision link: %v %v", err, rec)
	}
}

func TestReferencesAreCheckedAllAtOnce(t *testing.T) {
	svc, _ := mustService(t)
	org := mustCreate(t, svc, "organisations", orgDoc("publisher"))
	model := mustCreate(t, svc, "models", `{"display_name":"m","name":"m","description":"d","documentation_url":"https://doc","source_url":"https://src"}`)
	// A dataset whose publisher is a model: wrong kind.
	_, err := svc.Create(t.Context(), kind(t, "datasets"), []byte(datasetDoc("x", model.ID)), actor, "")
	if code(err) != provgraph.Invalid || strings.Join(fields(err), ",") != "/publisher_id" {
		t.Fatalf("wrong kind: %v %v", err, fields(err))
	}
	missing := registry.NewIDs("nowhere").New(org.CreatedAt)
	wf := fmt.Sprintf(`{"display_name":"w","software_id":%q,"input_templates":[{"template_id":%q}],"output_templates":[{"template_id":%q}]}`, org.ID, missing, model.ID)
	_, err = svc.Create(t.Context(), kind(t, "workflow-templates"), []byte(wf), actor, "")
	got := strings.Join(fields(err), ",")
	want := "/software_id,/input_templates/0/template_id,/output_templates/0/template_id"
	if code(err) != provgraph.Invalid || got != want {
		t.Fatalf("got %v %q, want %q", err, got, want)
	}
	// Nothing was written.
	n, err := MustDB(t).read(t.Context(), queryOne(`MATCH (w:WorkflowTemplate) WHERE w.software_id = $id RETURN count(w) AS n`, map[string]any{"id": org.ID}))
	if err != nil || n != int64(0) {
		t.Fatalf("a refused write left %v nodes (%v)", n, err)
	}
}

func TestDeleteRefusedWhileDepended(t *testing.T) {
	svc, _ := mustService(t)
	org := mustCreate(t, svc, "organisations", orgDoc("publisher"))
	ds := mustCreate(t, svc, "datasets", datasetDoc("reef", org.ID))
	err := svc.Delete(t.Context(), kind(t, "organisations"), org.ID, actor, "gone")
	if code(err) != provgraph.Conflict || !strings.Contains(err.Error(), ds.ID) {
		t.Fatalf("delete with dependent: %v", err)
	}
	if err := svc.Delete(t.Context(), kind(t, "datasets"), ds.ID, actor, "retracted"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Get(t.Context(), kind(t, "datasets"), ds.ID, 0, registry.Everyone); code(err) != provgraph.NotFound {
		t.Fatalf("deleted record still served: %v", err)
	}
	if hist, err := svc.History(t.Context(), kind(t, "datasets"), ds.ID, registry.Everyone); err != nil || len(hist) != 1 || hist[0].DeletedAt == nil {
		t.Fatalf("history after delete: %v %+v", err, hist)
	}
	if err := svc.Delete(t.Context(), kind(t, "organisations"), org.ID, actor, "now free"); err != nil {
		t.Fatalf("delete after dependent went: %v", err)
	}
	if _, err := svc.Create(t.Context(), kind(t, "datasets"), []byte(datasetDoc("late", org.ID)), actor, ""); code(err) != provgraph.Invalid {
		t.Fatalf("reference to a deleted record: %v", err)
	}
}

func TestDeleteRacesReferencingCreate(t *testing.T) {
	svc, _ := mustService(t)
	for i := 0; i < 10; i++ {
		org := mustCreate(t, svc, "organisations", orgDoc("racer"))
		var wg sync.WaitGroup
		var delErr, createErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			delErr = svc.Delete(context.Background(), kind(t, "organisations"), org.ID, actor, "race")
		}()
		go func() {
			defer wg.Done()
			_, createErr = svc.Create(context.Background(), kind(t, "datasets"), []byte(datasetDoc("racer", org.ID)), actor, "")
		}()
		wg.Wait()
		// Exactly one may win: a dataset published by a deleted organisation is a lie.
		if (delErr == nil) == (createErr == nil) {
			t.Fatalf("round %d: delete %v, create %v", i, delErr, createErr)
		}
	}
}

func TestIdempotentCreate(t *testing.T) {
	svc, _ := mustService(t)
	k := kind(t, "studies")
	key := testPrefix(t)
	const n = 20
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := svc.Create(context.Background(), k, []byte(`{"title":"once","description":"d"}`), actor, key)
			ids[i], errs[i] = r.ID, err
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("request %d: %v %s (first %s)", i, errs[i], ids[i], ids[0])
		}
	}
	if _, err := svc.Create(t.Context(), k, []byte(`{"title":"other","description":"d"}`), actor, key); code(err) != provgraph.Conflict {
		t.Fatalf("reused key with another body: %v", err)
	}
}

func TestListPagesAreStableUnderInserts(t *testing.T) {
	svc, _ := mustService(t)
	k := kind(t, "people")
	tag := testPrefix(t)
	person := func(i int) string {
		return fmt.Sprintf(`{"display_name":"%s %03d","first_name":"P","last_name":%q,"email":"p%d@example.org"}`, tag, i, tag, i)
	}
	for i := range 25 {
		mustCreate(t, svc, "people", person(i))
	}
	for _, sort := range []string{"created_at", "created_at desc", "name", "name desc", "updated_at"} {
		t.Run(sort, func(t *testing.T) {
			seen := map[string]bool{}
			params := map[string][]string{"name": {tag}, "page_size": {"7"}, "sort": {sort}}
			var last string
			for page := 0; ; page++ {
				q, err := registry.ParseListQuery(k, params)
				if err != nil {
					t.Fatal(err)
				}
				p, err := svc.List(t.Context(), q)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range p.Records {
					if seen[r.ID] {
						t.Fatalf("page %d repeats %s", page, r.ID)
					}
					seen[r.ID] = true
					key := r.Name
					if strings.HasPrefix(sort, "name") && last != "" && (key < last) != strings.HasSuffix(sort, "desc") && key != last {
						t.Fatalf("out of order: %s after %s", key, last)
					}
					last = key
				}
				// Others insert while we page.
				mustCreate(t, svc, "people", person(100+page))
				if p.NextPageToken == "" {
					break
				}
				params["page_token"] = []string{p.NextPageToken}
			}
			if len(seen) < 25 {
				t.Fatalf("saw %d of at least 25", len(seen))
			}
		})
	}
	q, _ := registry.ParseListQuery(k, map[string][]string{"last_name": {tag}, "email": {"p3@example.org"}})
	p, err := svc.List(t.Context(), q)
	if err != nil || len(p.Records) != 1 {
		t.Fatalf("filter by email: %v %d", err, len(p.Records))
	}
	_, err = registry.ParseListQuery(k, map[string][]string{"name": {"other"}, "page_token": {q.NextToken(p.Records[0])}})
	if code(err) != provgraph.Invalid {
		t.Fatalf("token reused with other filters: %v", err)
	}
}

func TestConcurrentUpdatesNeverLoseAVersion(t *testing.T) {
	svc, _ := mustService(t)
	k := kind(t, "studies")
	st := mustCreate(t, svc, "studies", `{"title":"s","description":"d"}`)
	const n = 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svc.Update(context.Background(), k, st.ID, []byte(fmt.Sprintf(`{"title":"s%d","description":"d"}`, i)), actor, "edit")
			if err != nil && code(err) != provgraph.Conflict {
				t.Errorf("update: %v", err)
			}
			if err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	hist, err := svc.History(t.Context(), k, st.ID, registry.Everyone)
	if err != nil || len(hist) != ok+1 {
		t.Fatalf("%d updates succeeded but history has %d versions (%v)", ok, len(hist), err)
	}
	for i, h := range hist {
		if h.Version != len(hist)-i {
			t.Fatalf("versions %+v", hist)
		}
	}
}

// TestRulesAndReferencesReportedAtOnce: a workflow template that breaks a rule of its kind
// (an annotation key declared twice) and names a model that does not exist gets both in
// one answer, and nothing is written.
func TestRulesAndReferencesReportedAtOnce(t *testing.T) {
	svc, _ := mustService(t)
	missing := svc.IDs.New(time.Now())
	doc := fmt.Sprintf(`{"display_name":"w","software_id":%q,"annotations":{"required":["a"],"optional":["a"]}}`, missing)
	_, err := svc.Create(t.Context(), kind(t, "workflow-templates"), []byte(doc), actor, "")
	if got := strings.Join(fields(err), ","); code(err) != provgraph.Invalid || got != "/annotations/optional/0,/software_id" {
		t.Fatalf("%v: fields %s, want the annotation and the model", err, got)
	}
	q, _ := registry.ParseListQuery(kind(t, "workflow-templates"), map[string][]string{"software_id": {missing}})
	if page, err := svc.List(t.Context(), q); err != nil || len(page.Records) != 0 {
		t.Fatalf("written: %v %+v", err, page.Records)
	}
}
