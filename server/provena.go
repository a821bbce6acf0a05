package server

import (
	"errors"
	"net/http"

	"provgraph"
	"provgraph/auth"
	"provgraph/runs"
)

// Provena's clients call one route; it answers in Provena's shapes, so that a Provena
// client can point at provgraph unchanged.
func (s *Server) provenaRoutes() []route {
	return []route{{Method: "POST", Path: "/model_run/register_complete", Role: auth.Writer, Tag: "provena", Request: "model-run", Status: http.StatusOK,
		Response: runs.ProvenaResponse{}, Example: requestExamples["model-run"], IdempotencyKey: true,
		Summary: "Provena compatibility: register a complete model run sent in Provena's RRAP or current shape; answers 200 {status, record_info} " +
			"(the record with dataset_type), FastAPI's 422 {detail: [{loc, msg, type}]} for an ill-formed record, 400 {detail} for ids, templates, " +
			"resources or annotations that fail validation.",
		Handler: s.provenaRegister}}
}

func (s *Server) provenaRegister(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r)
	if err != nil {
		provenaError(w, r, err, nil)
		return
	}
	key, err := idempotencyKey(r)
	if err != nil {
		provenaError(w, r, err, nil)
		return
	}
	flat, loc, errs := runs.FromProvena(body)
	if len(errs) > 0 {
		writeJSON(w, http.StatusUnprocessableEntity, runs.ProvenaDetails(errs, loc))
		return
	}
	rec, err := s.ModelRuns.Register(r.Context(), flat, actor(r), key)
	if err != nil {
		if code, body, ok := runs.ProvenaRefusal(err, flat, loc); ok {
			writeJSON(w, code, body)
			return
		}
		provenaError(w, r, err, loc)
		return
	}
	writeJSON(w, http.StatusOK, runs.ProvenaResponse{
		Status:     runs.ProvenaStatus{Success: true, Details: "registered model run " + rec.ID + "; PROV at /api/v1/prov/" + rec.ID},
		RecordInfo: &runs.ProvenaRecordInfo{ID: rec.ID, ProvJSON: string(rec.ProvJSON), Record: runs.ProvenaRecord(rec.Record)},
	})
}

// provenaError answers as Provena's FastAPI service does: 422 {detail: [{loc, msg, type}]}
// for invalid fields, {detail: message} for every other failure.
func provenaError(w http.ResponseWriter, r *http.Request, err error, loc func(string) []any) {
	var e *provgraph.Error
	if errors.As(err, &e) && e.Code == provgraph.Invalid && len(e.Fields) > 0 && status(e) == http.StatusUnprocessableEntity {
		writeJSON(w, http.StatusUnprocessableEntity, runs.ProvenaDetails(e.Fields, loc))
		return
	}
	code, detail := errorOf(r, err)
	switch code {
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "5")
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="provgraph"`)
	}
	writeJSON(w, code, provenaErrorBody{Detail: detail.Message, RequestID: detail.RequestID})
}
