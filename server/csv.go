package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"net/http"

	"github.com/gorilla/mux"

	"provgraph"
	"provgraph/auth"
	"provgraph/registry"
	"provgraph/runs"
)

// CSVRuns registers model runs from spreadsheets.
type CSVRuns interface {
	CSVTemplate(ctx context.Context, workflowID string, v registry.Viewer) ([]string, error)
	RegisterCSV(ctx context.Context, workflowID string, csv io.Reader, actor registry.Actor, idemKey string, checkOnly bool) ([]runs.CSVResult, error)
}

func (s *Server) csvRoutes() []route {
	return []route{
		{Method: "GET", Path: "/api/v1/workflow-templates/" + idPattern + "/csv-template", Role: auth.Reader, Tag: "model-runs", Status: http.StatusOK, Produces: []string{"text/csv"},
			Summary: "The CSV header for runs of this workflow template: one column per field, input and output template, deferred resource and annotation.",
			Handler: s.csvTemplate},
		{Method: "POST", Path: "/api/v1/model-runs:csv", Transfer: true, Role: auth.Writer, Tag: "model-runs", Status: http.StatusOK, Query: []string{"workflow_template_id", "dry_run"}, Response: csvResults{}, IdempotencyKey: true,
			Example: "display_name,description,start_time,end_time\nReefSim projection 2025,One-year projection,2025-02-03T09:00:00Z,2025-02-03T14:20:00Z\n",
			Body:    map[string]any{"type": "string", "description": "CSV with the header of GET /api/v1/workflow-templates/{id}/csv-template"}, BodyType: "text/csv",
			Summary: "Register one model run per CSV row (up to 1000), each on its own, and report every row by line; ?dry_run=true only checks.",
			Handler: s.registerCSV},
	}
}

func (s *Server) csvTemplate(w http.ResponseWriter, r *http.Request) {
	header, err := s.CSVRuns.CSVTemplate(r.Context(), mux.Vars(r)["id"], viewer(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	_ = cw.Write(header)
	cw.Flush()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="model-runs.csv"`)
	_, _ = w.Write(b.Bytes())
}

type csvResult struct {
	Line int `json:"line"`
	outcome
}

func (s *Server) registerCSV(w http.ResponseWriter, r *http.Request) {
	body, err := readRaw(w, r, s.maxBatchBody())
	if err != nil {
		writeError(w, r, err)
		return
	}
	key, err := idempotencyKey(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	mode, err := batchMode(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	wf := r.URL.Query().Get("workflow_template_id")
	if wf == "" {
		writeError(w, r, &provgraph.Error{Code: provgraph.Invalid, Status: http.StatusBadRequest, Message: "workflow_template_id is required",
			Fields: []provgraph.FieldError{{Path: "workflow_template_id", Message: "is required"}}})
		return
	}
	results, err := s.CSVRuns.RegisterCSV(r.Context(), wf, bytes.NewReader(body), actor(r), key, mode == runs.CheckOnly)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]csvResult, len(results))
	for i, res := range results {
		out[i] = csvResult{Line: res.Line, outcome: outcomeOf(r, res.Result, mode == runs.CheckOnly)}
	}
	writeJSON(w, http.StatusOK, csvResults{Results: out})
}
