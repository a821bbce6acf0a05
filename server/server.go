// Package server is provgraph's HTTP adapter: routing, authentication, error mapping and
// encoding. Handlers decode, call one service method and encode; nothing else.
package server

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"provgraph/auth"
	"provgraph/registry"
)

// Registry is the entity service the handlers call.
type Registry interface {
	Create(ctx context.Context, k registry.Kind, raw []byte, actor registry.Actor, idemKey string) (registry.Record, error)
	Update(ctx context.Context, k registry.Kind, id string, raw []byte, actor registry.Actor, reason string) (registry.Record, error)
	Get(ctx context.Context, k registry.Kind, id string, version int, v registry.Viewer) (registry.Record, error)
	History(ctx context.Context, k registry.Kind, id string, v registry.Viewer) ([]registry.Record, error)
	List(ctx context.Context, q registry.ListQuery) (registry.Page, error)
	Delete(ctx context.Context, k registry.Kind, id string, actor registry.Actor, reason string) error
}

// Schemas serves the JSON Schemas that gate input.
type Schemas interface {
	Names() []string
	Raw(name string) ([]byte, bool)
}

// Health reports on the database.
type Health interface {
	Ping(ctx context.Context) error
	SchemaReady(ctx context.Context) (bool, error)
}

// Server holds the HTTP API's dependencies; cmd/provgraph sets every field.
type Server struct {
	Registry      Registry
	ModelRuns     ModelRuns
	CSVRuns       CSVRuns
	Runs          Runs
	Lineage       Lineage
	MaxDepth      int // of lineage queries
	Cypher        Cypher
	Access        Access
	CypherTimeout time.Duration
	Artifacts     Artifacts
	Provenance    Provenance
	Exporter      Exporter
	BaseIRI       string
	Schemas       Schemas
	Health        Health
	Auth          auth.Authenticator
	Logger        zerolog.Logger
	Metrics       *prometheus.Registry
	MaxBody       int64
	Version       string

	metrics metrics
	routes  []route
}

// route is one entry of the API: the router and the OpenAPI document are both built from
// this table.
type route struct {
	Method  string
	Path    string // mux template
	Role    auth.Role
	Public  bool
	Summary string
	Tag     string
	Handler http.HandlerFunc
	// Request names a JSON Schema for the body, or Body is one inline (OpenAPI only);
	// Query lists query parameters.
	Request  string
	Body     map[string]any
	BodyType string // media type of Body; JSON when empty
	// Produces lists the media types of a success that is not JSON (PROV, CSV, files).
	Produces []string
	Query    []string
	Status   int // success status
	// OptionalBody says the body may be left out (a lifecycle operation needs none).
	OptionalBody bool
	// IdempotencyKey says the route honours the Idempotency-Key header.
	IdempotencyKey bool

	// What the document says of the answers (OpenAPI only). Response is a value of the
	// Go type the handler writes on success, whose schema the document derives;
	// SameBody lists other statuses answered with that body; Errors lists error statuses
	// beyond those the route's shape implies (401/403/503 with a token, 404 with a path
	// variable, 413/415/422 with a body, 400 with parameters, 409 for writes).
	Response        any
	ResponseExample any
	SameBody        []int
	Errors          []int
	// Example is a request body that the route accepts.
	Example any
	// Links names the collection whose item the answer's id is ("datasets", "runs"):
	// the document links the answer to every operation on that item.
	Links string
}

// Handler builds the router.
func (s *Server) Handler() http.Handler {
	if s.MaxBody <= 0 {
		s.MaxBody = 1 << 20
	}
	s.metrics = newMetrics(s.Metrics)
	s.routes = s.table()
	// Paths are not cleaned: a '..' or '//' must reach the handler that refuses it, not
	// be redirected to another resource.
	r := mux.NewRouter().SkipClean(true)
	// mux does not run middleware for these, so they are wrapped here.
	r.NotFoundHandler = s.withRequestID(s.observe(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, req, errNoRoute)
	})))
	r.MethodNotAllowedHandler = s.withRequestID(s.observe(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, req, errNoMethod)
	})))
	r.Use(s.withRequestID, s.observe)
	for _, rt := range s.routes {
		h := rt.Handler
		switch {
		case rt.Public:
		case rt.Tag == "ui":
			h = s.authorizeWith(rt.Role, h, s.uiFail, true)
		case rt.Tag == "provena":
			h = s.authorizeWith(rt.Role, h, func(w http.ResponseWriter, r *http.Request, err error) { provenaError(w, r, err, nil) }, false)
		default:
			h = s.authorizeWith(rt.Role, h, writeError, cookieRoute(rt))
		}
		r.HandleFunc(rt.Path, h).Methods(rt.Method)
	}
	return r
}

// cookieRoute says whether a signed-in browser's cookie opens rt: only reads that any
// reader may make (records, lineage, PROV), so a browser signed in with an admin token
// does not carry an admin credential to the admin routes.
func cookieRoute(rt route) bool {
	return rt.Method == "GET" && rt.Role == auth.Reader
}

func (s *Server) table() []route {
	rs := []route{
		{Method: "GET", Path: "/healthz", Public: true, Summary: "The process is alive.", Tag: "operations", Handler: s.healthz,
			Response: healthBody{}, ResponseExample: healthBody{Status: "ok", Version: "1.0.0"}},
		{Method: "GET", Path: "/readyz", Public: true, Summary: "Neo4j answers and every constraint is in place; 503 (same body) when not.", Tag: "operations", Handler: s.readyz,
			Response: readyBody{}, SameBody: []int{http.StatusServiceUnavailable}, ResponseExample: readyBody{Status: "ready", Neo4j: "ok"}},
		{Method: "GET", Path: "/metrics", Role: auth.Reader, Summary: "Prometheus metrics.", Tag: "operations", Produces: []string{"text/plain"},
			Handler: promhttp.HandlerFor(s.Metrics, promhttp.HandlerOpts{}).ServeHTTP},
		// The document describes the API and reveals nothing stored, so it is open.
		{Method: "GET", Path: "/openapi.json", Public: true, Summary: "This document.", Tag: "operations", Handler: s.openapi, Response: map[string]any{}},
		{Method: "GET", Path: "/api/v1/schemas", Role: auth.Reader, Summary: "Names of the JSON Schemas that gate input.", Tag: "schemas", Handler: s.listSchemas,
			Response: schemaNames{}, ResponseExample: schemaNames{Schemas: []string{"dataset", "model-run", "run"}}},
		{Method: "GET", Path: "/api/v1/schemas/{kind}", Role: auth.Reader, Summary: "One JSON Schema (draft 2020-12).", Tag: "schemas", Handler: s.getSchema,
			Produces: []string{"application/schema+json"}},
	}
	rs = append(rs, s.modelRunRoutes()...)
	rs = append(rs, s.batchRoutes()...)
	rs = append(rs, s.csvRoutes()...)
	rs = append(rs, s.provenaRoutes()...)
	rs = append(rs, s.metricRoutes()...)
	rs = append(rs, s.artifactRoutes()...)
	rs = append(rs, s.runRoutes()...)
	rs = append(rs, s.lineageRoutes()...)
	rs = append(rs, s.cypherRoutes()...)
	rs = append(rs, s.accessRoutes()...)
	rs = append(rs, s.provRoutes()...)
	rs = append(rs, s.exportRoutes()...)
	rs = append(rs, s.uiRoutes()...)
	for _, k := range registry.Kinds() {
		rs = append(rs, s.entityRoutes(k)...)
	}
	return rs
}
