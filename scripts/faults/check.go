package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"provgraph/scripts/internal/apiclient"
)

// storedRun is a model run as the graph holds it: its document and the records its
// relationships reach.
type storedRun struct {
	ID        string
	Document  string
	Used      []string // (run)-[:USED]->(x)
	Generated []string // (x)-[:WAS_GENERATED_BY]->(run)
	Associate []string // (run)-[:WAS_ASSOCIATED_WITH]->(x)
	Informed  []string // (run)-[:WAS_INFORMED_BY]->(x)
}

// runDocument is what a model-run document names.
type runDocument struct {
	DisplayName string `json:"display_name"`
	Workflow    string `json:"workflow_template_id"`
	Study       string `json:"study_id"`
	Inputs      []struct {
		Dataset string `json:"dataset_id"`
	} `json:"inputs"`
	Outputs []struct {
		Dataset string `json:"dataset_id"`
	} `json:"outputs"`
	Associations struct {
		Modeller string `json:"modeller_id"`
	} `json:"associations"`
}

// missing lists the relationships run's document names that the graph lacks, or holds
// more than once: an empty list is a complete run. model is the software the workflow
// runs, which every run USED.
func missing(run storedRun, model string) []string {
	var doc runDocument
	if err := json.Unmarshal([]byte(run.Document), &doc); err != nil {
		return []string{"its document does not parse: " + err.Error()}
	}
	var out []string
	want := func(rel string, have []string, ids ...string) {
		for _, id := range ids {
			switch n := count(have, id); {
			case n == 0:
				out = append(out, fmt.Sprintf("%s %s", rel, id))
			case n > 1:
				out = append(out, fmt.Sprintf("%s %s %d times", rel, id, n))
			}
		}
	}
	var used, generated []string
	for _, in := range doc.Inputs {
		used = append(used, in.Dataset)
	}
	for _, o := range doc.Outputs {
		generated = append(generated, o.Dataset)
	}
	want("USED", run.Used, append(used, model)...)
	want("WAS_GENERATED_BY", run.Generated, generated...)
	want("WAS_ASSOCIATED_WITH", run.Associate, doc.Associations.Modeller)
	if doc.Study != "" {
		want("WAS_INFORMED_BY", run.Informed, doc.Study)
	}
	if extra := len(run.Used) - len(used) - 1; extra > 0 {
		out = append(out, fmt.Sprintf("%d USED more than its document names", extra))
	}
	if extra := len(run.Generated) - len(generated); extra > 0 {
		out = append(out, fmt.Sprintf("%d WAS_GENERATED_BY more than its document names", extra))
	}
	return out
}

func count(ids []string, id string) int {
	n := 0
	for _, x := range ids {
		if x == id {
			n++
		}
	}
	return n
}

// graphRuns reads every model run in the private Neo4j, straight over Bolt.
func graphRuns(ctx context.Context, uri string) ([]storedRun, error) {
	d, err := neo4j.NewDriverWithContext(uri, neo4j.NoAuth())
	if err != nil {
		return nil, err
	}
	defer d.Close(context.Background())
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	res, err := neo4j.ExecuteQuery(ctx, d, `
		MATCH (r:Record:ModelRun)
		RETURN r.id AS id, r.document AS document,
			[(r)-[:USED]->(x) | x.id] AS used,
			[(x)-[:WAS_GENERATED_BY]->(r) | x.id] AS generated,
			[(r)-[:WAS_ASSOCIATED_WITH]->(x) | x.id] AS associate,
			[(r)-[:WAS_INFORMED_BY]->(x) | x.id] AS informed`,
		nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithReadersRouting())
	if err != nil {
		return nil, fmt.Errorf("reading the model runs back: %w", err)
	}
	var out []storedRun
	for _, rec := range res.Records {
		m := rec.AsMap()
		out = append(out, storedRun{ID: str(m["id"]), Document: str(m["document"]),
			Used: strs(m["used"]), Generated: strs(m["generated"]), Associate: strs(m["associate"]), Informed: strs(m["informed"])})
	}
	return out, nil
}

func str(v any) string { s, _ := v.(string); return s }

func strs(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, str(x))
	}
	return out
}

// verdict is what the graph says about the registrations.
type verdict struct {
	Attempted, Acked    int
	AckedAfterRetry     int      // acknowledged after one or more 503s or unanswered attempts
	Replayed            int      // of them, answered with the record an earlier attempt committed
	Lost                []string // acknowledged ids the graph lacks, or holds for another document
	InGraph             int
	UnackedCommitted    int      // in the graph though the client never saw its 201
	Partial             []string // runs missing a relationship their document names
	Duplicated          []string // writes registered more than once
	Refused             []string // writes that got a final answer other than 201 or 503
	NeverAnswered       int      // writes still unacknowledged when the load ended
	LifecyclesAcked     int      // lifecycles with an acknowledged create
	LifecycleOps        int      // transitions acknowledged or seen done
	LifecycleLost       []string // acknowledged transitions the run does not show
	LifecycleRefused    []string
	LifecyclesCompleted int
}

// checkWrites compares the acknowledged writes with the graph's model runs.
func checkWrites(writes []*write, stored []storedRun, model string) verdict {
	v := verdict{Attempted: len(writes), InGraph: len(stored)}
	byName := map[string][]storedRun{}
	for _, s := range stored {
		var doc runDocument
		_ = json.Unmarshal([]byte(s.Document), &doc)
		byName[doc.DisplayName] = append(byName[doc.DisplayName], s)
		if m := missing(s, model); len(m) > 0 {
			v.Partial = append(v.Partial, fmt.Sprintf("%s (%s): %v", s.ID, doc.DisplayName, m))
		}
	}
	for _, w := range writes {
		name := fmt.Sprintf("bench run %d", w.I) // fixture.ModelRun's display name
		got := byName[name]
		if len(got) > 1 {
			ids := make([]string, len(got))
			for i, g := range got {
				ids[i] = g.ID
			}
			v.Duplicated = append(v.Duplicated, fmt.Sprintf("%s: %v", name, ids))
		}
		if w.Refused != "" {
			v.Refused = append(v.Refused, fmt.Sprintf("%s: %s", name, w.Refused))
		}
		if w.ID == "" {
			if w.Refused == "" {
				v.NeverAnswered++
			}
			if len(got) > 0 {
				v.UnackedCommitted++
			}
			continue
		}
		v.Acked++
		if w.Attempts > 1 {
			v.AckedAfterRetry++
		}
		if w.Replayed {
			v.Replayed++
		}
		if !slices.ContainsFunc(got, func(s storedRun) bool { return s.ID == w.ID }) {
			v.Lost = append(v.Lost, fmt.Sprintf("%s (%s)", w.ID, name))
		}
	}
	return v
}

// checkLifecycles reads every tracked run back through the API: each acknowledged
// transition must show in its state and its events.
func checkLifecycles(ctx context.Context, c *apiclient.Client, lcs []*lifecycle, v *verdict) error {
	for _, lc := range lcs {
		if lc.Refused != "" {
			v.LifecycleRefused = append(v.LifecycleRefused, fmt.Sprintf("lifecycle %d: %s", lc.I, lc.Refused))
		}
		if lc.ID == "" {
			continue
		}
		v.LifecyclesAcked++
		v.LifecycleOps += len(lc.Acked) + len(lc.Observed)
		r, err := c.Do(ctx, "GET", "/api/v1/runs/"+lc.ID+"?view=full", nil)
		if err != nil {
			return err
		}
		if r.Status == http.StatusNotFound {
			v.LifecycleLost = append(v.LifecycleLost, fmt.Sprintf("%s: created (acknowledged) but not found", lc.ID))
			continue
		}
		var run struct {
			State  string  `json:"state"`
			Events []event `json:"events"`
		}
		if r.Status != http.StatusOK || r.JSON(&run) != nil {
			return fmt.Errorf("reading run %s back: %d %s", lc.ID, r.Status, oneLine(r.Body))
		}
		if run.State == "SUCCEEDED" {
			v.LifecyclesCompleted++
		}
		done := append(slices.Clone(lc.Acked), lc.Observed...)
		want := "PENDING"
		switch {
		case slices.Contains(done, "complete"):
			want = "SUCCEEDED"
		case slices.Contains(done, "claim"):
			want = "RUNNING"
		}
		// An unacknowledged transition may have committed: the state may be one further.
		ok := run.State == want || want == "PENDING" && run.State == "RUNNING" || want == "RUNNING" && run.State == "SUCCEEDED"
		if !ok {
			v.LifecycleLost = append(v.LifecycleLost, fmt.Sprintf("%s: %v acknowledged or seen, state %s", lc.ID, done, run.State))
		}
		for _, op := range lc.Acked[1:] {
			if n := countOps(run.Events, op); n != 1 {
				v.LifecycleLost = append(v.LifecycleLost, fmt.Sprintf("%s: %s acknowledged, %d such events", lc.ID, op, n))
			}
		}
	}
	return nil
}

// event is one transition in a run's history.
type event struct {
	Op string `json:"op"`
}

func countOps(events []event, op string) int {
	n := 0
	for _, e := range events {
		if e.Op == op {
			n++
		}
	}
	return n
}
