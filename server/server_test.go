package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"provgraph"
	"provgraph/auth"
	"provgraph/registry"
	"provgraph/schemas"
)

// fakeRegistry is a registry of functions; unset ones answer not found.
type fakeRegistry struct {
	create func(k registry.Kind, raw []byte, a registry.Actor, key string) (registry.Record, error)
}

func (f fakeRegistry) Create(_ context.Context, k registry.Kind, raw []byte, a registry.Actor, key string) (registry.Record, error) {
	if f.create != nil {
		return f.create(k, raw, a, key)
	}
	return registry.Record{}, provgraph.Errorf(provgraph.NotFound, "nothing")
}
func (fakeRegistry) Update(context.Context, registry.Kind, string, []byte, registry.Actor, string) (registry.Record, error) {
	return registry.Record{}, provgraph.Errorf(provgraph.Unavailable, "database away")
}
func (fakeRegistry) Get(context.Context, registry.Kind, string, int, registry.Viewer) (registry.Record, error) {
	return registry.Record{}, provgraph.Errorf(provgraph.NotFound, "nothing")
}
func (fakeRegistry) History(context.Context, registry.Kind, string, registry.Viewer) ([]registry.Record, error) {
	return nil, provgraph.Errorf(provgraph.NotFound, "nothing")
}
func (fakeRegistry) List(context.Context, registry.ListQuery) (registry.Page, error) {
	return registry.Page{Records: []registry.Record{}}, nil
}
func (fakeRegistry) Delete(context.Context, registry.Kind, string, registry.Actor, string) error {
	return provgraph.Errorf(provgraph.Conflict, "depended on")
}

type fakeHealth struct{ err error }

func (f fakeHealth) Ping(context.Context) error                { return f.err }
func (f fakeHealth) SchemaReady(context.Context) (bool, error) { return f.err == nil, f.err }

const (
	readerToken = "reader-token-0123456789"
	writerToken = "writer-token-0123456789"
	adminToken  = "admin-token-01234567890"
)

func mustServer(t *testing.T, reg Registry, health Health) (*Server, http.Handler) {
	t.Helper()
	sch, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		Registry: reg, Schemas: sch, Health: health,
		Auth: auth.Chain(auth.Static(readerToken, auth.Reader, "t:reader"), auth.Static(writerToken, auth.Writer, "t:writer"),
			auth.Static(adminToken, auth.Admin, "t:admin")),
		Logger: zerolog.New(io.Discard), Metrics: prometheus.NewRegistry(), MaxBody: 2048, Version: "test",
	}
	return s, s.Handler()
}

func do(h http.Handler, method, path, token, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func decodeError(t *testing.T, w *httptest.ResponseRecorder) errorDetail {
	t.Helper()
	var b errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatalf("error body %q: %v", w.Body.String(), err)
	}
	if b.Error.RequestID == "" || b.Error.Message == "" || w.Header().Get("X-Request-Id") != b.Error.RequestID {
		t.Fatalf("error body lacks message or request id: %s", w.Body.String())
	}
	return b.Error
}

func TestAuthAndRoles(t *testing.T) {
	created := 0
	_, h := mustServer(t, fakeRegistry{create: func(k registry.Kind, raw []byte, a registry.Actor, key string) (registry.Record, error) {
		created++
		return registry.Record{ID: "x/01J0000000000000000000000A", Kind: k.Name}, nil
	}}, fakeHealth{})
	study := `{"title":"t","description":"d"}`
	tests := []struct {
		name, method, path, token, body string
		want                            int
		code                            provgraph.Code
	}{
		{"health is open", "GET", "/healthz", "", "", 200, ""},
		{"readiness is open", "GET", "/readyz", "", "", 200, ""},
		{"no token", "GET", "/api/v1/studies", "", "", 401, provgraph.Unauthorized},
		{"bad token", "GET", "/api/v1/studies", "nope-nope-nope-nope", "", 401, provgraph.Unauthorized},
		{"metrics need a token", "GET", "/metrics", "", "", 401, provgraph.Unauthorized},
		{"openapi is open: it describes, it does not reveal", "GET", "/openapi.json", "", "", 200, ""},
		{"reader reads", "GET", "/api/v1/studies", readerToken, "", 200, ""},
		{"reader cannot write", "POST", "/api/v1/studies", readerToken, study, 403, provgraph.Forbidden},
		{"reader cannot delete", "DELETE", "/api/v1/studies/x/01J0000000000000000000000A", readerToken, "", 403, provgraph.Forbidden},
		{"writer writes", "POST", "/api/v1/studies", writerToken, study, 201, ""},
		{"admin writes", "POST", "/api/v1/studies", adminToken, study, 201, ""},
		{"unknown route", "GET", "/api/v1/nothing", readerToken, "", 404, provgraph.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(h, tt.method, tt.path, tt.token, tt.body)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body.String())
			}
			if tt.code != "" {
				if got := decodeError(t, w).Code; got != tt.code {
					t.Fatalf("code %s, want %s", got, tt.code)
				}
			}
			if tt.want == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
	if created != 2 {
		t.Fatalf("%d creates reached the registry, want 2", created)
	}
}

func TestErrorMapping(t *testing.T) {
	_, h := mustServer(t, fakeRegistry{}, fakeHealth{err: provgraph.Errorf(provgraph.Unavailable, "away")})
	w := do(h, "PUT", "/api/v1/studies/x/01J0000000000000000000000A?reason=r", writerToken, `{"title":"t","description":"d"}`)
	if w.Code != 503 || w.Header().Get("Retry-After") == "" || decodeError(t, w).Code != provgraph.Unavailable {
		t.Fatalf("unavailable: %d %v %s", w.Code, w.Header(), w.Body)
	}
	w = do(h, "DELETE", "/api/v1/studies/x/01J0000000000000000000000A", writerToken, "")
	if w.Code != 409 || decodeError(t, w).Code != provgraph.Conflict {
		t.Fatalf("conflict: %d %s", w.Code, w.Body)
	}
	w = do(h, "POST", "/api/v1/studies", writerToken, `{"title":"`+strings.Repeat("x", 4096)+`"}`)
	if w.Code != 413 {
		t.Fatalf("oversize body: %d %s", w.Code, w.Body)
	}
	w = do(h, "GET", "/readyz", "", "")
	if w.Code != 503 {
		t.Fatalf("readyz with database away: %d", w.Code)
	}
	w = do(h, "GET", "/api/v1/studies?page_size=0", readerToken, "")
	if e := decodeError(t, w); w.Code != 400 || len(e.Fields) != 1 || e.Fields[0].Path != "page_size" {
		t.Fatalf("bad page size: %d %s", w.Code, w.Body)
	}
	w = do(h, "GET", "/api/v1/studies/x/01J0000000000000000000000A?version=zero", readerToken, "")
	if w.Code != 400 {
		t.Fatalf("bad version: %d %s", w.Code, w.Body)
	}
}

func TestSchemasServed(t *testing.T) {
	_, h := mustServer(t, fakeRegistry{}, fakeHealth{})
	w := do(h, "GET", "/api/v1/schemas/workflow-template", readerToken, "")
	var doc map[string]any
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &doc) != nil || doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Fatalf("schema: %d %s", w.Code, w.Body)
	}
	if w := do(h, "GET", "/api/v1/schemas/nothing", readerToken, ""); w.Code != 404 {
		t.Fatalf("unknown schema: %d", w.Code)
	}
}

// TestOpenAPIMatchesRouter walks the router and the document: every route is described
// and every description is routed.
func TestOpenAPIMatchesRouter(t *testing.T) {
	s, h := mustServer(t, fakeRegistry{}, fakeHealth{})
	var routed []string
	err := h.(*mux.Router).Walk(func(r *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tmpl, err := r.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := r.GetMethods()
		if err != nil {
			return err
		}
		for _, m := range methods {
			routed = append(routed, strings.ToLower(m)+" "+openAPIPath(tmpl))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	w := do(h, "GET", "/openapi.json", readerToken, "")
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi: %v %q", err, doc.OpenAPI)
	}
	var described []string
	for p, ops := range doc.Paths {
		for m := range ops {
			described = append(described, m+" "+p)
		}
	}
	slices.Sort(routed)
	slices.Sort(described)
	if !slices.Equal(routed, described) {
		t.Fatalf("router and OpenAPI differ:\nrouted    %v\ndescribed %v", routed, described)
	}
	if len(routed) < 6+7*6 {
		t.Fatalf("only %d routes", len(routed))
	}
	_ = s
}

func TestMetricsByRouteTemplate(t *testing.T) {
	_, h := mustServer(t, fakeRegistry{}, fakeHealth{})
	do(h, "GET", "/api/v1/studies/x/01J0000000000000000000000A", readerToken, "")
	w := do(h, "GET", "/metrics", readerToken, "")
	body := w.Body.String()
	if !strings.Contains(body, `route="/api/v1/studies/`+idPattern+`"`) || strings.Contains(body, "01J0000000000000000000000A") {
		t.Fatalf("metrics not labelled by template:\n%s", body)
	}
}

func TestAccessLogNamesRequestAndCaller(t *testing.T) {
	var buf strings.Builder
	s, _ := mustServer(t, fakeRegistry{}, fakeHealth{})
	s.Logger = zerolog.New(&buf)
	s.Metrics = prometheus.NewRegistry()
	h := s.Handler()
	w := do(h, "GET", "/api/v1/studies", readerToken, "")
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(buf.String())), &line); err != nil {
		t.Fatalf("log %q: %v", buf.String(), err)
	}
	if line["request_id"] != w.Header().Get("X-Request-Id") || line["subject"] != "t:reader" || line["route"] != "/api/v1/studies" {
		t.Fatalf("access line %v", line)
	}
	if strings.Contains(buf.String(), readerToken) {
		t.Fatal("token in the log")
	}
}
