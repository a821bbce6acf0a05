package graph

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"provgraph"
	"provgraph/prov"
	"provgraph/prov/provtest"
	"provgraph/registry"
	"provgraph/runs"
)

var executor = registry.Actor{Subject: "test:executor", Name: "an executor"}

func runService(t *testing.T) (*runs.Runs, *Runs, *registry.Service) {
	svc, _ := mustService(t)
	store := &Runs{DB: MustDB(t), IDs: svc.IDs}
	return &runs.Runs{Store: store, Schemas: svc.Schemas, IDs: svc.IDs, Now: time.Now, Lease: time.Minute}, store, svc
}

func mustRun(t *testing.T, rs *runs.Runs, doc string) runs.Run {
	t.Helper()
	r, err := rs.Create(t.Context(), []byte(doc), actor, "")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustDo(t *testing.T, rs *runs.Runs, id string, op runs.Op, who registry.Actor, outputs ...runs.RunInput) runs.Run {
	t.Helper()
	r, err := rs.Do(t.Context(), id, op, who, false, "", outputs)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	return r
}

func TestRunLifecycle(t *testing.T) {
	rs, _, svc := runService(t)
	org := mustCreate(t, svc, "organisations", orgDoc("org"))
	in := mustCreate(t, svc, "datasets", datasetDoc("in", org.ID))
	out := mustCreate(t, svc, "datasets", datasetDoc("out", org.ID))
	study := mustCreate(t, svc, "studies", `{"title":"s","description":"d"}`)
	r := mustRun(t, rs, fmt.Sprintf(`{"name":"train","kind":"task","inputs":[{"id":%q,"role":"data"}],"tags":{"team":"reef"},"study_id":%q,
		"executor":{"image":"python:3.12","command":["python","train.py"]}}`, in.ID, study.ID))
	if r.State != runs.Pending || r.Attempt != 1 || r.Tags["team"] != "reef" {
		t.Fatalf("created %+v", r)
	}
	// Bad references: every one named, nothing written.
	if _, err := rs.Create(t.Context(), []byte(fmt.Sprintf(`{"name":"x","inputs":[{"id":%q}],"study_id":%q}`, study.ID, in.ID)), actor, ""); code(err) != provgraph.Invalid || len(fields(err)) != 2 {
		t.Fatalf("bad refs: %v %v", err, fields(err))
	}
	if _, err := rs.Do(t.Context(), r.ID, runs.OpComplete, executor, false, "", nil); code(err) != provgraph.Conflict {
		t.Fatalf("complete a pending run: %v", err)
	}
	r = mustDo(t, rs, r.ID, runs.OpClaim, executor)
	if r.State != runs.Running || r.Executor != executor.Subject || r.LeaseUntil == nil || r.StartedAt == nil {
		t.Fatalf("claimed %+v", r)
	}
	if _, err := rs.Do(t.Context(), r.ID, runs.OpHeartbeat, actor, false, "", nil); code(err) != provgraph.Forbidden {
		t.Fatalf("heartbeat by another: %v", err)
	}
	lease := *r.LeaseUntil
	time.Sleep(5 * time.Millisecond)
	if r = mustDo(t, rs, r.ID, runs.OpHeartbeat, executor); !r.LeaseUntil.After(lease) {
		t.Fatalf("heartbeat did not extend the lease: %v → %v", lease, r.LeaseUntil)
	}
	r = mustDo(t, rs, r.ID, runs.OpComplete, executor, runs.RunInput{ID: out.ID, Role: "model"})
	if r.State != runs.Succeeded || r.EndedAt == nil || len(r.Outputs) != 1 || r.Outputs[0].ID != out.ID {
		t.Fatalf("completed %+v", r)
	}
	if got := fmt.Sprint(eventOps(r)); got != "[create claim complete]" {
		t.Fatalf("events %s", got)
	}
	if r, err := rs.Archive(t.Context(), r.ID, true, actor); err != nil || !r.Archived || r.State != runs.Succeeded {
		t.Fatalf("archive: %+v %v", r, err)
	}
	doc, err := (&Provenance{DB: MustDB(t)}).Document(t.Context(), r.ID, 2, registry.Everyone)
	if err != nil {
		t.Fatal(err)
	}
	software := false
	for _, n := range doc.Nodes {
		software = software || (n.ID == "agents/"+executor.Subject && slices.Contains(n.Types, "prov:SoftwareAgent"))
	}
	if !software {
		t.Fatalf("the executor is not a prov:SoftwareAgent in %+v", doc.Nodes)
	}
	provtest.JudgeDocument(t, testBase, doc)
}

func eventOps(r runs.Run) []runs.Op {
	var ops []runs.Op
	for _, e := range r.Events {
		ops = append(ops, e.Op)
	}
	return ops
}

// Fifty conflicting transitions at once on one running run: one wins, the rest are
// conflicts, and the final state and the events agree.
func TestRunConflictingTransitions(t *testing.T) {
	rs, _, _ := runService(t)
	r := mustRun(t, rs, `{"name":"race"}`)
	mustDo(t, rs, r.ID, runs.OpClaim, executor)
	ops := []runs.Op{runs.OpComplete, runs.OpCancel, runs.OpFail}
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			_, err := rs.Do(t.Context(), r.ID, ops[i%3], executor, false, "race", nil)
			switch {
			case err == nil:
				wins.Add(1)
			case code(err) == provgraph.Conflict:
				conflicts.Add(1)
			default:
				t.Errorf("transition %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != 49 {
		t.Fatalf("%d won, %d conflicted", wins.Load(), conflicts.Load())
	}
	final, err := rs.Get(t.Context(), r.ID, runs.ViewFull)
	if err != nil {
		t.Fatal(err)
	}
	last := final.Events[len(final.Events)-1]
	if len(final.Events) != 3 || last.To != final.State {
		t.Fatalf("state %s, events %+v", final.State, final.Events)
	}
}

// A thousand heartbeats at once on ten runs: none lost, none failing.
func TestRunHeartbeatsConcurrently(t *testing.T) {
	rs, _, _ := runService(t)
	ids := make([]string, 10)
	for i := range ids {
		ids[i] = mustRun(t, rs, `{"name":"beat"}`).ID
		mustDo(t, rs, ids[i], runs.OpClaim, executor)
	}
	var wg sync.WaitGroup
	var failed atomic.Int32
	sem := make(chan struct{}, 64)
	for i := range 1000 {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := rs.Do(t.Context(), ids[i%10], runs.OpHeartbeat, executor, false, "", nil); err != nil {
				failed.Add(1)
				t.Errorf("heartbeat %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d heartbeats failed", failed.Load())
	}
}

// One executor's claims run at once without deadlocking. Retries are off, so a deadlock
// Neo4j broke would fail a claim: claims once set the executor's label every time, took
// its node's write lock, and deadlocked with each other.
func TestConcurrentClaimsDoNotDeadlock(t *testing.T) {
	rs, store, _ := runService(t)
	strict := &runs.Runs{Store: &Runs{DB: noRetryDB(t), IDs: store.IDs}, Schemas: rs.Schemas, IDs: rs.IDs, Now: time.Now, Lease: time.Minute}
	ids := make([]string, 64)
	for i := range ids {
		ids[i] = mustRun(t, rs, `{"name":"claimed"}`).ID
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, id := range ids {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := strict.Do(t.Context(), id, runs.OpClaim, executor, false, "", nil); err != nil {
				t.Errorf("claim %s: %v", id, err)
			}
		})
	}
	wg.Wait()
}

func TestRunRetryAndReaper(t *testing.T) {
	rs, store, _ := runService(t)
	r := mustRun(t, rs, `{"name":"flaky"}`)
	mustDo(t, rs, r.ID, runs.OpClaim, executor)
	// The executor goes silent: past its lease the reaper ends the run in ERROR.
	n, err := store.Reap(t.Context(), time.Now().Add(2*time.Minute))
	if err != nil || n < 1 {
		t.Fatalf("reap: %d %v", n, err)
	}
	got, _ := rs.Get(t.Context(), r.ID, runs.ViewFull)
	if got.State != runs.Errored || got.Events[len(got.Events)-1].Actor != reaper.Subject {
		t.Fatalf("after reaping: %+v", got)
	}
	// Retry: the same run, a new attempt informed by the previous one.
	r = mustDo(t, rs, r.ID, runs.OpRetry, actor)
	if r.State != runs.Pending || r.Attempt != 2 || r.Executor != "" || len(r.Attempts) != 1 || r.Attempts[0].State != runs.Errored || r.Attempts[0].Executor != executor.Subject {
		t.Fatalf("retried %+v", r)
	}
	mustDo(t, rs, r.ID, runs.OpClaim, executor)
	r = mustDo(t, rs, r.ID, runs.OpCancel, actor)
	if r.State != runs.Canceling {
		t.Fatalf("cancel of a running run: %s", r.State)
	}
	if r = mustDo(t, rs, r.ID, runs.OpCanceled, executor); r.State != runs.Canceled {
		t.Fatalf("acknowledged: %s", r.State)
	}
	doc, err := (&Provenance{DB: MustDB(t)}).Document(t.Context(), r.ID, 1, registry.Everyone)
	if err != nil {
		t.Fatal(err)
	}
	provtest.JudgeDocument(t, testBase, doc)
	// Delete: only terminal runs; then gone from reads, history kept.
	live := mustRun(t, rs, `{"name":"live"}`)
	if err := store.DeleteRun(t.Context(), live.ID, actor, "x", time.Now()); code(err) != provgraph.Conflict {
		t.Fatalf("delete a pending run: %v", err)
	}
	if err := store.DeleteRun(t.Context(), r.ID, actor, "x", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.Get(t.Context(), r.ID, runs.ViewBasic); code(err) != provgraph.NotFound {
		t.Fatalf("deleted run: %v", err)
	}
}

func TestListRunsPagesAndFilters(t *testing.T) {
	rs, store, _ := runService(t)
	tag := testPrefix(t)
	var ids []string
	for i := range 7 {
		r := mustRun(t, rs, fmt.Sprintf(`{"name":"list-%d","tags":{"suite":%q}}`, i, tag))
		ids = append(ids, r.ID)
		if i%2 == 0 {
			mustDo(t, rs, r.ID, runs.OpClaim, executor)
		}
	}
	if _, err := rs.Archive(t.Context(), ids[6], true, actor); err != nil {
		t.Fatal(err)
	}
	tk := runs.Tokens{Key: []byte("k")}
	page := func(params map[string][]string) ([]string, string) {
		q, err := tk.ParseRunQuery(params)
		if err != nil {
			t.Fatal(err)
		}
		got, more, err := store.ListRuns(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range got {
			names = append(names, r.Name)
		}
		next := ""
		if more {
			next = tk.Next(q, got[len(got)-1])
		}
		return names, next
	}
	base := map[string][]string{"tag": {"suite:" + tag}, "sort": {"name"}, "page_size": {"2"}}
	var all []string
	for token := ""; ; {
		p := map[string][]string{}
		for k, v := range base {
			p[k] = v
		}
		if token != "" {
			p["page_token"] = []string{token}
		}
		names, next := page(p)
		all = append(all, names...)
		// Inserts between pages neither repeat nor skip anything already there.
		mustRun(t, rs, `{"name":"zz-late","tags":{"other":"x"}}`)
		if next == "" {
			break
		}
		token = next
	}
	if fmt.Sprint(all) != "[list-0 list-1 list-2 list-3 list-4 list-5]" {
		t.Fatalf("pages %v (the archived run is hidden)", all)
	}
	if names, _ := page(map[string][]string{"tag": {"suite:" + tag}, "state": {"RUNNING"}, "archived": {"any"}, "sort": {"name desc"}}); fmt.Sprint(names) != "[list-6 list-4 list-2 list-0]" {
		t.Fatalf("running, any archive state: %v", names)
	}
	if names, _ := page(map[string][]string{"tag": {"suite:" + tag}, "archived": {"true"}}); fmt.Sprint(names) != "[list-6]" {
		t.Fatalf("archived: %v", names)
	}
	// A count is of every page together, by the same filters.
	for params, want := range map[string]int{"": 6, "RUNNING": 3, "any": 7} {
		p := map[string][]string{"tag": {"suite:" + tag}, "page_size": {"2"}}
		switch params {
		case "RUNNING":
			p["state"] = []string{"RUNNING"}
		case "any":
			p["archived"] = []string{"any"}
		}
		q, err := tk.ParseRunQuery(p)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := store.CountRuns(t.Context(), q); err != nil || n != want {
			t.Errorf("count %q: %d %v, want %d", params, n, err, want)
		}
	}
	if _, err := MustDB(t).Secret(t.Context(), "test"); err != nil {
		t.Fatal(err)
	}
}

func TestRunMergeTags(t *testing.T) {
	rs, _, _ := runService(t)
	r := mustRun(t, rs, `{"name":"tagged","tags":{"team":"reef","old":"x"}}`)
	v := func(s string) *string { return &s }
	got, err := rs.MergeTags(t.Context(), r.ID, map[string]*string{"azureml.prop.ContentSnapshotId": v("snap-1"), "old": nil, "team": v("coral")}, actor)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"team": "coral", "azureml.prop.ContentSnapshotId": "snap-1"}
	if !maps.Equal(got.Tags, want) || got.State != runs.Pending || len(got.Events) != 1 {
		t.Fatalf("merged %+v", got)
	}
	// Stored: a fresh read and the tag filter of the list both see it.
	if again, err := rs.Get(t.Context(), r.ID, runs.ViewFull); err != nil || !maps.Equal(again.Tags, want) {
		t.Fatalf("read again %v %v", again.Tags, err)
	}
	page, err := rs.List(t.Context(), map[string][]string{"tag": {"azureml.prop.ContentSnapshotId:snap-1"}, "name_prefix": {"tagged"}})
	if err != nil || !slices.ContainsFunc(page.Runs, func(x runs.Run) bool { return x.ID == r.ID }) {
		t.Fatalf("list by the merged tag: %v %v", page.Runs, err)
	}
	// Bad names and too many tags change nothing.
	if _, err := rs.MergeTags(t.Context(), r.ID, map[string]*string{"bad key": v("x")}, actor); code(err) != provgraph.Invalid {
		t.Fatalf("bad key: %v", err)
	}
	many := map[string]*string{}
	for i := range runs.MaxTags - 1 {
		many[fmt.Sprintf("k%d", i)] = v("x")
	}
	if _, err := rs.MergeTags(t.Context(), r.ID, many, actor); code(err) != provgraph.Invalid {
		t.Fatalf("over %d tags: %v", runs.MaxTags, err)
	}
	if again, _ := rs.Get(t.Context(), r.ID, runs.ViewFull); !maps.Equal(again.Tags, want) {
		t.Fatalf("a refused merge changed %v", again.Tags)
	}
	// Concurrent merges of different tags all land.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, err := rs.MergeTags(t.Context(), r.ID, map[string]*string{fmt.Sprintf("c%d", i): v("y")}, actor); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if again, _ := rs.Get(t.Context(), r.ID, runs.ViewFull); len(again.Tags) != 10 {
		t.Fatalf("concurrent merges lost some: %v", again.Tags)
	}
	if _, err := rs.MergeTags(t.Context(), "local/01J0000000000000000000000Z", map[string]*string{"a": v("b")}, actor); code(err) != provgraph.NotFound {
		t.Fatalf("unknown run: %v", err)
	}
}

// A run created with files: each is an artifact entity the run used, from the moment it
// exists (PENDING), in its PROV; a file not in the store, or named twice, makes nothing.
func TestRunCreatedWithContents(t *testing.T) {
	rs, store, _ := runService(t)
	rs.Blobs = &runs.Blobs{Dir: t.TempDir()}
	sum, size, err := rs.Blobs.Put(strings.NewReader("PK project"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	r, err := rs.CreateWith(t.Context(), []byte(`{"name":"with-project"}`), actor, "",
		[]runs.Content{{Name: "azureml/project.zip", Role: "project", SHA256: sum, Size: size, MediaType: "application/zip"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.State != runs.Pending {
		t.Fatalf("state %s", r.State)
	}
	doc, err := (&Provenance{DB: store.DB}).Document(t.Context(), r.ID, 0, registry.Everyone)
	if err != nil {
		t.Fatal(err)
	}
	var used []prov.Relation
	for _, rel := range doc.Relations {
		if rel.Type == prov.Used {
			used = append(used, rel)
		}
	}
	if len(used) != 1 || used[0].Role != "project" {
		t.Fatalf("used %+v", used)
	}
	var entity *prov.Node
	for i, n := range doc.Nodes {
		if n.ID == used[0].To {
			entity = &doc.Nodes[i]
		}
	}
	if entity == nil || entity.Class != "Entity" || entity.Label != "azureml/project.zip" {
		t.Fatalf("the used entity: %+v in %+v", entity, doc.Nodes)
	}
	// Not an output: the executor's artifacts are what the run generated.
	if arts, err := rs.Artifacts(t.Context(), r.ID); err != nil || len(arts) != 0 {
		t.Fatalf("artifacts %v %v", arts, err)
	}
	missing := strings.Repeat("ab", 32)
	for _, bad := range [][]runs.Content{
		{{Name: "p.zip", SHA256: missing}},
		{{Name: "p.zip", SHA256: sum}, {Name: "p.zip", SHA256: sum}},
		{{Name: "p.zip", SHA256: sum, Role: "a/b"}},
	} {
		if _, err := rs.CreateWith(t.Context(), []byte(`{"name":"refused-contents"}`), actor, "", bad); code(err) != provgraph.Invalid {
			t.Fatalf("%+v: %v", bad, err)
		}
	}
	if page, _ := rs.List(t.Context(), map[string][]string{"name_prefix": {"refused-contents"}}); len(page.Runs) != 0 {
		t.Fatalf("a refused create made %d runs", len(page.Runs))
	}
	// Purging the run takes its input entities with it.
	mustDo(t, rs, r.ID, runs.OpCancel, actor)
	if err := rs.Delete(t.Context(), r.ID, actor, "", true, true); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Provenance{DB: store.DB}).Document(t.Context(), used[0].To, 0, registry.Everyone); code(err) != provgraph.NotFound {
		t.Fatalf("the input entity outlived its purged run: %v", err)
	}
}
