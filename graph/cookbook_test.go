package graph

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"provgraph/cypher"
	"provgraph/registry"
	"provgraph/runs"
)

// recipe is one cookbook entry of docs/graph-model.md: a question and its Cypher.
type recipe struct{ heading, query string }

// cookbook reads the recipes of the Cookbook section: each ### heading with its one
// cypher block.
func cookbook(t *testing.T) []recipe {
	t.Helper()
	b, err := os.ReadFile("../docs/graph-model.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "\n## Cookbook")
	if start < 0 {
		t.Fatal("docs/graph-model.md has no Cookbook section")
	}
	section := doc[start+1:]
	if end := strings.Index(section[1:], "\n## "); end >= 0 {
		section = section[:end+1]
	}
	block := regexp.MustCompile("(?s)```cypher\n(.*?)```")
	var out []recipe
	for _, part := range strings.Split(section, "\n### ")[1:] {
		heading, body, _ := strings.Cut(part, "\n")
		blocks := block.FindAllStringSubmatch(body, -1)
		if len(blocks) != 1 {
			t.Fatalf("recipe %q has %d cypher blocks, want one", heading, len(blocks))
		}
		if strings.Contains(body, "```") && strings.Count(body, "```") != 2 {
			t.Fatalf("recipe %q has a code block that is not cypher", heading)
		}
		out = append(out, recipe{heading: strings.TrimSpace(heading), query: blocks[0][1]})
	}
	return out
}

// cookbookCase is what one recipe is asked and must answer: the rows rendered as the
// given columns joined by spaces, in order when ordered is set.
type cookbookCase struct {
	params  map[string]any
	cols    []string
	want    []string
	ordered bool
}

var paramName = regexp.MustCompile(`\$([A-Za-z_][A-Za-z0-9_]*)`)

// TestCookbook runs every recipe of the documented cookbook against one fixture graph
// and checks its exact answer.
func TestCookbook(t *testing.T) {
	recipes := cookbook(t)
	if len(recipes) < 12 {
		t.Fatalf("the cookbook has %d recipes, want at least 12", len(recipes))
	}
	f := cookbookFixture(t)
	cases := f.cases()
	seen := map[string]bool{}
	for _, r := range recipes {
		if seen[r.heading] {
			t.Fatalf("two recipes are headed %q", r.heading)
		}
		seen[r.heading] = true
	}
	for heading := range cases {
		if !seen[heading] {
			t.Errorf("test case %q has no recipe in docs/graph-model.md", heading)
		}
	}
	db := MustDB(t)
	for _, r := range recipes {
		t.Run(r.heading, func(t *testing.T) {
			c, ok := cases[r.heading]
			if !ok {
				t.Fatalf("recipe %q has no test case in cookbook_test.go", r.heading)
			}
			if err := cypher.CheckText(r.query); err != nil {
				t.Fatalf("POST /api/v1/cypher would refuse it: %v", err)
			}
			// Parameters, never literal ids: every one used is given, every one given used.
			used := map[string]bool{}
			for _, m := range paramName.FindAllStringSubmatch(r.query, -1) {
				used[m[1]] = true
				if _, ok := c.params[m[1]]; !ok {
					t.Fatalf("the query uses $%s, which the case does not give", m[1])
				}
			}
			if len(used) == 0 {
				t.Fatal("the query takes no parameters")
			}
			for p := range c.params {
				if !used[p] {
					t.Fatalf("the case gives $%s, which the query does not use", p)
				}
			}
			rows, err := db.ReadCypher(t.Context(), r.query, c.params, 10*time.Second, 1000, registry.Everyone)
			if err != nil {
				t.Fatal(err)
			}
			if rows.Truncated {
				t.Fatal("truncated at 1000 rows")
			}
			for _, col := range c.cols {
				if !slices.Contains(rows.Columns, col) {
					t.Fatalf("no column %q in %v", col, rows.Columns)
				}
			}
			got := make([]string, 0, len(rows.Rows))
			for _, row := range rows.Rows {
				vals := make([]string, 0, len(c.cols))
				for _, col := range c.cols {
					vals = append(vals, fmt.Sprint(row[col]))
				}
				got = append(got, strings.Join(vals, " "))
			}
			want := slices.Clone(c.want)
			if !c.ordered {
				slices.Sort(got)
				slices.Sort(want)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got %d rows:\n  %s\nwant %d:\n  %s", len(got), strings.Join(got, "\n  "), len(want), strings.Join(want, "\n  "))
			}
		})
	}
}

// cookbookGraph is the fixture every recipe is asked about: a chain of four model runs of
// one workflow, raw0 → run1 → mid → run2 (+ raw1) → final → run3 → report → run4 → late,
// where run4 started before report was generated; a fifth run, deleted, that had also
// claimed final from mid; a dataset orphan nothing generated; a tracked run that used final, uploaded two artifacts and generated
// trackedOut; one tracked run stuck past its lease and one within it; and a dataset
// nobody used, updated twice.
type cookbookGraph struct {
	org, agency, ada, bob, model, tin, tout, wf, study, study2       string
	raw0, raw1, mid, final, report, late, unused, orphan, trackedOut string
	run1, run2, run3, run4, run5                                     string
	tracked, stuck, healthy                                          string
	artA, artB                                                       runs.Artifact
	curator, exec                                                    registry.Actor
	now                                                              time.Time
}

func cookbookFixture(t *testing.T) *cookbookGraph {
	t.Helper()
	svc, _ := mustService(t)
	prefix := testPrefix(t)
	f := &cookbookGraph{
		curator: registry.Actor{Subject: prefix + ":curator", Name: "cookbook curator"},
		exec:    registry.Actor{Subject: prefix + ":executor", Name: "cookbook executor"},
		now:     time.Now().UTC(),
	}
	id := func(route, doc string) string { return mustCreate(t, svc, route, doc).ID }
	f.org = id("organisations", orgDoc("Reef Data"))
	f.agency = id("organisations", orgDoc("Funding Agency"))
	f.ada = id("people", `{"display_name":"Ada","first_name":"Ada","last_name":"Lovelace","email":"ada@example.org"}`)
	f.bob = id("people", `{"display_name":"Bob","first_name":"Bob","last_name":"Builder","email":"bob@example.org"}`)
	f.model = id("models", `{"display_name":"reef model","name":"reef model","description":"d","documentation_url":"https://doc","source_url":"https://src"}`)
	f.tin = id("dataset-templates", `{"display_name":"in"}`)
	f.tout = id("dataset-templates", `{"display_name":"out"}`)
	f.wf = id("workflow-templates", fmt.Sprintf(`{"display_name":"reef workflow","software_id":%q,"input_templates":[{"template_id":%q}],"output_templates":[{"template_id":%q}]}`, f.model, f.tin, f.tout))
	f.study = id("studies", `{"title":"reef study","description":"d"}`)
	f.study2 = id("studies", `{"title":"tracking study","description":"d"}`)
	for _, d := range []struct {
		id   *string
		name string
	}{{&f.raw0, "raw0"}, {&f.raw1, "raw1"}, {&f.mid, "mid"}, {&f.final, "final"}, {&f.report, "report"},
		{&f.late, "late"}, {&f.unused, "unused"}, {&f.orphan, "orphan"}, {&f.trackedOut, "tracked-out"}} {
		*d.id = id("datasets", datasetDoc(d.name, f.org))
	}
	k := kind(t, "datasets")
	for _, reason := range []string{"first fix", "second fix"} {
		if _, err := svc.Update(t.Context(), k, f.unused, []byte(datasetDoc("unused "+reason, f.org)), actor, reason); err != nil {
			t.Fatal(err)
		}
	}

	mr := &runs.ModelRuns{Store: &ModelRuns{DB: MustDB(t), BaseIRI: testBase}, Schemas: svc.Schemas, IDs: svc.IDs, Now: time.Now}
	at := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.Unix()
	}
	register := func(name string, inputs []string, output, modeller, org, study, version, start, end string) string {
		t.Helper()
		var ins []string
		for _, in := range inputs {
			ins = append(ins, fmt.Sprintf(`{"dataset_template_id":%q,"dataset_id":%q}`, f.tin, in))
		}
		extra := ""
		if org != "" {
			extra += fmt.Sprintf(`,"requesting_organisation_id":%q`, org)
		}
		doc := fmt.Sprintf(`{"workflow_template_id":%q,"inputs":[%s],"outputs":[{"dataset_template_id":%q,"dataset_id":%q}],
			"display_name":%q,"description":"d","associations":{"modeller_id":%q%s},"start_time":%d,"end_time":%d`,
			f.wf, strings.Join(ins, ","), f.tout, output, name, modeller, extra, at(start), at(end))
		if study != "" {
			doc += fmt.Sprintf(`,"study_id":%q`, study)
		}
		if version != "" {
			doc += fmt.Sprintf(`,"model_version":%q`, version)
		}
		rec, err := mr.Register(t.Context(), []byte(doc+"}"), actor, "")
		if err != nil {
			t.Fatalf("register %s: %v", name, err)
		}
		return rec.ID
	}
	f.run1 = register("run1", []string{f.raw0}, f.mid, f.bob, f.agency, f.study, "1.0", "2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z")
	f.run2 = register("run2", []string{f.mid, f.raw1}, f.final, f.ada, f.agency, "", "2.0", "2024-01-02T00:00:00Z", "2024-01-02T01:00:00Z")
	// A mistaken second generator of final, deleted before anything used final: history,
	// not lineage, so no recipe but the one about deletions may see it.
	f.run5 = register("run5", []string{f.mid}, f.final, f.ada, f.org, f.study2, "2.0", "2024-04-01T00:00:00Z", "2024-04-01T01:00:00Z")
	if err := svc.Delete(t.Context(), kind(t, "model-runs"), f.run5, f.curator, "wrong parameters"); err != nil {
		t.Fatal(err)
	}
	f.run3 = register("run3", []string{f.final}, f.report, f.bob, "", f.study, "2.0", "2024-03-01T00:00:00Z", "2024-03-01T01:00:00Z")
	// Started two weeks before its input, report, was generated.
	f.run4 = register("run4", []string{f.report}, f.late, f.bob, "", "", "1.0", "2024-02-15T00:00:00Z", "2024-03-02T00:00:00Z")

	tracker := func(lease time.Duration) *runs.Runs {
		return &runs.Runs{Store: &Runs{DB: MustDB(t), IDs: svc.IDs}, Schemas: svc.Schemas, IDs: svc.IDs, Now: time.Now,
			Lease: lease, Blobs: &runs.Blobs{Dir: t.TempDir()}}
	}
	// Leases of hours, so that no reaper of another test ends these runs meanwhile.
	rs, patient := tracker(time.Hour), tracker(10*time.Hour)
	f.tracked = mustRun(t, rs, fmt.Sprintf(`{"name":"tracked","inputs":[{"id":%q,"role":"data"}],"ref":{"workflow_template_id":%q},"study_id":%q}`, f.final, f.wf, f.study2)).ID
	mustDo(t, rs, f.tracked, runs.OpClaim, f.exec)
	upload := func(name, body string) runs.Artifact {
		a, err := rs.Upload(t.Context(), f.tracked, name, "text/plain", -1, strings.NewReader(body), f.exec, false)
		if err != nil {
			t.Fatalf("upload %s: %v", name, err)
		}
		return a
	}
	f.artA, f.artB = upload("a.txt", "alpha"), upload("b/model.bin", "weights")
	mustDo(t, rs, f.tracked, runs.OpComplete, f.exec, runs.RunInput{ID: f.trackedOut, Role: "result"})
	f.stuck = mustRun(t, rs, `{"name":"stuck"}`).ID
	mustDo(t, rs, f.stuck, runs.OpClaim, f.exec)
	f.healthy = mustRun(t, patient, `{"name":"healthy"}`).ID
	mustDo(t, patient, f.healthy, runs.OpClaim, f.exec)
	return f
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// cases are each recipe's parameters and answer in the fixture, by heading.
func (f *cookbookGraph) cases() map[string]cookbookCase {
	return map[string]cookbookCase{
		"Everything that contributed to a dataset, at any depth": {
			params: map[string]any{"dataset": f.final},
			cols:   []string{"id", "kind"},
			want: []string{f.run2 + " ModelRun", f.mid + " Dataset", f.raw1 + " Dataset", f.run1 + " ModelRun", f.raw0 + " Dataset",
				f.model + " Model", f.wf + " WorkflowTemplate", f.tin + " DatasetTemplate", f.tout + " DatasetTemplate", f.study + " Study"},
		},
		"Every run and dataset affected by a bad dataset": {
			params: map[string]any{"dataset": f.mid},
			cols:   []string{"id", "kind"},
			want: []string{f.run2 + " ModelRun", f.final + " Dataset", f.run3 + " ModelRun", f.report + " Dataset", f.run4 + " ModelRun",
				f.late + " Dataset", f.tracked + " Run", f.trackedOut + " Dataset", f.artA.ID + " Artifact", f.artB.ID + " Artifact"},
		},
		"Runs of a modeller in a period": {
			params:  map[string]any{"modeller": f.bob, "from": "2024-01-01T00:00:00Z", "to": "2024-03-01T00:00:00Z"},
			cols:    []string{"id", "name", "started"},
			want:    []string{f.run1 + " run1 2024-01-01T00:00:00Z", f.run4 + " run4 2024-02-15T00:00:00Z"},
			ordered: true,
		},
		"Datasets generated by a given model version": {
			params: map[string]any{"model": f.model, "version": "2.0"},
			cols:   []string{"id"},
			want:   []string{f.final, f.report},
		},
		"Datasets never used": {
			params: map[string]any{"publisher": f.org},
			cols:   []string{"id"},
			want:   []string{f.late, f.unused, f.orphan, f.trackedOut},
		},
		"Runs that used an input generated after they started": {
			params: map[string]any{"workflow": f.wf},
			cols:   []string{"run", "input", "generated_by", "started", "input_ready"},
			want:   []string{f.run4 + " " + f.report + " " + f.run3 + " 2024-02-15T00:00:00Z 2024-03-01T01:00:00Z"},
		},
		"The longest chain of runs behind a dataset": {
			params: map[string]any{"dataset": f.late},
			cols:   []string{"chain", "runs"},
			want:   []string{fmt.Sprintf("[%s %s %s %s %s] 4", f.late, f.report, f.final, f.mid, f.raw0)},
		},
		"Studies touching a dataset": {
			params: map[string]any{"dataset": f.final},
			cols:   []string{"id"},
			want:   []string{f.study, f.study2},
		},
		"What a run used and what it generated": {
			params: map[string]any{"run": f.run2},
			cols:   []string{"direction", "id", "kind", "role"},
			want: []string{"used " + f.mid + " Dataset " + f.tin, "used " + f.raw1 + " Dataset " + f.tin, "used " + f.model + " Model model",
				"generated " + f.final + " Dataset " + f.tout},
		},
		"Who contributed to a dataset": {
			params: map[string]any{"dataset": f.final},
			cols:   []string{"role", "id", "kind"},
			want: []string{"modeller " + f.ada + " Person", "modeller " + f.bob + " Person", "publisher " + f.org + " Organisation",
				"requesting_organisation " + f.agency + " Organisation"},
		},
		"Runs of a workflow template": {
			params:  map[string]any{"workflow": f.wf},
			cols:    []string{"id", "kind"},
			want:    []string{f.run1 + " ModelRun", f.run2 + " ModelRun", f.run4 + " ModelRun", f.run3 + " ModelRun", f.tracked + " Run"},
			ordered: true,
		},
		"Every version of a record": {
			params:  map[string]any{"id": f.unused},
			cols:    []string{"version", "updated_by", "reason"},
			want:    []string{"3 test:graph second fix", "2 test:graph first fix", "1 test:graph <nil>"},
			ordered: true,
		},
		"Deleted records still referenced by current ones": {
			params: map[string]any{"deleter": f.curator.Subject},
			cols:   []string{"id", "relationship", "deleted", "deleted_kind"},
			want:   []string{f.final + " WAS_GENERATED_BY " + f.run5 + " ModelRun"},
		},
		"Tracked runs stuck in RUNNING past their lease": {
			params: map[string]any{"executor": f.exec.Subject, "now": f.now.Add(2 * time.Hour).Format(time.RFC3339)},
			cols:   []string{"id", "name"},
			want:   []string{f.stuck + " stuck"},
		},
		"Artifacts of a run with their sha256": {
			params:  map[string]any{"run": f.tracked},
			cols:    []string{"name", "sha256", "size", "media_type"},
			want:    []string{"a.txt " + sha("alpha") + " 5 text/plain", "b/model.bin " + sha("weights") + " 7 text/plain"},
			ordered: true,
		},
		"Current datasets published by an organisation": {
			params: map[string]any{"publisher": f.org},
			cols:   []string{"id"},
			want:   []string{f.raw0, f.raw1, f.mid, f.final, f.report, f.late, f.unused, f.orphan, f.trackedOut},
		},
	}
}
