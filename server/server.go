// Package server is provgraph's HTTP adapter: routing, authentication, error mapping and
// encoding. Handlers decode, call one service method and encode; nothing else.
package server

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"provgraph/auth"
	"provgraph/compat"
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
	// Foreign wire APIs (compat/*), mounted beside the native one.
	Foreign []compat.API
	// CypherSlots bounds users' Cypher queries running at once, in total (default 4)
	// and per caller (default 2).
	CypherSlots, CypherSlotsPerCaller int
	Artifacts                         Artifacts
	Provenance                        Provenance
	Exporter                          Exporter
	BaseIRI                           string
	Schemas                           Schemas
	Health                            Health
	Auth                              auth.Authenticator
	Logger                            zerolog.Logger
	Metrics                           *prometheus.Registry
	MaxBody                           int64
	Version                           string
	// RequestTimeout bounds reading a request's body and writing its answer, from the
	// moment its headers are read; TransferTimeout does for routes that move bulk
	// (exports, artifacts, batches). Defaults: 30 s and 1 h.
	RequestTimeout  time.Duration
	TransferTimeout time.Duration

	metrics     metrics
	routes      []route
	cypherSlots *slots
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
	// Transfer routes move bulk, either way: TransferTimeout bounds them, not
	// RequestTimeout.
	Transfer bool
	// foreign routes belong to a foreign wire API (compat), which answers errors with
	// fail; the OpenAPI document leaves them out: their own specifications describe them.
	foreign bool
	fail    func(http.ResponseWriter, *http.Request, error)
	// tokenHeader is the foreign API's own token header (compat.API.TokenHeader).
	tokenHeader string
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
	if s.RequestTimeout <= 0 {
		s.RequestTimeout = DefaultRequestTimeout
	}
	if s.TransferTimeout <= 0 {
		s.TransferTimeout = DefaultTransferTimeout
	}
	s.metrics = newMetrics(s.Metrics)
	s.cypherSlots = newSlots(orDefault(s.CypherSlots, 4), orDefault(s.CypherSlotsPerCaller, 2))
	s.routes = s.table()
	// Paths are not cleaned: a '..' or '//' must reach the handler that refuses it, not
	// be redirected to another resource.
	r := mux.NewRouter().SkipClean(true)
	// mux does not run middleware for these, so they are wrapped here.
	r.NotFoundHandler = s.withRequestID(s.observe(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, req, errNoRoute)
	})))
	var routed []*mux.Route
	r.MethodNotAllowedHandler = s.withRequestID(s.observe(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		wrongPath(routed, w, req)
	})))
	r.Use(s.withRequestID, s.observe)
	for _, rt := range s.routes {
		h := rt.Handler
		fail := writeError
		switch {
		case rt.fail != nil:
			fail = rt.fail
		case rt.Tag == "ui":
			fail = s.uiFail
		case rt.Tag == "provena":
			fail = func(w http.ResponseWriter, r *http.Request, err error) { provenaError(w, r, err, nil) }
		}
		if rt.takesJSON() {
			h = jsonBody(h, fail)
		}
		switch {
		case rt.Public:
		case rt.Tag == "ui":
			h = s.authorizeWith(rt.Role, h, fail, true)
		case rt.Tag == "provena" || rt.foreign:
			h = s.authorizeWith(rt.Role, h, fail, false)
		default:
			h = s.authorizeWith(rt.Role, h, fail, cookieRoute(rt))
		}
		if rt.tokenHeader != "" {
			h = tokenFrom(rt.tokenHeader, h)
		}
		if strings.Contains(rt.Path, "{id:") && !rt.foreign { // a foreign API says "not found" in its own shape
			h = wellFormedID(h, &routed)
		}
		routed = append(routed, r.HandleFunc(rt.Path, s.withDeadlines(h, rt.Transfer)).Methods(rt.Method))
	}
	return r
}

// tokenFrom takes the token a foreign client sends in its own header as the bearer
// token, unless the request names one in Authorization.
func tokenFrom(header string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if v := strings.TrimSpace(r.Header.Get(header)); v != "" && r.Header.Get("Authorization") == "" {
			r.Header.Set("Authorization", "Bearer "+v)
		}
		next(w, r)
	}
}

// wellFormedID answers a path whose id no record or run can have as no route at all, before
// anything else: the id patterns let ids hold slashes, so such a path may have matched
// this route with part of another route's path in its id (DELETE /runs/<id>/events
// matches DELETE /runs/{id} with id "<id>/events").
func wellFormedID(next http.HandlerFunc, routed *[]*mux.Route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !registry.ValidID(mux.Vars(r)["id"]) {
			wrongPath(*routed, w, r)
			return
		}
		next(w, r)
	}
}

// wrongPath answers a request no route serves: 405, naming the methods that are
// allowed, when another method has a route for this path with a well-formed id; else 404.
func wrongPath(routes []*mux.Route, w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, rt := range routes {
		methods, _ := rt.GetMethods()
		for _, m := range methods {
			if m == r.Method || slices.Contains(allow, m) {
				continue
			}
			other := r.Clone(r.Context())
			other.Method = m
			var match mux.RouteMatch
			if !rt.Match(other, &match) {
				continue
			}
			if id, ok := match.Vars["id"]; ok && !registry.ValidID(id) {
				continue
			}
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		writeError(w, r, errNoRoute)
		return
	}
	slices.Sort(allow)
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeError(w, r, errNoMethod)
}

// Default deadlines of a request (see Server.RequestTimeout).
const (
	DefaultRequestTimeout  = 30 * time.Second
	DefaultTransferTimeout = time.Hour
)

// withDeadlines bounds how long the request's body may take to arrive (the timeout) and
// its answer to be made and leave (the timeout again, after that), so that a client
// trickling a body or not reading an answer holds a connection and a goroutine only so
// long. The http.Server's own timeouts are the short ones, for what no route matches.
func (s *Server) withDeadlines(next http.HandlerFunc, transfer bool) http.HandlerFunc {
	d := s.RequestTimeout
	if transfer {
		d = s.TransferTimeout
	}
	return func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		read := time.Now().Add(d)
		// Not every ResponseWriter has a connection (tests' recorders): then there is
		// nothing to bound.
		_ = rc.SetReadDeadline(read)
		_ = rc.SetWriteDeadline(read.Add(d))
		if !transfer {
			// The work is bounded too, not only the connection: a database that takes
			// connections but does not answer (Neo4j recovering after a crash) is the
			// caller's 503 when the time is up, not a request that waits as long as it does.
			ctx, cancel := context.WithDeadline(r.Context(), read)
			defer cancel()
			r = r.WithContext(ctx)
		}
		next(w, r)
	}
}

// takesJSON says whether the route's body is JSON (a named schema or an inline one).
func (rt route) takesJSON() bool {
	return rt.Request != "" || (rt.Body != nil && rt.BodyType == "")
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
	for _, api := range s.Foreign {
		for _, f := range api.Routes {
			h := f.Handler
			if !f.Transfer {
				h = s.bounded(h)
			}
			rs = append(rs, route{Method: f.Method, Path: f.Path, Role: f.Role, Public: f.Public, Summary: f.Summary, Tag: api.Name,
				Handler: h, Transfer: f.Transfer, foreign: true, fail: api.Fail, tokenHeader: api.TokenHeader})
		}
	}
	return rs
}

func orDefault(n, d int) int {
	if n <= 0 {
		return d
	}
	return n
}

// bounded holds a foreign route's body to MaxBody, as readBody does for native routes
// (a transfer route's handler bounds its own).
func (s *Server) bounded(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.MaxBody)
		}
		h(w, r)
	}
}
