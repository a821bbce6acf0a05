package graph

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"provgraph"
	"provgraph/registry"
	"provgraph/runs"
)

// A registration whose every named record is cached reads none of them, and what it
// stores is what it would have stored after reading them.
func TestCachedRegistrationReadsNothing(t *testing.T) {
	cache := NewRecordCache(100)
	mr, doc, ids := newRunFixture(t, cache)
	first, err := mr.Register(t.Context(), []byte(doc(ids.datasets[0], ids.datasets[1])), actor, "")
	if err != nil {
		t.Fatal(err)
	}
	checkStoredProvJSON(t, first)
	hits0, misses0 := cache.Stats()
	if misses0 == 0 {
		t.Fatalf("the first registration found everything cached: %d hits", hits0)
	}
	second, err := mr.Register(t.Context(), []byte(doc(ids.datasets[0], ids.datasets[1])), actor, "")
	if err != nil {
		t.Fatal(err)
	}
	checkStoredProvJSON(t, second)
	hits, misses := cache.Stats()
	// The workflow template, model, both dataset templates, both datasets, the person and
	// the organisation.
	if misses != misses0 || hits-hits0 != 8 {
		t.Fatalf("second registration: %d hits, %d misses; want 8 and 0", hits-hits0, misses-misses0)
	}
}

// A record created through the same server is cached as written, and a run naming only
// such records stores the PROV-JSON it would have stored after reading them all.
func TestCreatedRecordsAreCachedAsRead(t *testing.T) {
	cache := NewRecordCache(100)
	svc, store := mustService(t)
	store.Cache = cache
	org := mustCreate(t, svc, "organisations", orgDoc("org"))
	person := mustCreate(t, svc, "people", `{"display_name":"Ada","first_name":"Ada","last_name":"L","email":"a@example.org","orcid":"https://orcid.org/0000-0002-1825-0097"}`)
	model := mustCreate(t, svc, "models", `{"display_name":"m","name":"m","description":"d","documentation_url":"https://doc","source_url":"https://src"}`)
	tin := mustCreate(t, svc, "dataset-templates", `{"display_name":"in","deferred_resources":[{"key":"forcing","usage_type":"FORCING_DATA"}]}`)
	tout := mustCreate(t, svc, "dataset-templates", `{"display_name":"out"}`)
	wf := mustCreate(t, svc, "workflow-templates", fmt.Sprintf(`{"display_name":"w","software_id":%q,"input_templates":[{"template_id":%q}],"output_templates":[{"template_id":%q}],"annotations":{"required":["scenario"]}}`, model.ID, tin.ID, tout.ID))
	in := mustCreate(t, svc, "datasets", datasetDoc("in", org.ID))
	out := mustCreate(t, svc, "datasets", datasetDoc("out", org.ID))
	study := mustCreate(t, svc, "studies", `{"title":"s","description":"d"}`)
	mr := &runs.ModelRuns{Store: &ModelRuns{DB: MustDB(t), BaseIRI: testBase, Cache: cache}, Schemas: svc.Schemas, IDs: svc.IDs, Now: time.Now}
	_, misses := cache.Stats()
	rec, err := mr.Register(t.Context(), []byte(fmt.Sprintf(`{"workflow_template_id":%q,"model_version":"1.2",
		"inputs":[{"dataset_template_id":%q,"dataset_id":%q,"resources":{"forcing":"f.nc"}}],
		"outputs":[{"dataset_template_id":%q,"dataset_id":%q}],"annotations":{"scenario":"ssp245"},"display_name":"run","description":"d","study_id":%q,
		"associations":{"modeller_id":%q,"requesting_organisation_id":%q},"start_time":1700000000,"end_time":1700003600}`,
		wf.ID, tin.ID, in.ID, tout.ID, out.ID, study.ID, person.ID, org.ID)), actor, "")
	if err != nil {
		t.Fatal(err)
	}
	if hits, m := cache.Stats(); m != misses || hits != 9 {
		t.Fatalf("%d hits, %d misses; want 9 and 0", hits, m-misses)
	}
	checkStoredProvJSON(t, rec)
}

// A cached record that has since changed is never what a registration goes by: each
// change below, made after the cache was filled, decides the next registration exactly
// as if nothing had been cached.
func TestStaleCacheIsNeverUsed(t *testing.T) {
	// The changes go through stores that do not tell the cache, as another server's would.
	svc, _ := mustService(t)
	access := &Access{DB: MustDB(t)}
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, ids runIDs)
		field  string // the field the registration must fail on, "" for none
	}{
		{"dataset renamed", func(t *testing.T, ids runIDs) {
			update(t, svc, "datasets", ids.datasets[0], datasetDoc("renamed", ids.org))
		}, ""},
		{"dataset deleted", func(t *testing.T, ids runIDs) {
			if err := svc.Delete(t.Context(), kind(t, "datasets"), ids.datasets[0], actor, "gone"); err != nil {
				t.Fatal(err)
			}
		}, "/inputs/0/dataset_id"},
		{"dataset restricted", func(t *testing.T, ids runIDs) {
			// To the group the other tests' members are in (a restricted record hidden from
			// them would close Cypher to them), and opened again after.
			admin := registry.Actor{Subject: "admin", Viewer: registry.Everyone}
			if _, err := access.Set(t.Context(), ids.datasets[0], []string{"reef-team"}, admin, time.Now()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if _, err := access.Set(context.Background(), ids.datasets[0], []string{}, admin, time.Now()); err != nil {
					t.Error(err)
				}
			})
		}, "/inputs/0/dataset_id"},
		{"input template gains a required resource", func(t *testing.T, ids runIDs) {
			update(t, svc, "dataset-templates", ids.tin, `{"display_name":"in","deferred_resources":[{"key":"forcing","usage_type":"FORCING_DATA"}]}`)
		}, "/inputs/0/resources"},
		{"workflow template needs another input", func(t *testing.T, ids runIDs) {
			update(t, svc, "workflow-templates", ids.wf, fmt.Sprintf(`{"display_name":"w","software_id":%q,"input_templates":[{"template_id":%q},{"template_id":%q}],"output_templates":[{"template_id":%q}]}`,
				ids.model, ids.tin, ids.tout, ids.tout))
		}, "/inputs"},
		{"modeller renamed", func(t *testing.T, ids runIDs) {
			update(t, svc, "people", ids.person, `{"display_name":"Ada Lovelace","first_name":"Ada","last_name":"Lovelace","email":"a@example.org"}`)
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := NewRecordCache(100)
			mr, doc, ids := newRunFixture(t, cache)
			body := []byte(doc(ids.datasets[0], ids.datasets[1]))
			// Fill the cache with a registration that fails on the graph (its output is
			// not there) after reading every other record.
			if _, err := mr.Register(t.Context(), []byte(doc(ids.datasets[0], "no/01J0000000000000000000000")), actor, ""); code(err) != provgraph.Invalid {
				t.Fatalf("filling the cache: %v", err)
			}
			if _, misses := cache.Stats(); misses == 0 {
				t.Fatal("nothing was looked up")
			}
			tc.change(t, ids)
			rec, err := mr.Register(t.Context(), body, actor, "")
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				checkStoredProvJSON(t, rec)
				return
			}
			if code(err) != provgraph.Invalid || !slices.ContainsFunc(fields(err), func(f string) bool { return strings.HasPrefix(f, tc.field) }) {
				t.Fatalf("want a failure on %s, got %v %v", tc.field, err, fields(err))
			}
			if n := countRuns(t, ids.wf); n != 0 {
				t.Fatalf("%d runs written", n)
			}
		})
	}
}

// A delete racing a registration whose records are all cached still either wins (and
// the registration fails) or loses: never a run that used a deleted input.
func TestDeleteRacesCachedModelRun(t *testing.T) {
	cache := NewRecordCache(100)
	mr, doc, ids := newRunFixture(t, cache)
	svc, _ := mustService(t)
	for i := range 10 {
		input := mustCreate(t, svc, "datasets", datasetDoc(fmt.Sprint("racer", i), ids.org)).ID
		if _, err := mr.Register(t.Context(), []byte(doc(input, "no/01J0000000000000000000000")), actor, ""); code(err) != provgraph.Invalid {
			t.Fatalf("filling the cache: %v", err)
		}
		var wg sync.WaitGroup
		var delErr, regErr error
		wg.Go(func() { delErr = svc.Delete(t.Context(), kind(t, "datasets"), input, actor, "race") })
		wg.Go(func() { _, regErr = mr.Register(t.Context(), []byte(doc(input, ids.datasets[1])), actor, "") })
		wg.Wait()
		if (delErr == nil) == (regErr == nil) {
			t.Fatalf("round %d: delete %v, register %v", i, delErr, regErr)
		}
	}
}

// A server's own updates, deletes and access changes drop the record from its cache, so
// the next registration naming it reads it instead of retrying.
func TestChangesDropCachedRecords(t *testing.T) {
	cache := NewRecordCache(100)
	svc, store := mustService(t)
	store.Cache = cache
	access := &Access{DB: MustDB(t), Cache: cache}
	org := mustCreate(t, svc, "organisations", orgDoc("org"))
	admin := registry.Actor{Subject: "admin", Viewer: registry.Everyone}
	for _, change := range []struct {
		name string
		do   func(id string) error
	}{
		{"update", func(id string) error {
			_, err := svc.Update(t.Context(), kind(t, "datasets"), id, []byte(datasetDoc("renamed", org.ID)), actor, "test")
			return err
		}},
		{"delete", func(id string) error { return svc.Delete(t.Context(), kind(t, "datasets"), id, actor, "test") }},
		{"access", func(id string) error {
			_, err := access.Set(t.Context(), id, []string{"reef-team"}, admin, time.Now())
			t.Cleanup(func() { access.Set(context.Background(), id, []string{}, admin, time.Now()) })
			return err
		}},
	} {
		id := mustCreate(t, svc, "datasets", datasetDoc(change.name, org.ID)).ID
		if !cache.records.Contains(id) {
			t.Fatalf("%s: a created dataset is not cached", change.name)
		}
		if err := change.do(id); err != nil {
			t.Fatal(err)
		}
		if cache.records.Contains(id) {
			t.Errorf("%s: still cached", change.name)
		}
	}
}

// update writes a new version of a record.
func update(t *testing.T, svc *registry.Service, route, id, doc string) {
	t.Helper()
	if _, err := svc.Update(t.Context(), kind(t, route), id, []byte(doc), actor, "test"); err != nil {
		t.Fatal(err)
	}
}
