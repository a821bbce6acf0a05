package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"provgraph"
	"provgraph/auth"
	"provgraph/registry"
	"provgraph/runs"
)

// batchResult is one record's outcome in a batch answer.
type batchResult struct {
	Index int `json:"index"`
	outcome
}

// outcome is what became of one model run of a batch or a CSV row.
type outcome struct {
	Status int              `json:"status"`
	ID     string           `json:"id,omitempty"`
	Record *registry.Record `json:"record,omitempty"`
	Error  *errorDetail     `json:"error,omitempty"`
}

// outcomeOf answers one result: its error, 200 when only checked, or 201 with the
// record, which leaves out its PROV-JSON (an answer would be mostly that; links.prov has it).
func outcomeOf(r *http.Request, res runs.Result, checkOnly bool) outcome {
	switch {
	case res.Err != nil:
		code, detail := errorOf(r, res.Err)
		return outcome{Status: code, Error: &detail}
	case checkOnly:
		return outcome{Status: http.StatusOK}
	}
	rec := res.Record
	rec.Links = recordLinks("model-runs", rec.ID)
	rec.ProvJSON = nil
	return outcome{Status: http.StatusCreated, ID: rec.ID, Record: &rec}
}

var batchBody = map[string]any{
	"type": "object", "required": []string{"records"}, "additionalProperties": false,
	"properties": map[string]any{"records": map[string]any{
		"type": "array", "minItems": 1, "maxItems": runs.MaxBatch,
		// Each record is judged on its own and answered in its own result (a 422 in a
		// 200 when ?atomic=false or ?dry_run=true), so the body takes any items.
		"items": map[string]any{"description": "a model run, #/components/schemas/model-run"}}},
}

func (s *Server) batchRoutes() []route {
	return []route{{Method: "POST", Path: "/api/v1/model-runs:batch", Transfer: true, Role: auth.Writer, Tag: "model-runs", Body: batchBody, Status: http.StatusCreated,
		Query: []string{"atomic", "dry_run"}, Response: batchResults{}, SameBody: []int{http.StatusOK}, IdempotencyKey: true,
		Example: map[string]any{"records": []any{requestExamples["model-run"]}},
		Summary: "Register up to 1000 model runs in one transaction: all or nothing (default), each on its own (?atomic=false, 200 with a status per record), " +
			"or only checked (?dry_run=true, nothing written). Idempotency-Key covers every record.",
		Handler: s.registerBatch}}
}

// maxBatchBody bounds a batch: as many records as a batch holds, each of the usual size.
func (s *Server) maxBatchBody() int64 { return s.MaxBody * 32 }

func (s *Server) registerBatch(w http.ResponseWriter, r *http.Request) {
	body, key, ok := s.keyedBody(w, r, s.maxBatchBody())
	if !ok {
		return
	}
	mode, err := batchMode(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req struct {
		Records []json.RawMessage `json:"records"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Records == nil {
		writeError(w, r, provgraph.InvalidFields("the body must be {\"records\": [model run, ...]}", []provgraph.FieldError{{Path: "/records", Message: "an array of model runs is required"}}))
		return
	}
	raws := make([][]byte, len(req.Records))
	for i, rec := range req.Records {
		raws[i] = rec
	}
	results, err := s.ModelRuns.RegisterBatch(r.Context(), raws, actor(r), key, mode)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]batchResult, len(results))
	for i, res := range results {
		out[i] = batchResult{Index: i, outcome: outcomeOf(r, res, mode == runs.CheckOnly)}
	}
	code := http.StatusCreated
	if mode != runs.AllOrNothing {
		code = http.StatusOK
	}
	writeJSON(w, code, batchResults{Results: out})
}

func batchMode(r *http.Request) (runs.Mode, error) {
	flag := func(name string, def bool) (bool, error) {
		v := r.URL.Query().Get(name)
		if v == "" {
			return def, nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, &provgraph.Error{Code: provgraph.Invalid, Status: http.StatusBadRequest, Message: name + " must be true or false",
				Fields: []provgraph.FieldError{{Path: name, Message: "must be true or false"}}}
		}
		return b, nil
	}
	atomic, err := flag("atomic", true)
	if err != nil {
		return 0, err
	}
	dry, err := flag("dry_run", false)
	switch {
	case err != nil:
		return 0, err
	case dry:
		return runs.CheckOnly, nil
	case !atomic:
		return runs.EachOnItsOwn, nil
	}
	return runs.AllOrNothing, nil
}

// errorOf is the status and body detail of a per-item error; internal detail stays in the
// log, as in writeError.
func errorOf(r *http.Request, err error) (int, errorDetail) {
	var e *provgraph.Error
	if !errors.As(err, &e) {
		e = provgraph.Wrap(provgraph.Internal, err, "internal error")
	}
	code := status(e)
	if code >= 500 {
		logError(r, err)
		e = &provgraph.Error{Code: provgraph.Internal, Message: "internal error; quote the request id when reporting it"}
	}
	return code, errorDetail{Code: e.Code, Message: e.Message, Fields: e.Fields, RequestID: requestID(r.Context())}
}
