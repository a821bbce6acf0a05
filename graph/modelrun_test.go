package graph

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"provgraph"
	"provgraph/prov"
	"provgraph/prov/provtest"
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
	mr := &runs.ModelRuns{Store: &ModelRuns{DB: MustDB(t)}, Schemas: svc.Schemas, IDs: svc.IDs, Now: time.Now}
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
	// Its PROV document, read from the graph, holds the run's relations and passes the
	// independent judges in every format.
	pv := &Provenance{DB: MustDB(t)}
	for _, depth := range []int{0, 3} {
		doc, err := pv.Document(t.Context(), rec.ID, depth)
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
		provtest.JudgeDocument(t, "http://127.0.0.1:8080/id/", doc)
	}
	if _, err := pv.Document(t.Context(), rec.ID, 99); code(err) != provgraph.Invalid {
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
