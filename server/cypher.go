package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"provgraph"
	"provgraph/auth"
	"provgraph/cypher"
	"provgraph/registry"
	"provgraph/schemas"
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
		Errors:  []int{http.StatusTooManyRequests},
		Example: map[string]any{"query": "MATCH (d:Dataset) WHERE d.name STARTS WITH $p RETURN d.id, d.name", "parameters": map[string]any{"p": "reef"}, "limit": 10},
		Summary: "Run a read-only Cypher query: Neo4j plans it first (EXPLAIN), and it runs only if the plan reads the graph and nothing else; " +
			"administration (SHOW, TERMINATE, …), LOAD CSV, other databases and procedures other than db.labels and its kin are refused with 403. " +
			"It runs in a read transaction with a time limit, a memory limit and a row limit, a few at a time per caller (429 beyond). " +
			"Nodes and relationships come back as plain objects; NaN and ±Infinity as the strings \"NaN\", \"Infinity\", \"-Infinity\".",
		Handler: s.runCypher}}
}

func (s *Server) runCypher(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if ptr, dup := schemas.DuplicateKey(body); dup {
		writeError(w, r, provgraph.InvalidFields("the body names a key twice", []provgraph.FieldError{{Path: ptr, Message: "given more than once"}}))
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
	params := numbers(req.Parameters).(map[string]any)
	if err := errors.Join(cypher.CheckText(req.Query), cypher.CheckParams(params)); err != nil {
		writeError(w, r, firstError(err))
		return
	}
	release, err := s.cypherSlots.acquire(principal(r.Context()).Subject)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer release()
	timeout := s.CypherTimeout
	if timeout <= 0 {
		timeout = DefaultCypherTimeout
	}
	rows, err := s.Cypher.ReadCypher(r.Context(), req.Query, params, timeout, req.Limit, viewer(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rows)
}

// firstError is the first of errors joined, so that one body names one offence.
func firstError(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()[0]
	}
	return err
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
		f, _ := x.Float64() // beyond float64's range this is ±Inf, which CheckParams refuses
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
