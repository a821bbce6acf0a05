package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"provgraph"
	"provgraph/cypher"
	"provgraph/lineage"
	"provgraph/prov"
	"provgraph/registry"
	"provgraph/runs"
)

var pathVar = regexp.MustCompile(`\{([a-z_]+)(?::[^{}]*(?:\{[^{}]*\}[^{}]*)*)?\}`)

// openAPIPath turns a mux template into an OpenAPI path: {id:regexp} becomes {id}.
func openAPIPath(tmpl string) string {
	return pathVar.ReplaceAllString(tmpl, "{$1}")
}

// pathParams are the path variables of a mux template with the pattern each must match.
func pathParams(tmpl string) []map[string]any {
	var out []map[string]any
	for _, m := range pathVar.FindAllStringSubmatch(tmpl, -1) {
		schema := map[string]any{"type": "string", "minLength": 1}
		full := m[0]
		if _, re, ok := strings.Cut(full[1:len(full)-1], ":"); ok && re != ".+" {
			schema["pattern"] = "^" + re + "$"
		}
		p := map[string]any{"name": m[1], "in": "path", "required": true, "schema": schema}
		switch m[1] {
		case "id":
			p["description"] = "a record id as the server minted it, <prefix>/<ULID>; its slashes may be sent as they are"
			p["example"] = "local/01JD3S6Z8Y6QF1Y7W0K9ZQ8V4C"
		case "name":
			if strings.Contains(tmpl, "/artifacts/") {
				p["description"] = "the artifact's name, a relative path"
				p["example"] = "out/result.csv"
			}
		case "n":
			p["description"] = "a version number, from 1"
			p["example"] = "1"
		case "kind":
			p["example"] = "model-run"
		}
		out = append(out, p)
	}
	return out
}

// Types named as components of the document: every success body the API writes is one
// of these Go types, so its schema is read from the type itself and cannot drift from it.
var componentNames = map[reflect.Type]string{
	reflect.TypeFor[registry.Record]():             "Record",
	reflect.TypeFor[registry.Page]():               "RecordPage",
	reflect.TypeFor[registry.Access]():             "Access",
	reflect.TypeFor[historyBody]():                 "RecordHistory",
	reflect.TypeFor[runs.Run]():                    "TrackedRun",
	reflect.TypeFor[runs.RunPage]():                "RunPage",
	reflect.TypeFor[runs.Event]():                  "RunEvent",
	reflect.TypeFor[runs.Attempt]():                "RunAttempt",
	reflect.TypeFor[runs.RunInput]():               "RunOutput",
	reflect.TypeFor[eventsBody]():                  "RunEvents",
	reflect.TypeFor[runs.Artifact]():               "Artifact",
	reflect.TypeFor[artifactsBody]():               "Artifacts",
	reflect.TypeFor[runs.Metric]():                 "Metric",
	reflect.TypeFor[runs.MetricResult]():           "MetricResult",
	reflect.TypeFor[metricList]():                  "Metrics",
	reflect.TypeFor[metricReport]():                "MetricResults",
	reflect.TypeFor[lineage.Result]():              "Lineage",
	reflect.TypeFor[lineage.Node]():                "LineageNode",
	reflect.TypeFor[lineage.Edge]():                "LineageEdge",
	reflect.TypeFor[cypher.Rows]():                 "CypherRows",
	reflect.TypeFor[batchResults]():                "BatchResults",
	reflect.TypeFor[csvResults]():                  "CSVResults",
	reflect.TypeFor[runs.ProvenaResponse]():        "ProvenaResponse",
	reflect.TypeFor[runs.ProvenaValidationError](): "ProvenaValidationError",
	reflect.TypeFor[provenaErrorBody]():            "ProvenaError",
	reflect.TypeFor[errorBody]():                   "Error",
	reflect.TypeFor[healthBody]():                  "Health",
	reflect.TypeFor[readyBody]():                   "Readiness",
	reflect.TypeFor[schemaNames]():                 "SchemaNames",
}

// enums are the string types whose values are a closed set.
var enums = map[reflect.Type][]string{
	reflect.TypeFor[runs.State](): names(runs.States()),
	// A run's events also record its creation and its archiving.
	reflect.TypeFor[runs.Op]():        append([]string{"create", "archive", "unarchive"}, names(runs.Ops())...),
	reflect.TypeFor[provgraph.Code](): {"invalid", "not_found", "conflict", "unauthorized", "forbidden", "too_large", "too_many_requests", "unavailable", "internal"},
}

func names[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// descriptions say what a field of a success body holds where its name does not.
var descriptions = map[string]string{
	"Record.record":               "the validated document as it was sent",
	"Record.prov_json":            "the PROV-JSON the model run was registered with (single model runs only)",
	"Record.links":                "where the record, its history, its PROV document and its IRI are",
	"Run.spec":                    "the run as it was created (view=full)",
	"CypherRows.rows":             "one object per row, by column; nodes and relationships are plain objects",
	"LineageNode.depth":           "hops from the record asked about",
	"ProvenaRecordInfo.prov_json": "the PROV-JSON document, serialised as a string",
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// schemaGen derives JSON Schemas from Go types, collecting the named ones as components.
type schemaGen struct {
	components map[string]any
}

// of is the schema of a value of type t as encoding/json writes it.
func (g *schemaGen) of(t reflect.Type) map[string]any {
	switch t {
	case timeType, reflect.TypeFor[runs.Time]():
		return map[string]any{"type": "string", "format": "date-time"}
	case rawType:
		return map[string]any{"type": "object"}
	}
	if name, ok := componentNames[t]; ok {
		if _, done := g.components[name]; !done {
			g.components[name] = map[string]any{} // a placeholder stops recursion
			g.components[name] = g.inline(t, name)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return g.inline(t, "")
}

func (g *schemaGen) inline(t reflect.Type, name string) map[string]any {
	if vs, ok := enums[t]; ok {
		return map[string]any{"type": "string", "enum": vs}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.of(t.Elem())
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.of(t.Elem())}
	case reflect.Map:
		s := map[string]any{"type": "object"}
		if t.Elem().Kind() != reflect.Interface {
			s["additionalProperties"] = g.of(t.Elem())
		}
		return s
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		g.fields(t, name, props, &required)
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			slices.Sort(required)
			s["required"] = required
		}
		return s
	}
	panic(fmt.Sprintf("openapi: no schema for %s", t))
}

// fields adds the JSON fields of struct t (embedded structs flattened, as encoding/json
// does) to props; a field without omitempty is always written, so it is required, and
// a nil slice, map or pointer in it is written as null.
func (g *schemaGen) fields(t reflect.Type, name string, props map[string]any, required *[]string) {
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if !f.IsExported() && !f.Anonymous || tag == "-" {
			continue
		}
		key, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && key == "" && f.Type.Kind() == reflect.Struct {
			g.fields(f.Type, name, props, required)
			continue
		}
		if key == "" {
			key = f.Name
		}
		s := g.of(f.Type)
		omit := strings.Contains(opts, "omitempty")
		if !omit {
			*required = append(*required, key)
			if k := f.Type.Kind(); (k == reflect.Slice || k == reflect.Map || k == reflect.Pointer) && f.Type != rawType {
				s = nullable(s)
			}
		}
		if d, ok := descriptions[name+"."+key]; ok {
			s = withDescription(s, d)
		}
		props[key] = s
	}
}

func nullable(s map[string]any) map[string]any {
	if t, ok := s["type"].(string); ok {
		c := copyMap(s)
		c["type"] = []string{t, "null"}
		return c
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

func withDescription(s map[string]any, d string) map[string]any {
	if _, ref := s["$ref"]; ref {
		return map[string]any{"allOf": []any{s}, "description": d}
	}
	c := copyMap(s)
	c["description"] = d
	return c
}

func copyMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Bodies the handlers write, named so that the document describes exactly what is sent.
type (
	historyBody struct {
		Versions []registry.Record `json:"versions"`
	}
	eventsBody struct {
		Events []runs.Event `json:"events"`
	}
	artifactsBody struct {
		Artifacts []runs.Artifact `json:"artifacts"`
	}
	metricList struct {
		Metrics []runs.Metric `json:"metrics"`
	}
	metricReport struct {
		Results []runs.MetricResult `json:"results"`
	}
	batchResults struct {
		Results []batchResult `json:"results"`
	}
	csvResults struct {
		Results []csvResult `json:"results"`
	}
	provenaErrorBody struct {
		Detail    string `json:"detail"`
		RequestID string `json:"request_id"`
	}
	healthBody struct {
		Status  string `json:"status"`
		Version string `json:"version"`
	}
	readyBody struct {
		Status string `json:"status"`
		Neo4j  string `json:"neo4j"`
	}
	schemaNames struct {
		Schemas []string `json:"schemas"`
	}
)

// queryParam is the schema and description of a query parameter of rt.
func (s *Server) queryParam(rt route, name string) map[string]any {
	str := map[string]any{"type": "string"}
	// What strconv.ParseBool reads; a pattern, not an enum, whose values generated
	// clients would have to name apart ("t" and "T").
	boolean := map[string]any{"type": "string", "pattern": "^(true|false|1|0|t|f|T|F|TRUE|FALSE|True|False)$", "example": "true"}
	schema, desc := str, ""
	sortOf := func(fields []string) map[string]any {
		var vs []string
		for _, f := range fields {
			vs = append(vs, f, f+" asc", f+" desc")
		}
		return map[string]any{"type": "string", "enum": vs}
	}
	switch name {
	case "page_size":
		schema, desc = map[string]any{"type": "integer", "minimum": 1, "maximum": registry.MaxPageSize}, "records per page"
	case "page_token":
		desc = "the next_page_token of the previous page, with the same filters, sort and page size"
	case "sort":
		if rt.Tag == "runs" {
			schema = sortOf(runs.RunSortFields)
		} else {
			schema = sortOf(registry.SortFields)
		}
		desc = "a field, then asc (default) or desc"
	case "name":
		desc = "a substring of the name"
	case "version":
		schema, desc = map[string]any{"type": "integer", "minimum": 1}, "a version number; the latest when absent"
	case "reason":
		schema, desc = map[string]any{"type": "string", "maxLength": 1024}, "why the change is made; kept in the history"
	case "format":
		switch {
		case rt.Tag == "lineage":
			schema, desc = map[string]any{"type": "string", "enum": []string{"json", "dot", "svg", "tree", ""}}, "the answer's format: JSON (default, also when empty), Graphviz DOT, SVG or a text tree"
		default:
			vs := prov.Formats()
			schema, desc = map[string]any{"type": "string", "enum": vs}, "the PROV serialisation; the Accept header when absent"
		}
	case "depth":
		if rt.Tag == "prov" {
			schema, desc = map[string]any{"type": "integer", "minimum": 0}, "how many hops of upstream closure to add (0: the record alone); 422 beyond the server's bound (20)"
		} else {
			schema, desc = map[string]any{"type": "integer", "minimum": 1, "maximum": s.maxLineageDepth()}, "hops to walk (default 3)"
		}
	case "limit":
		schema, desc = map[string]any{"type": "integer", "minimum": 1, "maximum": lineage.MaxLimit}, "the most nodes answered; truncated says whether it cut"
	case "direction":
		schema = map[string]any{"type": "string", "enum": []string{"upstream", "downstream", "both"}}
	case "kinds":
		desc = "comma-separated kind labels to answer (Dataset, Person, …)"
		schema = map[string]any{"type": "string", "pattern": `^\s*[A-Z][A-Za-z]*(\s*,\s*[A-Z][A-Za-z]*)*\s*$`}
	case "include_agents", "versions", "dry_run", "atomic":
		schema = boolean
	case "purge":
		schema, desc = boolean, "erase the run instead of invalidating it (admins only)"
	case "archived":
		schema, desc = map[string]any{"type": "string", "enum": []string{"false", "true", "any"}}, "archived runs: false (default), true or any"
	case "state":
		schema, desc = map[string]any{"type": "string", "enum": names(runs.States())}, "runs in this state; repeat or comma-separate for several"
	case "tag":
		schema, desc = map[string]any{"type": "string", "pattern": "^[^:]+:"}, "key:value; repeatable"
	case "view":
		schema = map[string]any{"type": "string", "enum": []string{runs.ViewMinimal, runs.ViewBasic, runs.ViewFull}}
	case "created_after", "created_before":
		schema = map[string]any{"type": "string", "format": "date-time"}
	case "workflow_template_id":
		if rt.Method == "POST" {
			desc = "the workflow template whose CSV header the body has"
		}
	case "next":
		desc = "where to go after signing in (a path of this site)"
	case "id":
		desc = "a record id"
	}
	if rt.Tag == "ui" && rt.Method == "GET" && strings.HasPrefix(rt.Path, "/ui/lineage/") {
		// The page's script reads these and falls back to its defaults; the server
		// does not look at them.
		schema, desc = map[string]any{"type": "string"}, "the page's initial "+name+" control; a value the page cannot use leaves its default"
	}
	p := map[string]any{"name": name, "in": "query", "schema": schema}
	if desc != "" {
		p["description"] = desc
	}
	if name == "reason" && rt.Method == "PUT" || name == "workflow_template_id" && rt.Method == "POST" || rt.Path == "/api/v1/lineage/path" && (name == "from" || name == "to") {
		p["required"] = true
	}
	return p
}

// OpenAPI builds the OpenAPI 3.1 document from the route table, so it cannot drift from
// the router; its request schemas are the very JSON Schemas that gate input, and its
// success bodies are read from the Go types the handlers write.
func (s *Server) OpenAPI() map[string]any {
	g := &schemaGen{components: map[string]any{}}
	g.of(reflect.TypeFor[errorBody]())
	for _, name := range s.Schemas.Names() {
		raw, _ := s.Schemas.Raw(name)
		var doc map[string]any
		if json.Unmarshal(raw, &doc) == nil {
			delete(doc, "$id") // its base URI would move the document's own references
			delete(doc, "$schema")
			g.components[name] = doc
		}
	}
	ops := map[string]route{} // by operationId, for links
	for _, rt := range s.routes {
		ops[operationID(rt)] = rt
	}
	paths := map[string]map[string]any{}
	for _, rt := range s.routes {
		if rt.foreign {
			continue // a foreign API is described by its own specification
		}
		p := openAPIPath(rt.Path)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		params := pathParams(rt.Path)
		for _, q := range rt.Query {
			params = append(params, s.queryParam(rt, q))
		}
		hasBody := rt.Request != "" || rt.Body != nil
		if rt.IdempotencyKey {
			params = append(params, map[string]any{"name": "Idempotency-Key", "in": "header", "required": false,
				"description": "makes a retried POST return the first result instead of a duplicate",
				"schema":      map[string]any{"type": "string", "maxLength": 255, "pattern": "^[^\\x00\\r\\n]*$"}})
		}
		op := map[string]any{
			"summary":     rt.Summary,
			"operationId": operationID(rt),
			"tags":        []string{rt.Tag},
			"responses":   s.responses(g, rt, ops),
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.Public {
			op["security"] = []any{}
		} else {
			op["description"] = "Needs the " + string(rt.Role) + " role."
		}
		if hasBody {
			mt := rt.BodyType
			if mt == "" {
				mt = "application/json"
			}
			schema := rt.Body
			if rt.Request != "" {
				schema = map[string]any{"$ref": "#/components/schemas/" + rt.Request}
			}
			media := map[string]any{"schema": schema}
			if rt.Example != nil {
				media["example"] = rt.Example
			}
			op["requestBody"] = map[string]any{"required": !rt.OptionalBody, "content": map[string]any{mt: media}}
		}
		paths[p][strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "provgraph", "version": s.Version,
			"description": "A provenance-first registry on Neo4j: records, model runs and their lineage as W3C PROV. " +
				"Every error of the native API is one body, Error; the Provena compatibility route answers in Provena's shapes and the web pages with pages."},
		"servers":    []any{map[string]any{"url": "/"}},
		"security":   []any{map[string]any{"bearer": []any{}}},
		"paths":      paths,
		"components": map[string]any{"schemas": g.components, "securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}}},
	}
}

// responses are every status rt can answer, each with its body.
func (s *Server) responses(g *schemaGen, rt route, ops map[string]route) map[string]any {
	out := map[string]any{}
	okCode := rt.Status
	if okCode == 0 {
		okCode = http.StatusOK
	}
	success := map[string]any{"description": http.StatusText(okCode)}
	content := map[string]any{}
	if rt.Response != nil {
		media := map[string]any{"schema": g.of(reflect.TypeOf(rt.Response))}
		if rt.ResponseExample != nil {
			media["example"] = rt.ResponseExample
		}
		content["application/json"] = media
	}
	for _, mt := range rt.Produces {
		if _, ok := content[mt]; ok {
			continue
		}
		if strings.HasSuffix(mt, "json") { // PROV-JSON, JSON-LD, a JSON Schema
			content[mt] = map[string]any{"schema": map[string]any{"type": "object"}}
		} else {
			content[mt] = map[string]any{"schema": map[string]any{"type": "string"}}
		}
	}
	if len(content) > 0 {
		success["content"] = content
	}
	if okCode == http.StatusSeeOther {
		success["headers"] = map[string]any{"Location": map[string]any{"description": "where to go", "schema": map[string]any{"type": "string"}}}
		delete(success, "content")
		if rt.Method == "GET" { // a link to follow, for a browser that does not
			success["content"] = map[string]any{"text/html": map[string]any{"schema": map[string]any{"type": "string"}}}
		}
	}
	if okCode == http.StatusCreated && rt.Response != nil {
		success["headers"] = map[string]any{"Location": map[string]any{"description": "the created resource", "schema": map[string]any{"type": "string"}}}
	}
	if links := s.links(rt, ops); len(links) > 0 {
		success["links"] = links
	}
	out[statusKey(okCode)] = success
	for _, code := range rt.SameBody {
		c := copyMap(success)
		c["description"] = http.StatusText(code)
		delete(c, "headers")
		delete(c, "links")
		if content, ok := c["content"].(map[string]any); ok {
			plain := map[string]any{}
			for mt, m := range content {
				plain[mt] = map[string]any{"schema": m.(map[string]any)["schema"]}
			}
			c["content"] = plain
		}
		out[statusKey(code)] = c
	}
	hasBody := rt.Request != "" || rt.Body != nil
	errs := slices.Clone(rt.Errors)
	if !rt.Public {
		errs = append(errs, http.StatusUnauthorized, http.StatusForbidden, http.StatusServiceUnavailable)
	}
	if hasBody {
		errs = append(errs, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusRequestTimeout)
		if rt.BodyType == "" || rt.BodyType == "application/json" {
			errs = append(errs, http.StatusUnsupportedMediaType)
		}
	}
	if len(rt.Query) > 0 {
		// A malformed parameter is 400; one out of the range the data allows is 422.
		errs = append(errs, http.StatusBadRequest, http.StatusUnprocessableEntity)
	}
	if rt.IdempotencyKey {
		// A bad key; a key first used for a record deleted since (its retry has no
		// first result to return).
		errs = append(errs, http.StatusBadRequest, http.StatusNotFound)
	}
	if strings.Contains(rt.Path, "{") {
		errs = append(errs, http.StatusNotFound)
	}
	if rt.Tag != "ui" && (rt.Method == "DELETE" || rt.Method == "PUT" || (rt.Method == "POST" && hasBody)) {
		errs = append(errs, http.StatusConflict)
	}
	for _, code := range errs {
		if _, ok := out[statusKey(code)]; ok {
			continue
		}
		out[statusKey(code)] = s.errorResponse(g, rt, code)
	}
	return out
}

var errorMeaning = map[int]string{
	http.StatusBadRequest:            "a query parameter or header is not valid; fields name it",
	http.StatusUnauthorized:          "no or bad bearer token",
	http.StatusForbidden:             "the token lacks the role, or the caller may not do this to this record",
	http.StatusNotFound:              "no such record (or one the caller may not read)",
	http.StatusNotAcceptable:         "no acceptable media type",
	http.StatusConflict:              "conflict: the record's state, dependents, a concurrent change or a reused Idempotency-Key",
	http.StatusRequestTimeout:        "the body did not arrive within the request's deadline",
	http.StatusRequestEntityTooLarge: "body too large",
	http.StatusTooManyRequests:       "over a concurrency limit; retry after Retry-After seconds",
	http.StatusUnsupportedMediaType:  "the body is not JSON (Content-Type)",
	http.StatusUnprocessableEntity:   "the body is not valid: every violation, each with its JSON pointer",
	http.StatusServiceUnavailable:    "Neo4j is unavailable or a transient database error; retry after Retry-After seconds",
}

// errorResponse is the error body of rt at code: the native Error, Provena's shapes on
// its route, or a page (and Error) on the web pages.
func (s *Server) errorResponse(g *schemaGen, rt route, code int) map[string]any {
	desc := errorMeaning[code]
	if code == http.StatusNotFound && rt.IdempotencyKey && !strings.Contains(rt.Path, "{") {
		desc = "the Idempotency-Key was first used for a record that has been deleted since"
	}
	if desc == "" {
		desc = http.StatusText(code)
	}
	schema := g.of(reflect.TypeFor[errorBody]())
	content := map[string]any{"application/json": map[string]any{"schema": schema}}
	switch rt.Tag {
	case "provena":
		if code == http.StatusUnprocessableEntity {
			content = map[string]any{"application/json": map[string]any{"schema": g.of(reflect.TypeFor[runs.ProvenaValidationError]())}}
		} else {
			content = map[string]any{"application/json": map[string]any{"schema": g.of(reflect.TypeFor[provenaErrorBody]())}}
		}
	case "ui":
		content["text/html"] = map[string]any{"schema": map[string]any{"type": "string", "description": "the sign-in page, saying what went wrong"}}
	}
	r := map[string]any{"description": desc, "content": content}
	if code == http.StatusServiceUnavailable {
		r["headers"] = map[string]any{"Retry-After": map[string]any{"description": "seconds", "schema": map[string]any{"type": "string"}}}
	}
	return r
}

// links point from an answer naming a record or run by its id to every operation on it,
// for clients and for stateful testing: create → get, update, delete, history, PROV,
// lineage; run create → claim, complete, cancel and the rest of the lifecycle.
func (s *Server) links(rt route, ops map[string]route) map[string]any {
	if rt.Links == "" {
		return nil
	}
	// Its own routes, its PROV and its lineage; a record also its access list and IRI.
	prefixes := []string{"/api/v1/" + rt.Links + "/{id}", "/api/v1/prov/{id}", "/api/v1/lineage/{id}"}
	if rt.Links != "runs" {
		prefixes = append(prefixes, "/api/v1/access/{id}", "/id/{id}")
	}
	self := operationID(rt)
	out := map[string]any{}
	for id, target := range ops {
		p := openAPIPath(target.Path)
		if id == self || target.Tag == "ui" || len(pathVar.FindAllString(target.Path, -1)) != 1 {
			continue
		}
		if !slices.ContainsFunc(prefixes, func(pre string) bool {
			return p == pre || strings.HasPrefix(p, pre+"/") || strings.HasPrefix(p, pre+":")
		}) {
			continue
		}
		out[id] = map[string]any{"operationId": id, "parameters": map[string]any{"id": "$response.body#/id"}}
	}
	return out
}

func statusKey(code int) string {
	return strconv.Itoa(code)
}

func operationID(rt route) string {
	id := strings.ToLower(rt.Method) + openAPIPath(rt.Path)
	r := strings.NewReplacer("/", "_", "{", "", "}", "", "-", "_", ".", "_", ":", "_")
	return strings.Trim(r.Replace(id), "_")
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.OpenAPI())
}
