package server

import (
	"context"
	"net/http"
	"time"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, healthBody{Status: "ok", Version: s.Version})
}

// readyz answers 200 only when Neo4j answers and the constraints are online, so a load
// balancer sends no traffic to a server that would fail it.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.Health.Ping(ctx); err != nil {
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, readyBody{Status: "unavailable", Neo4j: "not reachable"})
		return
	}
	ok, err := s.Health.SchemaReady(ctx)
	if err != nil || !ok {
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, readyBody{Status: "unavailable", Neo4j: "constraints not in place"})
		return
	}
	writeJSON(w, http.StatusOK, readyBody{Status: "ready", Neo4j: "ok"})
}
