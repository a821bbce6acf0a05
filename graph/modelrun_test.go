package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"provgraph"
	"provgraph/prov"
	"provgraph/prov/provtest"
	"provgraph/registry"
	"provgraph/runs"
)

func TestRegisterModelRun(t *testing.T) {
	svc, _ := mustService(t)
	org := mustCreate(t, svc, "organisations", orgDoc("org"))
	person := mustCreate(t, svc, "people", `{"display_name":"Ada","first_name":"Ada","last_name":"L","email":"a@example.org"}`)
	model := mustCreate(t, svc, "models", `{"display_name":"m","name":"m","description":"d","documentation_url":"https://doc","source_url":"https://src"}`)
	tin := mustCreate(t, svc, "dataset-templates", `{"display_name":"in","deferred_resources":[{"key":"forcing","usage_type":"FORCING_DATA"}]}`)
	tout := mustCreate(t, svc, "dataset-templates", `{"display_name":"out"}`)
	wf := mustCreate(t, svc, "workflow-templates", fmt.Sprintf(`{"display_name":"w","software_id":%q,"input_templates":[{"template_id":%q}],"output_templates":[{"template_id":%q}]}`, model.ID, tin.ID, tout.ID))
	d1 := mustCreate(t, svc, "datasets", datasetDoc("in", org.ID))
	d2 := mustCreate(t, svc, "datasets", datasetDoc("out", org.ID))
	mr := &runs.ModelRuns{Store: &ModelRuns{DB: MustDB(t), BaseIRI: testBase}, Schemas: svc.Schemas, IDs: svc.IDs, Now: time.Now}
	doc := func(in, out string) string {
		return fmt.Sprintf(`{"workflow_template_id":%q,"inputs":[{"dataset_template_id":%q,"dataset_id":%q,"resources":{"forcing":"f.nc"}}],
			"outputs":[{"dataset_template_id":%q,"dataset_id":%q}],"display_name":"run","description":"d",
			"associations":{"modeller_id":%q,"requesting_organisation_id":%q},"start_time":1700000000,"end_time":1700003600}`,
			wf.ID, tin.ID, in, tout.ID, out, person.ID, org.ID)
	}
	// An output template used as input, and a person as dataset: refused, nothing written.
	bad := strings.Replace(doc(person.ID, d2.ID), `"dataset_template_id":"`+tin.ID, `"dataset_template_id":"`+tout.ID, 1)
	_, err := mr.Register(t.Context(), []byte(bad), actor, "")
	if code(err) != provgraph.Invalid || strings.Join(fields(err), ",") != "/inputs,/inputs/0/dataset_id,/inputs/0/dataset_template_id" {
		t.Fatalf("bad run: %v %v", err, fields(err))
	}
	rec, err := mr.Register(t.Context(), []byte(doc(d1.ID, d2.ID)), actor, "")
	if err != nil {
		t.Fatal(err)
	}
	n, err := MustDB(t).read(t.Context(), queryOne(`
		MATCH (r:ModelRun:Record {id:$id})
		RETURN COUNT { (r)-[:USED]->() } * 100 + COUNT { ()-[:WAS_GENERATED_BY]->(r) } * 10 + COUNT { (r)-[:WAS_ASSOCIATED_WITH {plan:$wf}]->() }`,
		map[string]any{"id": rec.ID, "wf": wf.ID}))
	if err != nil || n != int64(211) {
		t.Fatalf("relations %v (%v), want 2 used, 1 generated, 1 association", n, err)
	}
	// The PROV-JSON stored with it is the document the graph gives for it.
	var live bytes.Buffer
	if doc, err := (&Provenance{DB: MustDB(t)}).Document(t.Context(), rec.ID, 0, registry.Everyone); err != nil {
		t.Fatal(err)
	} else if err := encodeAll(prov.NewPROVJSON(&live, testBase), doc); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(live.Bytes(), rec.ProvJSON) || !json.Valid(rec.ProvJSON) {
		t.Fatalf("stored PROV-JSON differs from the graph's:\n%s\n--\n%s", rec.ProvJSON, live.Bytes())
	}
	// Its PROV document, read from the graph, holds the run's relations and passes the
	// independent judges in every format.
	pv := &Provenance{DB: MustDB(t)}
	for _, depth := range []int{0, 3} {
		doc, err := pv.Document(t.Context(), rec.ID, depth, registry.Everyone)
		if err != nil {
			t.Fatal(err)
		}
		counts := map[prov.RelType]int{}
		for _, r := range doc.Relations {
			counts[r.Type]++
		}
		if counts[prov.Used] != 2 || counts[prov.WasGeneratedBy] != 1 || counts[prov.WasAssociatedWith] != 1 || counts[prov.ActedOnBehalfOf] != 1 {
			t.Fatalf("depth %d relations %v", depth, counts)
		}
		if err := doc.Validate(); err != nil {
			t.Fatalf("depth %d: %v", depth, err)
		}
		provtest.JudgeDocument(t, testBase, doc)
	}
	if _, err := pv.Document(t.Context(), rec.ID, 99, registry.Everyone); code(err) != provgraph.Invalid {
		t.Fatalf("depth 99: %v", err)
	}
	// The input is now used: it cannot be deleted; the run's output can be, the run too.
	if err := svc.Delete(t.Context(), kind(t, "datasets"), d1.ID, actor, "x"); code(err) != provgraph.Conflict {
		t.Fatalf("delete used input: %v", err)
	}
	if err := svc.Delete(t.Context(), kind(t, "model-runs"), rec.ID, actor, "x"); err != nil {
		t.Fatalf("delete run whose outputs nobody used: %v", err)
	}
}

const testBase = "http://127.0.0.1:8080/id/"

func encodeAll(enc prov.Encoder, doc *prov.Document) error {
	if err := enc.Encode(doc); err != nil {
		enc.Close()
		return err
	}
	return enc.Close()
}

// runFixture registers what a model run needs and returns a valid run document maker.
func runFixture(t *testing.T) (*runs.ModelRuns, func(in, out string) string, []string, string) {
	mr, doc, ids := newRunFixture(t, nil)
	return mr, doc, ids.datasets, ids.wf
}

// runIDs are the records of a run fixture.
type runIDs struct {
	org, person, model, tin, tout, wf string
	datasets                          []string
}

// newRunFixture is a workflow template with one input and one output template, four
// datasets, and model runs registered through cache (nil: none).
func newRunFixture(t *testing.T, cache *RecordCache) (*runs.ModelRuns, func(in, out string) string, runIDs) {
	svc, _ := mustService(t)
	org := mustCreate(t, svc, "organisations", orgDoc("org"))
	person := mustCreate(t, svc, "people", `{"display_name":"Ada","first_name":"Ada","last_name":"L","email":"a@example.org"}`)
	model := mustCreate(t, svc, "models", `{"display_name":"m","name":"m","description":"d","documentation_url":"https://doc","source_url":"https://src"}`)
	tin := mustCreate(t, svc, "dataset-templates", `{"display_name":"in"}`)
	tout := mustCreate(t, svc, "dataset-templates", `{"display_name":"out"}`)
	wf := mustCreate(t, svc, "workflow-templates", fmt.Sprintf(`{"display_name":"w","software_id":%q,"input_templates":[{"template_id":%q}],"output_templates":[{"template_id":%q}]}`, model.ID, tin.ID, tout.ID))
	ids := runIDs{org: org.ID, person: person.ID, model: model.ID, tin: tin.ID, tout: tout.ID, wf: wf.ID}
	for i := range 4 {
		ids.datasets = append(ids.datasets, mustCreate(t, svc, "datasets", datasetDoc(fmt.Sprint("d", i), org.ID)).ID)
	}
	mr := &runs.ModelRuns{Store: &ModelRuns{DB: MustDB(t), BaseIRI: testBase, Cache: cache}, Schemas: svc.Schemas, IDs: svc.IDs, Now: time.Now}
	return mr, func(in, out string) string {
		return fmt.Sprintf(`{"workflow_template_id":%q,"inputs":[{"dataset_template_id":%q,"dataset_id":%q}],
			"outputs":[{"dataset_template_id":%q,"dataset_id":%q}],"display_name":"run","description":"d",
			"associations":{"modeller_id":%q,"requesting_organisation_id":%q},"start_time":1700000000,"end_time":1700003600}`,
			wf.ID, tin.ID, in, tout.ID, out, person.ID, org.ID)
	}, ids
}

func countRuns(t *testing.T, wf string) int64 {
	n, err := MustDB(t).read(t.Context(), queryOne(`
		MATCH (r:ModelRun:Record {workflow_template_id:$wf}) RETURN count(r)`, map[string]any{"wf": wf}))
	if err != nil {
		t.Fatal(err)
	}
	return n.(int64)
}

func TestRegisterBatch(t *testing.T) {
	mr, doc, d, marker := runFixture(t)
	good := []byte(doc(d[0], d[1]))
	bad := []byte(doc(d[0], "no/01J0000000000000000000000"))
	// Atomic: one bad record fails the batch, every failure named under /records/<i>.
	_, err := mr.RegisterBatch(t.Context(), [][]byte{good, bad, []byte(`{}`)}, actor, "", runs.AllOrNothing)
	got := strings.Join(fields(err), ",")
	if code(err) != provgraph.Invalid || !strings.Contains(got, "/records/1/outputs/0/dataset_id") || !strings.Contains(got, "/records/2/") || strings.Contains(got, "/records/0") {
		t.Fatalf("atomic batch: %v %v", err, got)
	}
	if n := countRuns(t, marker); n != 0 {
		t.Fatalf("a failed atomic batch wrote %d runs", n)
	}
	// Not atomic: the good ones are written, the bad one reported.
	res, err := mr.RegisterBatch(t.Context(), [][]byte{good, bad, []byte(doc(d[2], d[3]))}, actor, "", runs.EachOnItsOwn)
	if err != nil || len(res) != 3 || res[0].Err != nil || res[2].Err != nil || code(res[1].Err) != provgraph.Invalid {
		t.Fatalf("per-record batch: %v %+v", err, res)
	}
	if res[0].Record.ID == res[2].Record.ID || len(res[0].Record.ProvJSON) == 0 {
		t.Fatalf("records %+v", res)
	}
	if n := countRuns(t, marker); n != 2 {
		t.Fatalf("per-record batch wrote %d runs, want 2", n)
	}
	// Check only: the same report as atomic, and nothing written.
	if res, err := mr.RegisterBatch(t.Context(), [][]byte{good}, actor, "", runs.CheckOnly); err != nil || res[0].Err != nil || res[0].Record.ID != "" {
		t.Fatalf("check only: %v %+v", err, res)
	}
	if n := countRuns(t, marker); n != 2 {
		t.Fatalf("check only wrote: %d runs", n)
	}
	if _, err := mr.RegisterBatch(t.Context(), nil, actor, "", runs.AllOrNothing); code(err) != provgraph.Invalid {
		t.Fatalf("empty batch: %v", err)
	}
}

// One registration sent 20 times at once under one Idempotency-Key: one record, twenty
// identical answers.
func TestRegisterModelRunIdempotentConcurrent(t *testing.T) {
	mr, doc, d, wf := runFixture(t)
	body := []byte(doc(d[0], d[1]))
	key := fmt.Sprintf("retry-%d", time.Now().UnixNano())
	var wg sync.WaitGroup
	recs := make([]string, 20)
	errs := make([]error, 20)
	for i := range 20 {
		wg.Go(func() {
			rec, err := mr.Register(t.Context(), body, actor, key)
			recs[i], errs[i] = rec.ID+"|"+string(rec.ProvJSON), err
		})
	}
	wg.Wait()
	for i := range 20 {
		if errs[i] != nil || recs[i] != recs[0] {
			t.Fatalf("answer %d: %v (%.60s vs %.60s)", i, errs[i], recs[i], recs[0])
		}
	}
	if n := countRuns(t, wf); n != 1 {
		t.Fatalf("%d runs registered under one key", n)
	}
	// The same key with another body is a conflict.
	if _, err := mr.Register(t.Context(), []byte(doc(d[2], d[3])), actor, key); code(err) != provgraph.Conflict {
		t.Fatalf("reused key: %v", err)
	}
}

// Registration takes no locks up front (shared records would serialise every run), so a
// delete racing it must still lose or make it fail: never a run that used a deleted input.
func TestDeleteRacesModelRun(t *testing.T) {
	mr, doc, d, _ := runFixture(t)
	svc, _ := mustService(t)
	for i := range 10 {
		input := mustCreate(t, svc, "datasets", datasetDoc(fmt.Sprint("racer", i), orgOf(t, d[0])))
		var wg sync.WaitGroup
		var delErr, regErr error
		wg.Go(func() { delErr = svc.Delete(t.Context(), kind(t, "datasets"), input.ID, actor, "race") })
		wg.Go(func() { _, regErr = mr.Register(t.Context(), []byte(doc(input.ID, d[1])), actor, "") })
		wg.Wait()
		if (delErr == nil) == (regErr == nil) {
			t.Fatalf("round %d: delete %v, register %v", i, delErr, regErr)
		}
	}
}

// orgOf is the publisher of a fixture dataset.
func orgOf(t *testing.T, dataset string) string {
	v, err := MustDB(t).read(t.Context(), queryOne(`
		MATCH (:Record {id:$id})-[:WAS_ATTRIBUTED_TO {role:'publisher'}]->(o) RETURN o.id`, map[string]any{"id": dataset}))
	if err != nil {
		t.Fatal(err)
	}
	return v.(string)
}

// The PROV-JSON stored with a run is built from what the write makes, not read back: it
// must equal the graph's own document of the run, for a first version and for an update.
func TestStoredProvJSONIsTheGraphs(t *testing.T) {
	mr, doc, d, _ := runFixture(t)
	rec, err := mr.Register(t.Context(), []byte(doc(d[0], d[1])), actor, "")
	if err != nil {
		t.Fatal(err)
	}
	checkStoredProvJSON(t, rec)
	rec2, err := mr.Update(t.Context(), rec.ID, []byte(doc(d[2], d[3])), registry.Actor{Subject: "test:other", Name: "someone else"}, "wrong input")
	if err != nil {
		t.Fatal(err)
	}
	if rec2.Version != 2 || !strings.Contains(string(rec2.ProvJSON), rec.ID+"/versions/1") {
		t.Fatalf("update: %+v", rec2.Version)
	}
	checkStoredProvJSON(t, rec2)
}

// checkStoredProvJSON fails unless the PROV-JSON stored with rec is the graph's own
// document of it.
func checkStoredProvJSON(t *testing.T, rec registry.Record) {
	t.Helper()
	live, err := (&Provenance{DB: MustDB(t)}).Document(t.Context(), rec.ID, 0, registry.Everyone)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := encodeAll(prov.NewPROVJSON(&b, testBase), live); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), rec.ProvJSON) {
		t.Fatalf("version %d: stored PROV-JSON differs from the graph's:\n%s\n--\n%s", rec.Version, rec.ProvJSON, b.Bytes())
	}
}

// Documents the graph keeps but PROV does not allow must still come out as valid PROV: a
// chain of two runs by one modeller for one organisation (two identical actedOnBehalfOf
// edges) and a deleted study (an invalidated activity).
func TestProvDocumentsOfChainsAndDeletions(t *testing.T) {
	mr, doc, d, _ := runFixture(t)
	svc, _ := mustService(t)
	if _, err := mr.Register(t.Context(), []byte(doc(d[0], d[1])), actor, ""); err != nil {
		t.Fatal(err)
	}
	later := strings.NewReplacer(`"start_time":1700000000`, `"start_time":1700007200`, `"end_time":1700003600`, `"end_time":1700010800`)
	second, err := mr.Register(t.Context(), []byte(later.Replace(doc(d[1], d[2]))), actor, "")
	if err != nil {
		t.Fatal(err)
	}
	study := mustCreate(t, svc, "studies", `{"title":"gone","description":"d"}`)
	if err := svc.Delete(t.Context(), kind(t, "studies"), study.ID, actor, "test"); err != nil {
		t.Fatal(err)
	}
	pv := &Provenance{DB: MustDB(t)}
	for _, c := range []struct {
		id    string
		depth int
	}{{second.ID, 3}, {study.ID, 0}} {
		doc, err := pv.Document(t.Context(), c.id, c.depth, registry.Everyone)
		if err != nil {
			t.Fatal(err)
		}
		provtest.JudgeDocument(t, testBase, doc)
	}
}

// TestEveryStageReportedAtOnce: a run whose times are reversed (its own consistency) and
// which puts an output template on its input side (the graph's) gets both in one answer,
// alone and in a batch, and nothing is written.
func TestEveryStageReportedAtOnce(t *testing.T) {
	mr, doc, ids := newRunFixture(t, nil)
	bad := strings.Replace(doc(ids.datasets[0], ids.datasets[1]), `"dataset_template_id":"`+ids.tin, `"dataset_template_id":"`+ids.tout, 1)
	bad = strings.Replace(bad, `"end_time":1700003600`, `"end_time":1600000000`, 1)
	want := "/end_time,/inputs,/inputs/0/dataset_template_id"
	_, err := mr.Register(t.Context(), []byte(bad), actor, "")
	if code(err) != provgraph.Invalid || strings.Join(fields(err), ",") != want {
		t.Fatalf("alone: %v %v, want %s", err, fields(err), want)
	}
	_, err = mr.RegisterBatch(t.Context(), [][]byte{[]byte(doc(ids.datasets[2], ids.datasets[3])), []byte(bad)}, actor, "", runs.AllOrNothing)
	if got := strings.Join(fields(err), ","); code(err) != provgraph.Invalid || got != "/records/1/end_time,/records/1/inputs,/records/1/inputs/0/dataset_template_id" {
		t.Fatalf("in a batch: %v %v", err, got)
	}
	res, err := mr.RegisterBatch(t.Context(), [][]byte{[]byte(bad)}, actor, "", runs.EachOnItsOwn)
	if err != nil || len(res) != 1 || strings.Join(fields(res[0].Err), ",") != want {
		t.Fatalf("each on its own: %v %+v", err, res)
	}
	if n := countRuns(t, ids.wf); n != 0 {
		t.Fatalf("%d runs written", n)
	}
}
