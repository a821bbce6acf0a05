package main

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/oklog/ulid/v2"
)

// The synthetic graph: chains of model runs through datasets, shaped like real use.
//
//   - Hubs: a few persons, models and workflow templates that every run is associated
//     with, uses or is influenced by.
//   - Chains: run k of a chain uses the first output of run k−1 and two more datasets,
//     each a fresh source dataset (no run generated it) or, with probability crossLink,
//     an output of a recent run of an earlier chain. Fan-in 3; each run generates 1–2.
//   - Most chains are 3–40 runs long; a few are 60–150 runs long, and the samples are
//     outputs from the middle of those, so depth 20 (10 runs) really reaches that far
//     both ways.
//
// The plan is a pure function of the node count (seeded), so -reuse can rebuild it
// without reading the graph back.
const (
	hubsPerKind = 5
	crossLink   = 0.3
	window      = 5000 // cross-links pick among the last window generated datasets
)

type dataset struct {
	id, name string
	at       time.Time
}

type modelRun struct {
	id, name                string
	start, end              time.Time
	inputs                  [3]int // dataset indexes
	outputs                 []int
	person, model, template int
}

type plan struct {
	prefix                     string
	persons, models, templates []string
	datasets                   []dataset
	runs                       []modelRun
	samples                    []int // dataset indexes deep in long chains
	longChains, chains         int
	longestChain               int
}

func (p *plan) nodes() int {
	return len(p.persons) + len(p.models) + len(p.templates) + len(p.datasets) + len(p.runs)
}

func (p *plan) relationships() int {
	n := 0
	for _, r := range p.runs {
		n += 3 + len(r.outputs) + 3
	}
	return n
}

func newPlan(n int) *plan {
	rng := rand.New(rand.NewSource(int64(n)))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tick := 0
	p := &plan{prefix: fmt.Sprintf("lbench-%d", n)}
	newID := func(at time.Time) string {
		return p.prefix + "/" + ulid.MustNew(ulid.Timestamp(at), rng).String()
	}
	now := func() time.Time { tick++; return base.Add(time.Duration(tick) * time.Minute) }
	for i := 0; i < hubsPerKind; i++ {
		p.persons = append(p.persons, newID(now()))
		p.models = append(p.models, newID(now()))
		p.templates = append(p.templates, newID(now()))
	}
	newDataset := func() int {
		at := now()
		p.datasets = append(p.datasets, dataset{id: newID(at), name: fmt.Sprintf("lbench dataset %d", len(p.datasets)), at: at})
		return len(p.datasets) - 1
	}
	var recent []int // generated datasets, the last window of them
	long := max(3, n/20000)
	for p.nodes() < n {
		length := 3 + rng.Intn(38)
		isLong := p.chains < long
		if isLong {
			length = 60 + rng.Intn(91)
		}
		p.chains++
		if isLong {
			p.longChains++
		}
		p.longestChain = max(p.longestChain, length)
		prev := newDataset()
		for k := 0; k < length && p.nodes() < n; k++ {
			start := now()
			r := modelRun{id: newID(start), name: fmt.Sprintf("lbench run %d", len(p.runs)), start: start, end: start.Add(30 * time.Minute),
				person: rng.Intn(hubsPerKind), model: rng.Intn(hubsPerKind), template: rng.Intn(hubsPerKind)}
			r.inputs[0] = prev
			for j := 1; j < 3; j++ {
				if len(recent) > 0 && rng.Float64() < crossLink {
					r.inputs[j] = recent[rng.Intn(len(recent))]
				} else {
					r.inputs[j] = newDataset()
				}
			}
			outs := 1 + rng.Intn(2)
			for j := 0; j < outs; j++ {
				r.outputs = append(r.outputs, newDataset())
			}
			if isLong && k == length/2 {
				p.samples = append(p.samples, r.outputs[0])
			}
			p.runs = append(p.runs, r)
			prev = r.outputs[0]
			recent = append(recent, r.outputs...)
			if len(recent) > 2*window {
				recent = append([]int(nil), recent[len(recent)-window:]...)
			}
		}
	}
	return p
}

// existing says how many of the plan's nodes are in the graph and whether the graph was
// finished (the marker is set last).
func existing(ctx context.Context, d neo4j.DriverWithContext, db string, p *plan) (int64, bool, error) {
	res, err := neo4j.ExecuteQuery(ctx, d, `
		MATCH (n:Record) WHERE n.id STARTS WITH $prefix
		RETURN count(n) AS n, coalesce(max(n.lbench_complete), false) AS done`,
		map[string]any{"prefix": p.prefix + "/"}, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(db))
	if err != nil {
		return 0, false, err
	}
	c, _ := res.Records[0].Get("n")
	done, _ := res.Records[0].Get("done")
	return c.(int64), done.(bool), nil
}

// deleteGraph removes every node under the plan's prefix.
func deleteGraph(ctx context.Context, d neo4j.DriverWithContext, db string, p *plan) error {
	s := d.NewSession(ctx, neo4j.SessionConfig{DatabaseName: db})
	defer s.Close(ctx)
	r, err := s.Run(ctx, `MATCH (n:Record) WHERE n.id STARTS WITH $prefix
		CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 2000 ROWS`, map[string]any{"prefix": p.prefix + "/"})
	if err != nil {
		return err
	}
	_, err = r.Consume(ctx)
	return err
}

// write creates the plan's graph in UNWIND batches of batch rows per transaction.
func write(ctx context.Context, d neo4j.DriverWithContext, db string, p *plan, batch int, log io.Writer) error {
	s := d.NewSession(ctx, neo4j.SessionConfig{DatabaseName: db, AccessMode: neo4j.AccessModeWrite})
	defer s.Close(ctx)
	exec := func(what, cypher string, rows []map[string]any) error {
		t0 := time.Now()
		for i := 0; i < len(rows); i += batch {
			chunk := rows[i:min(i+batch, len(rows))]
			_, err := s.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
				r, err := tx.Run(ctx, cypher, map[string]any{"rows": chunk})
				if err != nil {
					return nil, err
				}
				return r.Consume(ctx)
			})
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
		}
		fmt.Fprintf(log, "   %-28s %8d rows in %s\n", what, len(rows), time.Since(t0).Round(time.Millisecond))
		return nil
	}
	record := func(id, kind, name string, at time.Time) map[string]any {
		return map[string]any{"id": id, "kind": kind, "name": name, "version": int64(1), "created_at": at, "updated_at": at,
			"created_by": "env:lineagebench", "updated_by": "env:lineagebench"}
	}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var hubs = map[string][]map[string]any{}
	for i := range hubsPerKind {
		hubs["Person"] = append(hubs["Person"], record(p.persons[i], "Person", fmt.Sprintf("lbench person %d", i), base))
		hubs["Model"] = append(hubs["Model"], record(p.models[i], "Model", fmt.Sprintf("lbench model %d", i), base))
		hubs["WorkflowTemplate"] = append(hubs["WorkflowTemplate"], record(p.templates[i], "WorkflowTemplate", fmt.Sprintf("lbench workflow %d", i), base))
	}
	if err := exec("hub persons", `UNWIND $rows AS r CREATE (n:Record:Person:Agent) SET n = r`, hubs["Person"]); err != nil {
		return err
	}
	if err := exec("hub models", `UNWIND $rows AS r CREATE (n:Record:Model:Entity) SET n = r`, hubs["Model"]); err != nil {
		return err
	}
	if err := exec("hub workflow templates", `UNWIND $rows AS r CREATE (n:Record:WorkflowTemplate:Entity:Plan) SET n = r`, hubs["WorkflowTemplate"]); err != nil {
		return err
	}
	rows := make([]map[string]any, 0, len(p.datasets))
	for _, ds := range p.datasets {
		rows = append(rows, record(ds.id, "Dataset", ds.name, ds.at))
	}
	if err := exec("datasets", `UNWIND $rows AS r CREATE (n:Record:Dataset:Entity) SET n = r`, rows); err != nil {
		return err
	}
	rows = rows[:0]
	var used, generated, hubRels []map[string]any
	for _, r := range p.runs {
		m := record(r.id, "ModelRun", r.name, r.end)
		m["startedAtTime"], m["endedAtTime"] = r.start, r.end
		m["workflow_template_id"], m["modeller_id"] = p.templates[r.template], p.persons[r.person]
		rows = append(rows, m)
		for j, in := range r.inputs {
			used = append(used, map[string]any{"run": r.id, "ds": p.datasets[in].id, "role": fmt.Sprintf("input_%d", j), "time": r.start})
		}
		for j, out := range r.outputs {
			generated = append(generated, map[string]any{"run": r.id, "ds": p.datasets[out].id, "role": fmt.Sprintf("output_%d", j), "time": r.end})
		}
		hubRels = append(hubRels, map[string]any{"run": r.id, "person": p.persons[r.person], "model": p.models[r.model],
			"template": p.templates[r.template], "time": r.start})
	}
	if err := exec("model runs", `UNWIND $rows AS r CREATE (n:Record:ModelRun:Activity) SET n = r`, rows); err != nil {
		return err
	}
	if err := exec("USED (run → dataset)", `UNWIND $rows AS r
		MATCH (x:Record {id:r.run}) MATCH (d:Record {id:r.ds})
		CREATE (x)-[:USED {role:r.role, field:'/inputs', time:r.time}]->(d)`, used); err != nil {
		return err
	}
	if err := exec("WAS_GENERATED_BY", `UNWIND $rows AS r
		MATCH (x:Record {id:r.run}) MATCH (d:Record {id:r.ds})
		CREATE (d)-[:WAS_GENERATED_BY {role:r.role, field:'/outputs', time:r.time}]->(x)`, generated); err != nil {
		return err
	}
	if err := exec("hub relationships", `UNWIND $rows AS r
		MATCH (x:Record {id:r.run}) MATCH (p:Record {id:r.person}) MATCH (m:Record {id:r.model}) MATCH (w:Record {id:r.template})
		CREATE (x)-[:WAS_ASSOCIATED_WITH {role:'modeller', plan:r.template, time:r.time}]->(p)
		CREATE (x)-[:USED {role:'model', model_version:'1', time:r.time}]->(m)
		CREATE (x)-[:WAS_INFLUENCED_BY {role:'plan', time:r.time}]->(w)`, hubRels); err != nil {
		return err
	}
	// The marker, last: the graph under this prefix is complete.
	return exec("completion marker", `UNWIND $rows AS r MATCH (w:Record {id:r.id}) SET w.lbench_complete = true`,
		[]map[string]any{{"id": p.templates[0]}})
}
