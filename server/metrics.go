package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"

	"provgraph"
	"provgraph/auth"
	"provgraph/registry"
	"provgraph/runs"
)

// RunMetrics reports and reads what runs measure.
type RunMetrics interface {
	ReportMetrics(ctx context.Context, id string, ms []runs.Metric, actor registry.Actor, admin bool) ([]runs.MetricResult, error)
	Metrics(ctx context.Context, id string) ([]runs.Metric, error)
}

var metricsBody = map[string]any{
	"type": "object", "required": []string{"metrics"}, "additionalProperties": false,
	"properties": map[string]any{"metrics": map[string]any{"type": "array", "minItems": 1, "maxItems": runs.MaxMetrics,
		// Each metric is judged on its own and answered OK, DUPLICATE or INVALID (a
		// missing name, a negative step…) in a 200, so only the shapes are the body's.
		"items": map[string]any{"type": "object", "additionalProperties": false,
			"description": "name (a letter, then up to 127 letters, digits and _ . : / -), node_id, value and a step from 0; a metric without them is answered INVALID",
			"properties": map[string]any{"name": map[string]any{"type": "string"}, "node_id": map[string]any{"type": "string"},
				"value": map[string]any{"type": "number"}, "step": map[string]any{"type": "integer"},
				"format": map[string]any{"type": "string", "maxLength": 32}}}}},
}

func (s *Server) metricRoutes() []route {
	path := "/api/v1/runs/" + idPattern + "/metrics"
	return []route{
		{Method: "POST", Path: path, Role: auth.Writer, Tag: "runs", Body: metricsBody, Status: http.StatusOK, Response: metricReport{}, Errors: []int{http.StatusForbidden},
			Example: map[string]any{"metrics": []any{map[string]any{"name": "accuracy", "node_id": "train", "value": 0.93, "step": 10}}},
			Summary: "Report metrics (KFP ReportRunMetrics): per metric OK, DUPLICATE (the first report of a run, node, name and step stands) or INVALID; only the run's executor.",
			Handler: s.reportMetrics},
		{Method: "GET", Path: path, Role: auth.Reader, Tag: "runs", Status: http.StatusOK, Response: metricList{},
			Summary: "The metrics a run reported.", Handler: s.runMetrics},
	}
}

func (s *Server) reportMetrics(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req struct {
		Metrics []runs.Metric `json:"metrics"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, r, provgraph.InvalidFields(`the body must be {"metrics": [{"name", "node_id", "value", "step"?}, …]}`, []provgraph.FieldError{{Path: "/metrics", Message: err.Error()}}))
		return
	}
	res, err := s.Runs.ReportMetrics(r.Context(), mux.Vars(r)["id"], req.Metrics, actor(r), principal(r.Context()).Role.Allows(auth.Admin))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, metricReport{Results: res})
}

func (s *Server) runMetrics(w http.ResponseWriter, r *http.Request) {
	ms, err := s.Runs.Metrics(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, metricList{Metrics: ms})
}
