package graph

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"provgraph"
	"provgraph/registry"
	"provgraph/runs"
)

var _ runs.MetricStore = (*Runs)(nil)

// AddMetrics stores metrics under a unique (run, node, name, step) key: MERGE keeps the
// first report, and this request's nonce tells which ones it created.
func (s *Runs) AddMetrics(ctx context.Context, runID string, ms []runs.Metric, actor registry.Actor, admin bool, at time.Time) ([]bool, error) {
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	v, err := s.DB.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		cur, err := run(ctx, tx, `
			OPTIONAL MATCH (r:Record:Run {id:$id}) WHERE r.deleted_at IS NULL
			RETURN r IS NOT NULL AS found, r.executor AS executor, r.state AS state`, map[string]any{"id": runID})
		if err != nil {
			return nil, err
		}
		if found, _ := cur.Get("found"); found != true {
			return nil, registry.ErrNotFound("run", runID)
		}
		if executor := str(cur, "executor"); executor != actor.Subject && !admin {
			if executor == "" {
				return nil, provgraph.Errorf(provgraph.Conflict, "run %s is %s: nobody has claimed it to report metrics", runID, str(cur, "state"))
			}
			return nil, provgraph.Errorf(provgraph.Forbidden, "only the executor that claimed run %s (%s) may report its metrics", runID, executor)
		}
		if st := runs.State(str(cur, "state")); !admin && st != runs.Running && st != runs.Canceling {
			return nil, provgraph.Errorf(provgraph.Conflict, "run %s is %s: metrics are reported while it runs", runID, st)
		}
		rows := make([]map[string]any, len(ms))
		for i, m := range ms {
			step := int64(-1)
			if m.Step != nil {
				step = *m.Step
			}
			rows[i] = map[string]any{"i": i, "key": runID + "\x00" + m.Key(), "name": m.Name, "node": m.NodeID, "value": m.Value, "step": step, "format": m.Format}
		}
		recs, err := collect(ctx, tx, `
			UNWIND $rows AS row
			MERGE (m:Metric {key:row.key})
			ON CREATE SET m.run_id = $id, m.name = row.name, m.node_id = row.node, m.value = row.value, m.step = row.step, m.format = row.format,
				m.reported_at = $now, m.reported_by = $subject, m.nonce = $nonce
			RETURN row.i AS i, m.nonce = $nonce AS fresh`,
			map[string]any{"rows": rows, "id": runID, "now": at, "subject": actor.Subject, "nonce": hex.EncodeToString(nonce)})
		if err != nil {
			return nil, err
		}
		fresh := make([]bool, len(ms))
		for _, r := range recs {
			i, _ := r.Get("i")
			f, _ := r.Get("fresh")
			fresh[i.(int64)] = f == true
		}
		return fresh, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]bool), nil
}

// Metrics lists a run's metrics by node, name and step.
func (s *Runs) Metrics(ctx context.Context, runID string) ([]runs.Metric, error) {
	v, err := s.DB.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		// Only whether the run exists: its events and outputs are not needed here.
		found, err := collect(ctx, tx, `MATCH (r:Record:Run {id:$id}) RETURN r.id AS id`, map[string]any{"id": runID})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, registry.ErrNotFound("run", runID)
		}
		return collect(ctx, tx, `
			MATCH (m:Metric {run_id:$id})
			RETURN m.name AS name, m.node_id AS node, m.value AS value, m.step AS step, m.format AS format
			ORDER BY node, name, step LIMIT 100000`, map[string]any{"id": runID})
	})
	if err != nil {
		return nil, err
	}
	recs := v.([]*neo4j.Record)
	out := make([]runs.Metric, 0, len(recs))
	for _, r := range recs {
		val, _ := r.Get("value")
		step, _ := r.Get("step")
		m := runs.Metric{Name: str(r, "name"), NodeID: str(r, "node"), Value: val.(float64), Format: str(r, "format")}
		if s := step.(int64); s >= 0 {
			m.Step = &s
		}
		out = append(out, m)
	}
	return out, nil
}
