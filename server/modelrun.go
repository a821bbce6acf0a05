package server

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"provgraph/auth"
	"provgraph/registry"
	"provgraph/runs"
)

// ModelRuns registers complete model runs.
type ModelRuns interface {
	Register(ctx context.Context, raw []byte, actor registry.Actor, idemKey string) (registry.Record, error)
	Update(ctx context.Context, id string, raw []byte, actor registry.Actor, reason string) (registry.Record, error)
	RegisterBatch(ctx context.Context, raws [][]byte, actor registry.Actor, idemKey string, mode runs.Mode) ([]runs.Result, error)
}

func (s *Server) modelRunRoutes() []route {
	return []route{
		{Method: "POST", Path: "/api/v1/model-runs", Role: auth.Writer, Tag: "model-runs", Request: "model-run", Status: http.StatusCreated,
			Response: registry.Record{}, Example: requestExamples["model-run"], Links: "model-runs", IdempotencyKey: true,
			Summary: "Register a complete model run: every check and the write in one transaction. Send Idempotency-Key to make retries safe.",
			Handler: s.registerModelRun},
		{Method: "PUT", Path: "/api/v1/model-runs/" + idPattern, Role: auth.Writer, Tag: "model-runs", Request: "model-run", Status: http.StatusOK, Query: []string{"reason"},
			Response: registry.Record{}, Example: requestExamples["model-run"],
			Summary: "Make a new version of a model run (reason required); it WAS_REVISION_OF the previous one.", Handler: s.updateModelRun},
	}
}

func (s *Server) registerModelRun(w http.ResponseWriter, r *http.Request) {
	s.create("model-runs", func(r *http.Request, body []byte, key string) (registry.Record, error) {
		return s.ModelRuns.Register(r.Context(), body, actor(r), key)
	})(w, r)
}

func (s *Server) updateModelRun(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rec, err := s.ModelRuns.Update(r.Context(), mux.Vars(r)["id"], body, actor(r), r.URL.Query().Get("reason"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	rec.Links = recordLinks("model-runs", rec.ID)
	rec.ProvJSON = nil // as for a create
	writeJSON(w, http.StatusOK, rec)
}
