package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"provgraph"
	"provgraph/auth"
	"provgraph/cypher"
	"provgraph/registry"
)

// Cypher runs users' read-only queries.
type Cypher interface {
	// ReadCypher refuses a caller who may not read every record: a query reads them all.
	ReadCypher(ctx context.Context, query string, params map[string]any, timeout time.Duration, maxRows int, v registry.Viewer) (cypher.Rows, error)
}

// Bounds of user Cypher.
const (
	DefaultCypherTimeout = 5 * time.Second
	DefaultCypherRows    = 1000
	MaxCypherRows        = 10000
)

var cypherBody = map[string]any{
	"type": "object", "required": []string{"query"}, "additionalProperties": false,
	"properties": map[string]any{
		"query":      map[string]any{"type": "string", "maxLength": cypher.MaxQuery},
		"parameters": map[string]any{"type": "object"},
		"limit":      map[string]any{"type": []string{"integer", "null"}, "minimum": 0, "maximum": MaxCypherRows, "description": "the most rows answered; 0, null or absent: 1000"},
	},
}

func (s *Server) cypherRoutes() []route {
	return []route{{Method: "POST", Path: "/api/v1/cypher", Role: auth.Reader, Tag: "lineage", Body: cypherBody, Status: http.StatusOK, Response: cypher.Rows{},
		Example: map[string]any{"query": "MATCH (d:Dataset) WHERE d.name STARTS WITH $p RETURN d.id, d.name", "parameters": map[string]any{"p": "reef"}, "limit": 10},
		Summary: "Run a read-only Cypher query: a read transaction with a time limit and a row limit; nodes and relationships come back as plain objects. " +
			"LOAD CSV, USE, SHOW and procedures other than db.labels and its kin are refused.",
		Handler: s.runCypher}}
}

func (s *Server) runCypher(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req struct {
		Query      string         `json:"query"`
		Parameters map[string]any `json:"parameters"`
		Limit      int            `json:"limit"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		writeError(w, r, provgraph.InvalidFields(`the body must be {"query": "…", "parameters": {…}, "limit": n}`, []provgraph.FieldError{{Path: "", Message: err.Error()}}))
		return
	}
	if req.Limit == 0 {
		req.Limit = DefaultCypherRows
	}
	if req.Limit < 1 || req.Limit > MaxCypherRows {
		writeError(w, r, provgraph.InvalidFields("limit out of range", []provgraph.FieldError{{Path: "/limit", Message: "must be 1 to 10000"}}))
		return
	}
	if err := cypher.Check(req.Query); err != nil {
		writeError(w, r, err)
		return
	}
	timeout := s.CypherTimeout
	if timeout <= 0 {
		timeout = DefaultCypherTimeout
	}
	rows, err := s.Cypher.ReadCypher(r.Context(), req.Query, numbers(req.Parameters).(map[string]any), timeout, req.Limit, viewer(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rows)
}

// numbers turns JSON numbers into int64 where they are whole, float64 otherwise, so that
// parameters compare with stored integers.
func numbers(v any) any {
	switch x := v.(type) {
	case nil:
		return map[string]any{}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
		return x
	}
	return v
}
