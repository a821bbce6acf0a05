package server

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

var pathVar = regexp.MustCompile(`\{([a-z_]+)(?::[^{}]*(?:\{[^{}]*\}[^{}]*)*)?\}`)

// openAPIPath turns a mux template into an OpenAPI path: {id:regexp} becomes {id}.
func openAPIPath(tmpl string) string {
	return pathVar.ReplaceAllString(tmpl, "{$1}")
}

// OpenAPI builds the OpenAPI 3.1 document from the route table, so it cannot drift from
// the router; its request schemas are the very JSON Schemas that gate input.
func (s *Server) OpenAPI() map[string]any {
	paths := map[string]map[string]any{}
	schemas := map[string]any{
		"Error": map[string]any{"type": "object", "required": []string{"error"}, "properties": map[string]any{
			"error": map[string]any{"type": "object", "required": []string{"code", "message", "request_id"}, "properties": map[string]any{
				"code":       map[string]any{"enum": []string{"invalid", "not_found", "conflict", "unauthorized", "forbidden", "too_large", "too_many_requests", "unavailable", "internal"}},
				"message":    map[string]any{"type": "string"},
				"request_id": map[string]any{"type": "string"},
				"fields": map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{
					"path": map[string]any{"type": "string", "description": "JSON pointer into the body, or the parameter name"}, "message": map[string]any{"type": "string"}}}},
			}}}},
		"Record": map[string]any{"type": "object", "properties": map[string]any{
			"id": map[string]any{"type": "string"}, "kind": map[string]any{"type": "string"}, "version": map[string]any{"type": "integer"},
			"name": map[string]any{"type": "string"}, "record": map[string]any{"type": "object", "description": "the validated document as sent"},
			"created_at": map[string]any{"type": "string", "format": "date-time"}, "created_by": map[string]any{"type": "string"},
			"updated_at": map[string]any{"type": "string", "format": "date-time"}, "updated_by": map[string]any{"type": "string"},
			"reason": map[string]any{"type": "string"}, "latest": map[string]any{"type": "boolean"},
			"deleted_at": map[string]any{"type": "string", "format": "date-time"}}},
	}
	for _, name := range s.Schemas.Names() {
		raw, _ := s.Schemas.Raw(name)
		var doc map[string]any
		if json.Unmarshal(raw, &doc) == nil {
			schemas[name] = doc
		}
	}
	errResp := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
	}
	for _, rt := range s.routes {
		if rt.foreign {
			continue // a foreign API is described by its own specification
		}
		p := openAPIPath(rt.Path)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		var params []map[string]any
		for _, m := range pathVar.FindAllStringSubmatch(rt.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.Query {
			params = append(params, map[string]any{"name": q, "in": "query", "required": q == "reason" && rt.Method == "PUT", "schema": map[string]any{"type": "string"}})
		}
		hasBody := rt.Request != "" || rt.Body != nil
		if rt.Method == "POST" && hasBody {
			params = append(params, map[string]any{"name": "Idempotency-Key", "in": "header", "required": false, "schema": map[string]any{"type": "string", "maxLength": 255}})
		}
		ok := rt.Status
		if ok == 0 {
			ok = http.StatusOK
		}
		responses := map[string]any{statusKey(ok): map[string]any{"description": http.StatusText(ok)}}
		switch {
		case len(rt.Produces) > 0:
			content := map[string]any{}
			for _, mt := range rt.Produces {
				content[mt] = map[string]any{"schema": map[string]any{"type": "string"}}
			}
			responses[statusKey(ok)] = map[string]any{"description": http.StatusText(ok), "content": content}
		case rt.Tag != "runs" && strings.HasPrefix(rt.Path, "/api/v1/") && rt.Request == "" && rt.Method == "GET" && strings.Contains(rt.Path, "{id") && !strings.HasSuffix(rt.Path, "/history"):
			responses[statusKey(ok)] = map[string]any{"description": "the record", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Record"}}}}
		}
		if !rt.Public {
			responses["401"] = errResp("no or bad bearer token")
			responses["403"] = errResp("the token lacks the role")
			responses["503"] = errResp("Neo4j is unavailable; retry after Retry-After seconds")
		}
		if hasBody {
			responses["413"] = errResp("body too large")
			responses["422"] = errResp("every violation, each with its JSON pointer")
		}
		if strings.Contains(rt.Path, "{") {
			responses["404"] = errResp("no such record")
		}
		if rt.Method == "DELETE" || rt.Method == "PUT" || (rt.Method == "POST" && hasBody) {
			responses["409"] = errResp("conflict: dependents, a concurrent change or a reused Idempotency-Key")
		}
		op := map[string]any{
			"summary":     rt.Summary,
			"operationId": operationID(rt),
			"tags":        []string{rt.Tag},
			"responses":   responses,
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.Public {
			op["security"] = []any{}
		} else {
			op["description"] = "Needs the " + string(rt.Role) + " role."
		}
		if rt.Request != "" {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{
				"schema": map[string]any{"$ref": "#/components/schemas/" + rt.Request}}}}
		} else if rt.Body != nil {
			mt := rt.BodyType
			if mt == "" {
				mt = "application/json"
			}
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{mt: map[string]any{"schema": rt.Body}}}
		}
		paths[p][strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "provgraph", "version": s.Version,
			"description": "A provenance-first registry on Neo4j: records, model runs and their lineage as W3C PROV."},
		"servers":    []any{map[string]any{"url": "/"}},
		"security":   []any{map[string]any{"bearer": []any{}}},
		"paths":      paths,
		"components": map[string]any{"schemas": schemas, "securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}}},
	}
}

func statusKey(code int) string {
	return strconv.Itoa(code)
}

func operationID(rt route) string {
	id := strings.ToLower(rt.Method) + openAPIPath(rt.Path)
	r := strings.NewReplacer("/", "_", "{", "", "}", "", "-", "_", ".", "_")
	return strings.Trim(r.Replace(id), "_")
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.OpenAPI())
}
