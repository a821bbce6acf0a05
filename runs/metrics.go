package runs

import (
	"context"
	"fmt"
	"time"

	"provgraph"
	"provgraph/registry"
)

// MetricStore keeps the metrics runs report.
type MetricStore interface {
	// AddMetrics stores the metrics not stored before for (run, node, name, step) and
	// reports which were; checks that the actor may report for the run.
	AddMetrics(ctx context.Context, runID string, ms []Metric, actor registry.Actor, admin bool, at time.Time) (fresh []bool, err error)
	Metrics(ctx context.Context, runID string) ([]Metric, error)
}

// ReportMetrics stores a batch of metrics with KFP's semantics: each is OK, DUPLICATE
// (its run, node, name and step were reported before: the first report wins) or INVALID,
// and a bad metric does not undo its good neighbours.
func (s *Runs) ReportMetrics(ctx context.Context, id string, ms []Metric, actor registry.Actor, admin bool) ([]MetricResult, error) {
	if !registry.ValidID(id) {
		return nil, registry.ErrNotFound("run", id)
	}
	if len(ms) == 0 || len(ms) > MaxMetrics {
		return nil, provgraph.InvalidFields("a report holds 1 to 1000 metrics", []provgraph.FieldError{{Path: "/metrics", Message: fmt.Sprintf("has %d metrics", len(ms))}})
	}
	results := make([]MetricResult, len(ms))
	var valid []Metric
	var at []int
	seen := map[string]bool{}
	for i, m := range ms {
		results[i] = MetricResult{Name: m.Name, NodeID: m.NodeID, Step: m.Step, Status: MetricOK}
		if msg := CheckMetric(m); msg != "" {
			results[i].Status, results[i].Message = MetricInvalid, msg
			continue
		}
		if k := m.Key(); seen[k] {
			results[i].Status, results[i].Message = MetricDuplicate, "repeated in this report"
			continue
		} else {
			seen[k] = true
		}
		valid, at = append(valid, m), append(at, i)
	}
	if len(valid) > 0 {
		fresh, err := s.Store.AddMetrics(ctx, id, valid, actor, admin, s.Now().UTC())
		if err != nil {
			return nil, err
		}
		for j, ok := range fresh {
			if !ok {
				results[at[j]].Status, results[at[j]].Message = MetricDuplicate, "reported before; the first report stands"
			}
		}
	}
	return results, nil
}

// Metrics lists what a run reported.
func (s *Runs) Metrics(ctx context.Context, id string) ([]Metric, error) {
	if !registry.ValidID(id) {
		return nil, registry.ErrNotFound("run", id)
	}
	return s.Store.Metrics(ctx, id)
}

// Key identifies a metric within its run.
func (m Metric) Key() string {
	step := int64(-1)
	if m.Step != nil {
		step = *m.Step
	}
	return fmt.Sprintf("%s\x00%s\x00%d", m.NodeID, m.Name, step)
}
